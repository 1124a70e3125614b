"""Process memory tuning both sides use, written once: glibc's mmap threshold and heap trimming.

glibc serves large allocations by ``mmap`` (returned to the OS on ``free``) only up to a threshold that it
raises after each large free; from then on batch- or video-sized buffers land on the heap, and the resident
size ratchets up with every epoch (trainer) or task (pipeline worker). Two remedies, best effort (no-ops on
other C libraries):

- :func:`set_mmap_threshold` pins the threshold at :data:`MMAP_THRESHOLD_BYTES` in this process (the
  trainer). A Dask worker gets the same value through its environment (``MALLOC_MMAP_THRESHOLD_``, which
  ``egoimu.pipeline.graph`` sets from :data:`MMAP_THRESHOLD_BYTES`), since glibc reads it at start-up.
- :func:`trim_heap` (``malloc_trim(0)``) returns freed heap pages to the OS after a phase whose buffers are
  gone (a trainer epoch, a probed video, a shard's IMU windows).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any

#: Allocations of this many bytes or more are served by mmap (1 MiB; glibc's default starts at 128 KiB and
#: floats up to 32 MiB). Both the trainer (:func:`set_mmap_threshold`) and the pipeline's workers (the
#: ``MALLOC_MMAP_THRESHOLD_`` environment variable) use this value.
MMAP_THRESHOLD_BYTES = 1 << 20
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number


@functools.lru_cache(maxsize=1)
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def set_mmap_threshold(nbytes: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Serve every allocation of ``nbytes`` or more by mmap from now on (glibc ``mallopt``); True when the
    C library took it, False where it has no ``mallopt`` or refused the value."""
    lib = _libc()
    if lib is None or not hasattr(lib, "mallopt"):
        return False
    return bool(lib.mallopt(_M_MMAP_THRESHOLD, int(nbytes)))


def trim_heap() -> bool:
    """Return free heap pages to the OS (glibc ``malloc_trim(0)``); True when memory was released, False
    when none was or the C library has no ``malloc_trim``."""
    lib = _libc()
    if lib is None or not hasattr(lib, "malloc_trim"):
        return False
    return bool(lib.malloc_trim(0))
