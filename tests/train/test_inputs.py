"""egoimu.train.inputs: the one batch -> model-input transform (frame choice, pooling, differences, 0 Hz bin)."""

from __future__ import annotations

import torch

from egoimu.train.config import TrainConfig
from egoimu.train.data import video_to_float
from egoimu.train.inputs import autocast, model_inputs

CPU = torch.device("cpu")


def _batch(frames: int = 48, size: int = 64) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    video = torch.randint(0, 256, (2, frames, size, size, 3), dtype=torch.uint8, generator=g)
    return {"video": video, "spec": torch.randn(2, 6, 33, 50, generator=g)}


def test_full_model_sees_the_clip_as_stored():
    batch = _batch()
    video, spec = model_inputs(batch, TrainConfig(model="full", accl_dc=True), CPU)
    assert video.shape == (2, 3, 48, 64, 64) and video.dtype == torch.float32
    assert torch.equal(video, video_to_float(batch["video"], CPU))
    assert torch.equal(spec, batch["spec"])


def test_small_model_takes_evenly_spaced_frames_pooled_and_differenced():
    batch = _batch(size=128)
    cfg = TrainConfig(model="small", small_frames=16, small_size=64, small_motion=False, accl_dc=True)
    video, _ = model_inputs(batch, cfg, CPU)
    assert video.shape == (2, 3, 16, 64, 64)
    picked = video_to_float(batch["video"][:, [3 * k for k in range(16)]], CPU)  # frame k * 48 // 16
    expected = torch.nn.functional.avg_pool3d(picked, (1, 2, 2))
    torch.testing.assert_close(video, expected)
    motion, _ = model_inputs(batch, cfg.replace({"small_motion": True}), CPU)
    assert torch.count_nonzero(motion[:, :, 0]) == 0  # the first difference is against itself
    torch.testing.assert_close(motion[:, :, 1:], expected[:, :, 1:] - expected[:, :, :-1])


def test_the_accelerometer_0hz_bin_is_blanked_unless_asked_for():
    batch = _batch(frames=16)
    _, spec = model_inputs(batch, TrainConfig(model="small", accl_dc=False), CPU)
    assert torch.count_nonzero(spec[:, :3, 0, :]) == 0
    assert torch.equal(spec[:, 3:], batch["spec"][:, 3:]) and torch.equal(spec[:, :3, 1:], batch["spec"][:, :3, 1:])
    assert torch.count_nonzero(batch["spec"][:, :3, 0, :]) > 0  # the batch itself is left alone


def test_autocast_follows_amp():
    for amp, on in (("auto", False), ("bf16", True), ("off", False)):  # auto: bf16 on CUDA only
        with autocast(TrainConfig(amp=amp), CPU):
            assert torch.is_autocast_enabled("cpu") is on
            assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == (torch.bfloat16 if on else torch.float32)
