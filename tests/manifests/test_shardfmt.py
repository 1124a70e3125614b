"""The HDF5 shard layout: round trips per encoding, byte-identical rewrites, Fletcher32, attribute checks."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from egoimu.manifests import shardfmt as sf
from egoimu.manifests.geometry import ClipGeometry

ATTRS = {"config_sha256": "ab" * 32, "split": "train", "shard_index": 3, "egoimu_version": "0.1.0"}
SMALL = dict(geometry=ClipGeometry(fps=2, frame_size=16))  # 2 s: 4 frames of 16², 396 IMU samples


def _record(rng: np.random.Generator, layout: sf.ShardLayout, i: int) -> dict:
    rec = {
        "imu": rng.normal(size=(layout.geometry.imu_len, 6)),
        "spec": rng.normal(size=(6, layout.geometry.spec_bins, layout.geometry.spec_frames)).astype(np.float32),
        "verb_class": i, "noun_class": -1, "clip_id": f"P01_101_{i}_s", "narration_id": f"P01_101_{i}",
        "participant_id": "P01", "video_id": "P01_101", "start_s": 1.5 + i, "end_s": 3.5 + i,
    }
    if layout.encoding == "jpeg":
        rec["video_jpeg_frames"] = [rng.integers(0, 256, 5 + k + i, dtype=np.uint8).tobytes()
                                    for k in range(layout.geometry.frames)]
    else:
        g = layout.geometry
        rec["video"] = rng.integers(0, 256, (g.frames, g.frame_size, g.frame_size, 3), dtype=np.uint8)
    return rec


def _write(path: Path, layout: sf.ShardLayout, n: int = 3, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    records = [_record(rng, layout, i) for i in range(n)]
    with sf.new_shard_file(path) as f:
        sf.create_shard(f, layout, n, ATTRS)
        for i, rec in enumerate(records):
            sf.write_clip(f, i, rec)
    return records


def test_paper_layout_shapes() -> None:
    layout = sf.ShardLayout()
    shapes = layout.shapes(5)
    assert shapes["video"] == (5, 48, 256, 256, 3)
    assert shapes["imu"] == (5, 396, 6)
    assert shapes["spec"] == (5, 6, 33, 50)
    assert shapes["verb_class"] == (5,) and layout.dtypes()["verb_class"] == np.int32
    assert layout.dtypes()["clip_id"] == np.dtype("S64")
    jpeg = sf.ShardLayout(encoding="jpeg", jpeg_len=1000).shapes(2)
    assert jpeg["video_jpeg"] == (2, 1000) and jpeg["video_jpeg_offsets"] == (2, 49) and "video" not in jpeg
    with pytest.raises(ValueError, match="jpeg_len"):
        sf.ShardLayout(encoding="jpeg")
    with pytest.raises(ValueError, match="encoding"):
        sf.ShardLayout(encoding="png")


@pytest.mark.parametrize("encoding", ["raw", "lossless", "jpeg"])
def test_round_trip(tmp_path: Path, encoding: str) -> None:
    layout = sf.ShardLayout(encoding=encoding, jpeg_len=200 if encoding == "jpeg" else 0, **SMALL)
    path = tmp_path / "s.h5"
    records = _write(path, layout)
    with h5py.File(path, "r") as f:
        got_layout, n = sf.validate_shard(f, path)
        assert (got_layout, n) == (layout, 3)
        assert f.attrs["video_encoding"] == encoding and int(f.attrs["schema_version"]) == sf.SCHEMA_VERSION
        assert all(f[name].fletcher32 for name in f)
        if encoding != "jpeg":
            assert (f["video"].compression == "gzip") == (encoding == "lossless")
        for i, rec in enumerate(records):
            clip = sf.read_clip(f, i)
            if encoding == "jpeg":
                assert sf.split_jpeg_frames(clip["video_jpeg"], clip["video_jpeg_offsets"]) == rec["video_jpeg_frames"]
                assert clip["video_jpeg_offsets"].shape == (layout.geometry.frames + 1,)
            else:
                np.testing.assert_array_equal(clip["video"], rec["video"])
            np.testing.assert_array_equal(clip["imu"], rec["imu"].astype(np.float32))
            assert clip["imu"].dtype == np.float32 and clip["spec"].shape == (6, 33, 50)
            assert (clip["verb_class"], clip["noun_class"], clip["clip_id"], clip["participant_id"]) == (
                i, -1, rec["clip_id"], "P01")
            assert (clip["start_s"], clip["end_s"]) == (rec["start_s"], rec["end_s"])


def test_full_size_clip(tmp_path: Path) -> None:
    path = tmp_path / "full.h5"
    records = _write(path, sf.ShardLayout(encoding="lossless"), n=1)
    with h5py.File(path, "r") as f:
        assert f["video"].chunks == (1, 48, 256, 256, 3)
        np.testing.assert_array_equal(sf.read_clip(f, 0)["video"], records[0]["video"])


def test_same_content_gives_identical_bytes(tmp_path: Path) -> None:
    layout = sf.ShardLayout(encoding="lossless", **SMALL)
    _write(tmp_path / "a.h5", layout)
    time.sleep(1.1)  # HDF5 object times have one-second resolution
    _write(tmp_path / "b.h5", layout)
    digest = [hashlib.sha256((tmp_path / n).read_bytes()).hexdigest() for n in ("a.h5", "b.h5")]
    assert digest[0] == digest[1]


def test_bytes_do_not_depend_on_when_dataset_handles_close(tmp_path: Path) -> None:
    """The chunk placement must follow the writes, not the closing of h5py handles (which depends on when
    Python frees them): here every dataset handle is held open across the writes and closed in reverse
    order. With HDF5's default chunk cache this placed the small chunks differently (seen in ~1 of 20
    builds); without the cache the bytes are the same as a plain write."""
    layout = sf.ShardLayout(encoding="raw", **SMALL)
    records = _write(tmp_path / "plain.h5", layout, n=4)
    with sf.new_shard_file(tmp_path / "held.h5") as f:
        sf.create_shard(f, layout, 4, ATTRS)
        held = [f[name] for name in sorted(f)]
        for i, rec in enumerate(records):
            sf.write_clip(f, i, rec, sf.validate_shard_attrs(f, "held"))
        while held:
            held.pop().id.close()
    digest = [hashlib.sha256((tmp_path / n).read_bytes()).hexdigest() for n in ("plain.h5", "held.h5")]
    assert digest[0] == digest[1]


@pytest.mark.parametrize("dataset", ["imu", "video", "clip_id"])
def test_corrupt_chunk_is_reported_with_dataset_and_row(tmp_path: Path, dataset: str) -> None:
    path = tmp_path / "s.h5"
    _write(path, sf.ShardLayout(**SMALL))
    with h5py.File(path, "r") as f:
        dset = f[dataset]
        info = dset.id.get_chunk_info_by_coord((1,) + (0,) * (dset.ndim - 1))
    data = bytearray(path.read_bytes())
    data[info.byte_offset + info.size // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with h5py.File(path, "r") as f:
        sf.read_clip(f, 0)  # other rows still read
        sf.read_clip(f, 2)
        with pytest.raises(sf.ShardFormatError) as err:
            sf.read_clip(f, 1)
    assert (err.value.dataset, err.value.row, err.value.path) == (dataset, 1, str(path))
    assert str(path) in str(err.value) and "checksum" in str(err.value)


def test_attribute_errors_name_file_and_attribute(tmp_path: Path) -> None:
    path = tmp_path / "s.h5"
    _write(path, sf.ShardLayout(**SMALL), n=1)
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = 99
    with h5py.File(path, "r") as f, pytest.raises(sf.ShardFormatError, match="schema version mismatch") as err:
        sf.validate_shard_attrs(f, path)
    assert err.value.attribute == "schema_version" and str(path) in str(err.value)
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = sf.SCHEMA_VERSION
        del f.attrs["nfft"]
    with h5py.File(path, "r") as f, pytest.raises(sf.ShardFormatError, match="missing attribute") as err:
        sf.validate_shard_attrs(f, path)
    assert err.value.attribute == "nfft"
    with h5py.File(path, "r+") as f:
        f.attrs["nfft"] = 64
        f.attrs["egoimu_version"] = "/home/me/egoimu"
    with h5py.File(path, "r") as f, pytest.raises(sf.ShardFormatError, match="absolute path"):
        sf.validate_shard_attrs(f, path)


def test_create_shard_refuses_bad_input(tmp_path: Path) -> None:
    layout = sf.ShardLayout(**SMALL)
    with sf.new_shard_file(tmp_path / "a.h5") as f:
        with pytest.raises(sf.ShardFormatError, match="split"):
            sf.create_shard(f, layout, 1, {**ATTRS, "split": "val"})
        with pytest.raises(ValueError, match="unknown"):
            sf.create_shard(f, layout, 1, {**ATTRS, "source_root": "/data"})
    with h5py.File(tmp_path / "b.h5", "w") as f, pytest.raises(sf.ShardFormatError, match="libver"):
        sf.create_shard(f, layout, 1, ATTRS)
    rng = np.random.default_rng(0)
    with sf.new_shard_file(tmp_path / "c.h5") as f:
        sf.create_shard(f, layout, 1, ATTRS)
        rec = _record(rng, layout, 0)
        with pytest.raises(ValueError, match="does not fit"):
            sf.write_clip(f, 0, {**rec, "participant_id": "P" * 17})
        with pytest.raises(ValueError, match="finite"):
            sf.write_clip(f, 0, {**rec, "imu": np.full((396, 6), np.nan)})
        with pytest.raises(ValueError, match="uint8"):
            sf.write_clip(f, 0, {**rec, "video": rec["video"].astype(np.int16)})
        with pytest.raises(IndexError):
            sf.write_clip(f, 1, rec)


def test_validate_shard_requires_checksums(tmp_path: Path) -> None:
    path = tmp_path / "s.h5"
    _write(path, sf.ShardLayout(**SMALL), n=1)
    with h5py.File(path, "r+") as f:
        del f["noun_class"]
        f.create_dataset("noun_class", shape=(1,), dtype=np.int32, chunks=(1,))
    with h5py.File(path, "r") as f, pytest.raises(sf.ShardFormatError, match="Fletcher32") as err:
        sf.validate_shard(f, path)
    assert err.value.dataset == "noun_class"
