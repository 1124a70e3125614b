"""The ground floor both sides share that is not part of the manifests contract: file hashing, atomic writes
and glibc allocator tuning.

Standard library only; imports no side (``egoimu.pipeline``, ``egoimu.train``, ``egoimu.manifests``), so
every layer may import it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
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


# ---------------------------------------------------------------- glibc allocator

_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter


@functools.lru_cache(maxsize=1)
def _libc() -> Any:
    """The C library, or None where it cannot be loaded."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def set_mmap_threshold(nbytes: int = 1 << 20) -> None:
    """glibc ``mallopt(M_MMAP_THRESHOLD, nbytes)``: serve every allocation of ``nbytes`` or more by mmap
    (returned to the OS on free). glibc otherwise raises its threshold after each large free, so
    batch-sized buffers land on the heap and the resident size ratchets up epoch after epoch. No-op where
    mallopt does not exist."""
    lib = _libc()
    if lib is not None and hasattr(lib, "mallopt"):
        lib.mallopt(_M_MMAP_THRESHOLD, nbytes)


def trim_heap() -> None:
    """glibc ``malloc_trim(0)``: return freed heap pages to the OS, best effort. Without it glibc keeps
    freed arenas, so a process's resident size carries an earlier peak (a pipeline worker's probe of whole
    IMU streams, a training epoch's batches) into all later work. No-op where malloc_trim does not exist."""
    lib = _libc()
    if lib is not None and hasattr(lib, "malloc_trim"):
        lib.malloc_trim(0)
