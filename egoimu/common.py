"""The ground floor both sides share that is not part of the manifests contract: file hashing.

Standard library only; imports no side (``egoimu.pipeline``, ``egoimu.train``, ``egoimu.manifests``), so
every layer may import it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

HASH_CHUNK = 4 << 20  # bytes read at a time when hashing a file (bounded memory)


def sha256_file(path: str | Path, chunk: int = HASH_CHUNK) -> str:
    """Hex sha256 (64 characters) of a file's bytes, read ``chunk`` bytes at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
