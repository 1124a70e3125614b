"""egoimu.manifests.memory: the mmap threshold really changes where glibc puts a large block; trimming runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

#: In a fresh interpreter: malloc + free 8 MiB (glibc then raises its dynamic mmap threshold above 8 MiB), then
#: malloc 2 MiB and report how many bytes glibc holds in mmapped blocks (mallinfo2().hblkhd) before and after.
PROBE = """
import ctypes, json, sys
from egoimu.manifests import memory
libc = ctypes.CDLL(None)
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = Info
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
took = memory.set_mmap_threshold() if sys.argv[1] == "set" else None
libc.free(libc.malloc(8 << 20))
before = libc.mallinfo2().hblkhd
block = libc.malloc(2 << 20)
after = libc.mallinfo2().hblkhd
libc.free(block)
print(json.dumps({"took": took, "mmapped": after - before, "trim": memory.trim_heap()}))
"""


def _probe(mode: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}  # glibc's defaults
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_the_threshold_puts_large_blocks_in_mmap_after_a_large_free():
    default, pinned = _probe("default"), _probe("set")
    assert default["mmapped"] == 0  # glibc raised its threshold: the 2 MiB block went to the heap
    assert pinned["took"] is True
    assert pinned["mmapped"] >= 2 << 20  # pinned at 1 MiB: mmapped, so it goes back to the OS when freed
    assert isinstance(pinned["trim"], bool)
