"""The network inputs of a loader batch, as the trainer and every evaluation feed them to the encoders.

:func:`model_inputs` turns a batch of :mod:`egoimu.train.data` (uint8 video, normalised spectrograms) into the
float tensors an encoder takes, on the device: the clip as stored for ``--model full``, subsampled frames
pooled to a small size (and, by default, their temporal differences) for ``--model small``, and the
accelerometer's 0 Hz bin blanked unless ``accl_dc``. :func:`autocast` is the mixed-precision context of a
config's ``amp``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from egoimu.train.config import TrainConfig
from egoimu.train.data import video_to_float


def model_inputs(batch: dict[str, Any], cfg: TrainConfig, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """A loader batch -> (video (B, 3, T, H, W) float32 normalised, spec (B, 6, 33, 50) float32) on ``device``.

    ``--model full`` gets the clip as stored (paper: T = 48, H = W = 256). ``--model small`` (ours) gets
    ``small_frames`` evenly spaced frames (frame k * T // small_frames: 16 of 48 = 8 fps) average-pooled
    to ``small_size``² (anti-aliased; 64² by default), on the device.
    """
    video = batch["video"]
    if cfg.model == "small":
        frames = video.shape[1]
        video = video[:, torch.arange(cfg.small_frames) * frames // cfg.small_frames]
        video = F.adaptive_avg_pool3d(video_to_float(video, device), (cfg.small_frames, cfg.small_size,
                                                                      cfg.small_size))
        if cfg.small_motion:  # temporal differences: what moves, not what is there (first frame repeated)
            video = torch.diff(video, dim=2, prepend=video[:, :, :1])
    else:
        video = video_to_float(video, device)
    spec = batch["spec"].to(device, non_blocking=True)
    if not cfg.accl_dc:  # channels 0-2 are AcclX/Y/Z; bin 0 is 0 Hz (normalised: 0 = the train mean)
        spec = spec.clone()
        spec[:, :3, 0, :] = 0.0
    return video, spec


def autocast(cfg: TrainConfig, device: torch.device) -> torch.autocast:
    """bf16 autocast when ``cfg.amp`` asks for it (auto: on CUDA only); otherwise a disabled context."""
    on = cfg.amp == "bf16" or (cfg.amp == "auto" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=on)
