"""egoimu.common: the ground floor every layer imports (file sha256, atomic writes, allocator tuning)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from egoimu.common import atomic_path, atomic_write, atomic_write_text, set_mmap_threshold, sha256_file, trim_heap


def test_sha256_file_reads_in_chunks(tmp_path):
    data = bytes(range(256)) * 1000
    (tmp_path / "f").write_bytes(data)
    assert sha256_file(tmp_path / "f", chunk=1000) == sha256_file(tmp_path / "f") == hashlib.sha256(data).hexdigest()


def test_atomic_writes_replace_or_leave_the_old_file(tmp_path):
    path = tmp_path / "a.json"
    atomic_write_text(path, "one\r\n")
    assert path.read_bytes() == b"one\r\n"  # as is: no newline translation
    atomic_write(path, lambda tmp: tmp.write_bytes(b"two"))
    assert path.read_bytes() == b"two"
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError("writer failed")
    assert path.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]  # no temporary file left


def test_allocator_tuning_is_best_effort():
    set_mmap_threshold()
    trim_heap()


def test_imports_no_side():
    code = "import json, sys, egoimu.common; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert not {m for m in loaded if m.startswith(("egoimu.pipeline", "egoimu.train", "egoimu.manifests"))}
    assert not loaded & {"numpy", "torch", "dask", "pandas", "h5py"}
