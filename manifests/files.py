"""File facts both sides rely on, written once: a file's sha256 and atomic writes.

:func:`sha256_file` gives the hashes of ``shards.csv``, ``recordings.csv`` and the result files;
:func:`atomic_write` / :func:`atomic_write_text` put a file in place only once it is whole (a temporary file
beside the target, then ``os.replace``), so a reader or a ``--resume`` never sees half a file.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

HASH_BLOCK = 8 << 20  # bytes per read when hashing (bounded memory for multi-GB files)


def sha256_file(path: str | os.PathLike[str], block: int = HASH_BLOCK) -> str:
    """sha256 (64 lower-case hex digits) of a file's bytes, read ``block`` bytes at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], Any]) -> None:
    """``write(tmp)`` to a temporary file beside ``path`` (unique per process and call), then ``os.replace``
    it onto ``path``; the temporary file is removed if ``write`` fails."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
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
