"""From a loader batch to the model's inputs, on the device: the one transform the trainer and every
evaluation apply, so that a model always sees what it was trained on.

:func:`model_inputs` turns the stored uint8 video (:func:`egoimu.train.data.video_to_float`) and the
normalised spectrograms into the tensors the encoders take, as the config says (``--model small``'s pooled
frames or frame differences, the accelerometer's 0 Hz bin); :func:`autocast` is the matching precision context.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from egoimu.train.config import TrainConfig
from egoimu.train.data import video_to_float
from egoimu.train.jpeg_device import device_video


def model_inputs(batch: dict[str, Any], cfg: TrainConfig, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """A loader batch -> (video (B, 3, T, H, W) float32 normalised, spec (B, 6, F, S) float32) on ``device``.

    A batch of undecoded JPEG frames (``DataConfig.jpeg_bytes``) is decoded on ``device`` first
    (:func:`egoimu.train.jpeg_device.device_video`).

    ``--model full`` gets the clip as stored (paper: T = 48, H = W = 256; spec 6 x 33 x 50). ``--model small``
    (ours) gets ``small_frames`` evenly spaced frames (frame k * T // small_frames: 16 of 48 = 8 fps)
    average-pooled to ``small_size``² (anti-aliased; 64² by default), as frame differences when
    ``small_motion`` (the first frame repeated, so the first difference is 0). Without ``accl_dc`` the
    accelerometer's 0 Hz bin (channels 0-2, frequency row 0) is set to 0, the train split's mean after
    normalisation.
    """
    # a jpeg_bytes batch (jpeg_decode device): decoded here, on the device
    video = batch["video"] if "video" in batch else device_video(batch, device)
    if cfg.model == "small":
        frames = video.shape[1]
        video = video[:, torch.arange(cfg.small_frames) * frames // cfg.small_frames]
        video = F.adaptive_avg_pool3d(video_to_float(video, device), (cfg.small_frames, cfg.small_size,
                                                                      cfg.small_size))
        if cfg.small_motion:  # temporal differences: what moves, not what is there
            video = torch.diff(video, dim=2, prepend=video[:, :, :1])
    else:
        video = video_to_float(video, device)
    spec = batch["spec"].to(device, non_blocking=True)
    if not cfg.accl_dc:
        spec = spec.clone()
        spec[:, :3, 0, :] = 0.0
    return video, spec


def autocast(cfg: TrainConfig, device: torch.device) -> torch.autocast:
    """bf16 autocast when ``cfg.amp`` asks for it (auto: on CUDA only); otherwise a disabled context."""
    on = cfg.amp == "bf16" or (cfg.amp == "auto" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=on)
