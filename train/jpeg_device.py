"""Optional JPEG decoding on the training device (``jpeg_decode`` in :class:`egoimu.train.config.TrainConfig`).

With ``jpeg_decode`` = device (or auto on CUDA with torchvision's CUDA decoder), the DataLoader workers of a
JPEG build hand over the undecoded frames (:class:`egoimu.train.data.DataConfig` ``jpeg_bytes``: the batch holds
``video_jpeg`` uint8 (N,) — every frame's bytes, back to back — and ``video_jpeg_offsets`` int64 (B, T + 1),
offsets into it) and the trainer decodes the whole batch at once with ``torchvision.io.decode_jpeg`` on the
device (nvjpeg on CUDA), then applies the batch's horizontal flips there. The CPU path (simplejpeg in the
workers) stays the default.

torchvision is imported lazily: it is not a dependency of egoimu. The device path needs torchvision built for
the CUDA torch in use; :func:`decode_jpeg_batch` also runs on CPU (torchvision's libjpeg decoder) where
torchvision is importable, which is how the tests check it against simplejpeg.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

JPEG_DECODE_MODES = ("cpu", "device", "auto")
NEEDS_TORCHVISION = "jpeg_decode device needs torchvision (built for this torch, with CUDA for a GPU) installed"


def torchvision_io() -> object | None:
    """``torchvision.io`` if torchvision imports, else None."""
    try:
        import torchvision.io as tvio
    except (ImportError, RuntimeError, OSError):  # not installed, or built for another torch (its CUDA libraries)
        return None
    return tvio


def device_decode_available(device: torch.device) -> bool:
    """Whether :func:`decode_jpeg_batch` can decode on ``device``: torchvision imports and, on CUDA, decodes a
    tiny JPEG there (its nvjpeg decoder is built in)."""
    tvio = torchvision_io()
    if tvio is None:
        return False
    if device.type != "cuda":
        return True
    try:
        probe = tvio.encode_jpeg(torch.zeros(3, 8, 8, dtype=torch.uint8))
        tvio.decode_jpeg([probe], device=device)
    except Exception:
        return False
    return True


def resolve_jpeg_decode(mode: str, device: torch.device, encoding: str) -> str:
    """Where a run decodes its JPEG frames: "cpu" (the workers, simplejpeg) or "device".

    ``mode`` is the config's ``jpeg_decode``; ``encoding`` the build's video encoding (raw and lossless builds
    always give "cpu": there is nothing to decode). auto = device on CUDA with torchvision's CUDA decoder,
    else cpu. Raises ValueError (one line) when device is asked for and torchvision cannot decode there."""
    if mode not in JPEG_DECODE_MODES:
        raise ValueError(f"jpeg_decode must be one of {JPEG_DECODE_MODES}, not {mode!r}")
    if encoding != "jpeg" or mode == "cpu":
        return "cpu"
    if mode == "auto":
        return "device" if device.type == "cuda" and device_decode_available(device) else "cpu"
    if not device_decode_available(device):
        raise ValueError(f"{NEEDS_TORCHVISION} (device {device})")
    return "device"


def unpack_jpeg(data: torch.Tensor, offsets: torch.Tensor) -> list[list[torch.Tensor]]:
    """The packed frames of a batch -> B lists of T uint8 1-D tensors (views of ``data``, no copy).

    ``data`` uint8 (N,); ``offsets`` int64 (B, T + 1), frame t of clip b = data[offsets[b, t]:offsets[b, t + 1]]."""
    bounds = offsets.tolist()
    return [[data[row[t]:row[t + 1]] for t in range(len(row) - 1)] for row in bounds]


def decode_jpeg_batch(frames_bytes: Sequence[Sequence[torch.Tensor]], device: torch.device | str) -> torch.Tensor:
    """B clips of T encoded JPEG frames (uint8 1-D tensors) -> uint8 (B, T, H, W, 3) RGB on ``device``.

    One batched ``torchvision.io.decode_jpeg`` call (nvjpeg on CUDA, libjpeg on CPU). Every frame must decode to
    the same H x W. Raises ValueError (one line) without torchvision or on a frame that does not decode."""
    tvio = torchvision_io()
    if tvio is None:
        raise ValueError(NEEDS_TORCHVISION)
    device = torch.device(device)
    b = len(frames_bytes)
    t = len(frames_bytes[0]) if b else 0
    if b == 0 or t == 0 or any(len(clip) != t for clip in frames_bytes):
        raise ValueError(f"decode_jpeg_batch needs B >= 1 clips of the same T >= 1 frames, got "
                         f"{[len(c) for c in frames_bytes]}")
    flat = [f if f.device.type == "cpu" else f.cpu() for clip in frames_bytes for f in clip]
    try:
        frames = tvio.decode_jpeg(flat, mode=tvio.ImageReadMode.RGB, device=device)
    except RuntimeError as exc:
        raise ValueError(f"a JPEG frame does not decode on {device}: {str(exc).splitlines()[0]}") from exc
    shapes = {tuple(f.shape) for f in frames}
    if len(shapes) != 1:
        raise ValueError(f"the batch's JPEG frames decode to different shapes: {sorted(shapes)}")
    return torch.stack(frames).view(b, t, *frames[0].shape).permute(0, 1, 3, 4, 2)


def device_video(batch: dict, device: torch.device | str) -> torch.Tensor:
    """A ``jpeg_bytes`` batch's video decoded on ``device`` and flipped where ``batch["flipped"]`` says:
    uint8 (B, T, H, W, 3) RGB, what the CPU path's ``batch["video"]`` holds (within JPEG decoder tolerance).
    Raises :class:`egoimu.train.data.DataError` naming the batch's clips when a frame does not decode."""
    from egoimu.train.data import DataError

    try:
        video = decode_jpeg_batch(unpack_jpeg(batch["video_jpeg"], batch["video_jpeg_offsets"]), device)
    except ValueError as exc:  # a damaged frame (on_error "skip" does not apply to device decoding)
        raise DataError(f"batch {batch.get('batch')} of epoch {batch.get('epoch')} (clips "
                        f"{', '.join(batch.get('clip_id', []))}): {exc}") from exc
    return flip_flagged(video, batch["flipped"])


def flip_flagged(video: torch.Tensor, flipped: torch.Tensor) -> torch.Tensor:
    """uint8 (B, T, H, W, 3) with the W axis reversed for the clips where ``flipped`` (bool (B,)) is set: the
    video half of :func:`egoimu.train.augment.hflip_clip_`, on ``video``'s device."""
    flipped = flipped.to(video.device)
    if not bool(flipped.any()):
        return video
    return torch.where(flipped.view(-1, 1, 1, 1, 1), video.flip(3), video)
