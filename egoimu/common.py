"""The ground floor both sides share that is not part of the manifests contract: file hashing and atomic writes.

Standard library only; imports no side (``egoimu.pipeline``, ``egoimu.train``, ``egoimu.manifests``), so
every layer may import it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HASH_CHUNK = 4 << 20  # bytes read at a time when hashing a file (bounded memory)


def sha256_file(path: str | Path, chunk: int = HASH_CHUNK) -> str:
    """Hex sha256 (64 characters) of a file's bytes, read ``chunk`` bytes at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------- atomic writes


def temp_path(path: str | Path) -> Path:
    """A fresh hidden temporary name beside ``path``: ``.NAME.<pid>-<random>.tmp`` (same folder, so
    ``os.replace`` onto ``path`` is atomic; unique per call, so concurrent writers never share one)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for the caller to write; on a normal exit it is moved onto
    ``path`` with ``os.replace`` (readers see the old file or the whole new one, never a partial one); on
    an exception ``path`` is untouched. The temporary file never outlives the block."""
    tmp = temp_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> None:
    """``write(tmp)`` to a temporary file beside ``path``, then ``os.replace`` it onto ``path``."""
    with atomic_path(path) as tmp:
        write(tmp)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically, as is (no newline translation)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding=encoding, newline="") as fh:
        fh.write(text)
