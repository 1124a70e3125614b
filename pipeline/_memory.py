"""Give freed heap memory back to the operating system (glibc ``malloc_trim``), best effort.

A worker process probes a video (whole IMU streams in memory) and then builds shards; without a trim,
glibc keeps the freed arenas and the worker's resident size carries the probe's peak into every later
task. On other C libraries this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.lru_cache(maxsize=1)
def _libc():
    name = ctypes.util.find_library("c")
    try:
        lib = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return lib if lib is not None and hasattr(lib, "malloc_trim") else None


def trim() -> None:
    """Return free heap pages to the OS (no-op where ``malloc_trim`` does not exist)."""
    lib = _libc()
    if lib is not None:
        lib.malloc_trim(0)

