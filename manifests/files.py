"""File facts both sides rely on, written once: a file's sha256, atomic writes and their temporary names.

:func:`sha256_file` gives the hashes of ``shards.csv``, ``recordings.csv`` and the result files;
:func:`atomic_write` / :func:`atomic_write_text` put a file in place only once it is whole (a temporary file
beside the target, then ``os.replace``), so a reader or a ``--resume`` never sees half a file.

Every temporary file egoimu writes is named by :func:`temp_path`: ``.NAME.<pid>-<8 hex>.tmp`` beside its
target ``NAME``. :func:`is_temp_name` recognises that naming (and the former ones, :data:`TEMP_NAME`), so
that a finished build, a ``--resume`` or a trainer's start can remove what an interrupted run left
(:func:`remove_temp_files`) without touching any other file, and :func:`temp_target` names the file a
temporary one was for, so that the audit can report a leftover.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

HASH_BLOCK = 8 << 20  # bytes per read when hashing (bounded memory for multi-GB files)
#: :func:`temp_path`'s names, and the former ones an older run may have left: the shard writer's
#: ``.NAME.<12 hex>.tmp[.compact]`` and the checkpoint writer's ``.NAME.tmp-<pid>``; ``target`` is NAME.
TEMP_NAME = re.compile(r"\.(?P<target>.+?)\.(?:(?:\d+-[0-9a-f]{8}|[0-9a-f]{12})\.tmp(?:\.compact)?|tmp-\d+)")


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


def is_temp_name(name: str) -> bool:
    """Whether a file name is one of egoimu's temporary files (:data:`TEMP_NAME`)."""
    return TEMP_NAME.fullmatch(name) is not None


def remove_temp_files(folder: str | os.PathLike[str], recursive: bool = False) -> list[Path]:
    """Delete egoimu's temporary files in ``folder`` (and its subfolders with ``recursive``); other files are
    left alone. Returns the paths removed, sorted ([] when ``folder`` does not exist)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = sorted(p for p in (folder.rglob(".*") if recursive else folder.glob(".*"))
                   if is_temp_name(p.name) and p.is_file() and not p.is_symlink())
    for path in found:
        path.unlink(missing_ok=True)
    return found


def temp_target(name: str) -> str | None:
    """The name of the file that the temporary file ``name`` was written for (:data:`TEMP_NAME`; a temporary
    file of a temporary file, such as the shard writer's compacted copy, names the final file), else None."""
    target = None
    while m := TEMP_NAME.fullmatch(name):
        target = name = m["target"]
    return target


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], Any]) -> None:
    """``write(tmp)`` to :func:`temp_path` beside ``path``, then ``os.replace`` it onto ``path``; the
    temporary file is removed if ``write`` fails. An OSError about the temporary file (a read-only folder, a
    full disk) is raised naming ``path``."""
    path = Path(path)
    tmp = temp_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        if exc.filename in (tmp, str(tmp)) or exc.filename is None:
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise
    finally:
        with contextlib.suppress(OSError):  # e.g. a read-only folder, where even removing what is not there fails
            tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """:func:`atomic_write` of ``text`` as UTF-8 with the newlines as given."""

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)

    atomic_write(path, write)


def load_yaml_file(path: str | Path) -> Any:
    """The content of a YAML (or JSON, a subset) config file (None for an empty one); ValueError naming the file
    when it is missing or not valid YAML. Callers check the shape they need."""
    import yaml  # PyYAML: a base dependency, imported where a config is read

    path = Path(path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: config file not found") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML/JSON: {' '.join(str(exc).split())}") from None  # one line
