"""File facts both sides rely on, written once: a file's sha256, atomic writes and their temporary names.

:func:`sha256_file` gives the hashes of ``shards.csv``, ``recordings.csv`` and the result files;
:func:`atomic_write` / :func:`atomic_write_text` put a file in place only once it is whole (a temporary file
beside the target, then ``os.replace``), so a reader or a ``--resume`` never sees half a file. Every temporary
file egoimu writes is named by :func:`temp_path` (``.NAME.<pid>-<8 hex>.tmp`` beside ``NAME``);
:func:`temp_target` recognises one (and the older shard-writer names) so that the audit can report a leftover.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

HASH_BLOCK = 8 << 20  # bytes per read when hashing (bounded memory for multi-GB files)
#: A temporary file's name: ``.NAME.<pid>-<8 hex>.tmp`` (:func:`temp_path`); also the shard writer's earlier
#: ``.NAME.<12 hex>.tmp`` and its ``.tmp.compact`` rewrite, which an older interrupted build may have left.
TEMP_NAME = re.compile(r"\.(?P<target>.+?)\.(?:\d+-[0-9a-f]{8}|[0-9a-f]{12})\.tmp(?:\.compact)?")


def sha256_file(path: str | os.PathLike[str], block: int = HASH_BLOCK) -> str:
    """sha256 (64 lower-case hex digits) of a file's bytes, read ``block`` bytes at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def temp_path(path: str | os.PathLike[str]) -> Path:
    """A fresh temporary name beside ``path``: ``.NAME.<pid>-<8 hex>.tmp`` (unique per process and call)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")


def temp_target(name: str) -> str | None:
    """The name of the file that the temporary file ``name`` was written for (:data:`TEMP_NAME`; a temporary
    file of a temporary file, such as the shard writer's compacted copy, names the final file), else None."""
    target = None
    while m := TEMP_NAME.fullmatch(name):
        target = name = m["target"]
    return target


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], Any]) -> None:
    """``write(tmp)`` to a temporary file beside ``path`` (:func:`temp_path`), then ``os.replace`` it onto
    ``path``; the temporary file is removed if ``write`` fails."""
    path = Path(path)
    tmp = temp_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """:func:`atomic_write` of ``text`` as UTF-8 with the newlines as given."""

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)

    atomic_write(path, write)
