"""jpeg_decode: the loader's undecoded-JPEG batches (DataConfig.jpeg_bytes), their decoding (torchvision, where it
imports), the config field and the refusals.

The shards are real: written by the shard writer (egoimu.bench.gpu_data, numpy + h5py + egoimu.manifests) as
JPEG, 48 frames of 32², read back through ClipStream. torchvision's CUDA wheel cannot load beside the CPU torch of
these machines, so the decode-vs-simplejpeg tests skip here; they run wherever torchvision imports.
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import simplejpeg
import torch

from egoimu.bench.gpu_data import write_split
from egoimu.manifests.geometry import ClipGeometry
from egoimu.manifests.shardfmt import split_jpeg_frames
from egoimu.train.config import ConfigError, TrainConfig
from egoimu.train.data import ClipStream, DataConfig, DataError
from egoimu.train.jpeg_device import (
    NEEDS_TORCHVISION,
    decode_jpeg_batch,
    device_video,
    flip_flagged,
    resolve_jpeg_decode,
    torchvision_io,
    unpack_jpeg,
)

GEOMETRY = ClipGeometry(frame_size=32)
CPU = torch.device("cpu")
needs_torchvision = pytest.mark.skipif(torchvision_io() is None, reason="torchvision does not import here")


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return write_split(tmp_path_factory.mktemp("jpeg") / "out", "jpeg", 6, GEOMETRY)


def _batches(index, jpeg_bytes: bool) -> list[dict]:
    cfg = DataConfig(batch_size=3, num_workers=0, seed=1, hflip=0.5, jpeg_bytes=jpeg_bytes)
    stream = ClipStream(index, cfg, train=True)
    return list(stream)


def _simplejpeg(batch: dict) -> torch.Tensor:
    """The packed frames decoded with simplejpeg, flipped by the device path's flip: uint8 (B, T, H, W, 3)."""
    clips = [np.stack([simplejpeg.decode_jpeg(bytes(f.numpy()), colorspace="RGB") for f in clip])
             for clip in unpack_jpeg(batch["video_jpeg"], batch["video_jpeg_offsets"])]
    return flip_flagged(torch.from_numpy(np.stack(clips)), batch["flipped"])


def test_packed_batches_hold_the_shards_frames_and_match_the_cpu_path(index):
    assert index.encoding() == "jpeg"  # what the trainer resolves jpeg_decode against
    cpu, packed = _batches(index, False), _batches(index, True)
    assert len(cpu) == len(packed) == 2
    assert any(b["flipped"].any() for b in cpu) and any((~b["flipped"]).any() for b in cpu)  # both kinds seen
    for a, b in zip(cpu, packed):
        assert "video" not in b and b["video_jpeg"].dtype == torch.uint8
        assert b["video_jpeg_offsets"].shape == (3, GEOMETRY.frames + 1)
        for key in ("spec", "imu", "index", "flipped", "verb_class"):  # the IMU is flipped in the worker as before
            assert torch.equal(a[key], b[key]), key
        assert a["clip_id"] == b["clip_id"]
        # the frames are the shard's bytes, unchanged
        clip = unpack_jpeg(b["video_jpeg"], b["video_jpeg_offsets"])
        rows = index.clips.set_index("clip_id").loc[b["clip_id"]]
        for frames, (path, row) in zip(clip, zip(rows.path, rows.row)):
            with h5py.File(path, "r") as f:
                stored = split_jpeg_frames(f["video_jpeg"][row], f["video_jpeg_offsets"][row])
            assert [bytes(x.numpy()) for x in frames] == stored
        # decoded with the CPU path's decoder and flipped as flagged (flip_flagged): the CPU path's video exactly
        assert torch.equal(_simplejpeg(b), a["video"])


@needs_torchvision
def test_decode_jpeg_batch_is_within_jpeg_tolerance_of_simplejpeg(index):
    for a, b in zip(_batches(index, False), _batches(index, True)):
        video = device_video(b, CPU)
        assert video.shape == a["video"].shape and video.dtype == torch.uint8
        diff = (video.int() - a["video"].int()).abs()
        mse = diff.double().pow(2).mean().item()
        assert diff.max().item() <= 8 and 10 * np.log10(255**2 / max(mse, 1e-12)) >= 40


def test_refusals_without_torchvision_are_one_line(index):
    if torchvision_io() is not None:
        pytest.skip("torchvision imports here")
    with pytest.raises(ValueError) as err:
        resolve_jpeg_decode("device", CPU, "jpeg")
    assert str(err.value) == f"{NEEDS_TORCHVISION} (device cpu)"
    with pytest.raises(ValueError, match="^jpeg_decode device needs torchvision"):
        decode_jpeg_batch([[torch.zeros(4, dtype=torch.uint8)]], CPU)
    batch = _batches(index, True)[0]
    with pytest.raises(DataError) as err:  # in the trainer: one line naming the batch's clips
        device_video(batch, CPU)
    assert str(err.value) == (f"batch 0 of epoch 0 (clips {', '.join(batch['clip_id'])}): {NEEDS_TORCHVISION}")


def test_resolution_and_config_field():
    assert resolve_jpeg_decode("auto", CPU, "jpeg") == "cpu"  # auto: the device only on CUDA
    assert resolve_jpeg_decode("device", CPU, "raw") == "cpu"  # nothing to decode in a raw build
    assert resolve_jpeg_decode("cpu", CPU, "jpeg") == "cpu"
    with pytest.raises(ValueError, match="jpeg_decode must be one of"):
        resolve_jpeg_decode("gpu", CPU, "jpeg")
    assert TrainConfig().jpeg_decode == "cpu"
    with pytest.raises(ConfigError, match=r"jpeg_decode must be one of \('cpu', 'device', 'auto'\), not 'gpu'"):
        TrainConfig(jpeg_decode="gpu")
    # hashed: another decoder may change the weights by a few levels of every pixel
    assert TrainConfig(jpeg_decode="device").sha256() != TrainConfig().sha256()


@pytest.mark.slow
def test_trainer_refuses_device_decoding_without_torchvision_on_a_jpeg_build(epic_build_src, tmp_path, capsys):
    """A real JPEG build (the pipeline): ``jpeg_decode=device`` stops before training with the one-line reason;
    ``auto`` trains (decoding in the workers on a CPU)."""
    if torchvision_io() is not None:
        pytest.skip("torchvision imports here")
    from egoimu.pipeline.build import main as build_main
    from egoimu.train.data import SplitIndex
    from egoimu.train.loop import main as train_main

    root, _ = epic_build_src
    out = tmp_path / "out"
    assert build_main([str(root), str(out), "--workers", "1", "--clips-per-shard", "8", "--ssl-windows", "off",
                       "--encoding", "jpeg", "--quiet"]) == 0
    assert SplitIndex.open(out, "train").encoding() == "jpeg"
    capsys.readouterr()
    assert train_main([str(out), "--run-dir", str(tmp_path / "run"), "--model", "small", "--steps", "1",
                       "jpeg_decode=device"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"egoimu train: error: {NEEDS_TORCHVISION} (device cpu)"]
    # auto on a CPU: the workers decode, and the run records the setting it was given
    run = tmp_path / "auto"
    assert train_main([str(out), "--run-dir", str(run), "--model", "small", "--steps", "2", "warmup_steps=1",
                       "batch_size=4", "num_workers=1", "eval_every_epoch=0", "jpeg_decode=auto"]) == 0
    assert json.loads((run / "config.json").read_text())["config"]["jpeg_decode"] == "auto"
