"""Training augmentation that keeps a (video, head motion) pair consistent, decided reproducibly.

Horizontal flip (ours; the paper uses no augmentation it names). Mirroring the image left-right mirrors
the head (camera) frame's Y axis (docs/conventions.md: X up, Y right, Z forward), so a flipped video goes
with head motion whose AcclY, GyroX and GyroZ change sign (AcclX, AcclZ and GyroY keep theirs):

- video (48, H, W, 3) uint8: ``video[:, :, ::-1, :]`` (the W axis);
- imu (396, 6) float32, raw units: channels :data:`FLIP_NEGATE` multiplied by -1;
- spec (6, 33, 50): unchanged. The stored spectrogram is log(|STFT| + eps) per channel (magnitude, with
  the frame mean's magnitude as DC bin), and |STFT(-x)| = |-STFT(x)| = |STFT(x)|; negation is exact in
  floating point, so the spectrogram of the sign-flipped raw imu equals the stored one bit for bit
  (tests/train/test_data.py checks this with ``egoimu.pipeline.spectrogram``).

Which clips flip: :func:`flip_decisions` draws one uniform number per clip of the split from a generator
seeded with (seed, epoch) and flips clip i when u[i] < p, so the decision depends only on
(seed, epoch, global clip index) — not on rank, worker, batch or resume position.
"""

from __future__ import annotations

import numpy as np
import torch

from egoimu.manifests.shardfmt import IMU_CHANNELS

#: Channels whose sign a horizontal image flip changes (docs/conventions.md).
FLIP_SIGN_CHANNELS: tuple[str, ...] = ("AcclY", "GyroX", "GyroZ")
FLIP_NEGATE: tuple[int, ...] = tuple(IMU_CHANNELS.index(c) for c in FLIP_SIGN_CHANNELS)  # (1, 3, 5)

#: Stream tags of the seeded generators, so the order, the dropped clips and the flips are independent.
STREAM_ORDER, STREAM_DROP, STREAM_FLIP = 0, 1, 2


def seeded_rng(stream: int, seed: int, *words: int) -> np.random.Generator:
    """A PCG64 generator for ``(stream, seed, *words)`` (all ints >= 0); same inputs, same numbers."""
    return np.random.default_rng(np.random.SeedSequence([int(stream), int(seed), *(int(w) for w in words)]))


def flip_decisions(seed: int, epoch: int, n: int, p: float) -> np.ndarray:
    """bool (n,): whether clip i (global index in the split) is flipped in ``epoch``; all False if p <= 0."""
    if p <= 0:
        return np.zeros(n, dtype=bool)
    return seeded_rng(STREAM_FLIP, seed, epoch).random(n) < p


def hflip_clip_(video: np.ndarray, imu: np.ndarray) -> None:
    """Mirror one clip in place: video (T, H, W, 3) gets its W axis reversed; imu (L, 6) gets AcclY,
    GyroX and GyroZ negated. The spectrogram needs no change (module doc)."""
    if video.ndim != 4 or imu.ndim != 2 or imu.shape[1] != len(IMU_CHANNELS):
        raise ValueError(f"expected video (T, H, W, 3) and imu (L, 6), got {video.shape} and {imu.shape}")
    frames = torch.from_numpy(video)  # shares video's memory
    frames.copy_(frames.flip(2))  # one contiguous flipped copy, copied back: ~5x faster than numpy's overlap path
    hflip_imu_(imu)


def hflip_imu_(imu: np.ndarray) -> None:
    """The head-motion half of :func:`hflip_clip_`: imu (L, 6) gets AcclY, GyroX and GyroZ negated in place
    (the video half then runs on the device, after a device-side JPEG decode)."""
    imu[:, FLIP_NEGATE] *= -1
