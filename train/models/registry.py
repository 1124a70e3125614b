"""Build the video and head-motion encoders by name.

``--model full`` is the paper's pair (SlowFast-R50 for video, VGG16 for IMU spectrograms);
``--model small`` is ours, a CPU-sized pair with the same input contracts for tests and the demo.

=========  ===============================  ===========================  =========================
model      video backbone (B,3,T,H,W)       IMU backbone (B,6,33,50)     backbone parameters
=========  ===============================  ===========================  =========================
full       SlowFastR50 -> (B, 2304)         VGG16 (BN) -> (B, 512)       33,644,488 + 14,724,864
small      SlowFastSmall -> (B, 320)        VGGSmall -> (B, 64)          216,482 + 62,040
=========  ===============================  ===========================  =========================
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from torch import nn

from egoimu.train.models.heads import DEFAULT_EMBED_DIM, DEFAULT_HIDDEN_DIM, Encoder, HeadKind, ProjectionHead
from egoimu.train.models.slowfast import SlowFast, SlowFastR50, SlowFastSmall, load_pytorchvideo_checkpoint
from egoimu.train.models.vgg import VGG16, VGGSmall

ModelName = Literal["full", "small"]

BACKBONES: dict[str, Callable[[], nn.Module]] = {
    "slowfast_r50": SlowFastR50,
    "slowfast_small": SlowFastSmall,
    "vgg16": VGG16,
    "vgg_small": VGGSmall,
}
MODELS: dict[str, tuple[str, str]] = {  # --model -> (video backbone, IMU backbone)
    "full": ("slowfast_r50", "vgg16"),
    "small": ("slowfast_small", "vgg_small"),
}


def build_backbone(name: str) -> nn.Module:
    """A backbone from `BACKBONES` by name, without head; its ``out_dim`` attribute is the feature size."""
    try:
        return BACKBONES[name]()
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; known: {sorted(BACKBONES)}") from None


SIDES = ("video", "imu")  # the two encoders of a model, in MODELS' order
Side = Literal["video", "imu"]


def _check_model(model: str) -> tuple[str, str]:
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; known: {sorted(MODELS)}")
    return MODELS[model]


def _encoder(backbone: nn.Module, embed_dim: int, head: HeadKind | None, hidden_dim: int) -> Encoder:
    out_dim = int(backbone.out_dim)  # type: ignore[arg-type]
    return Encoder(backbone, None if head is None else ProjectionHead(out_dim, embed_dim, kind=head,
                                                                       hidden_dim=hidden_dim))


def build_encoder(
    model: ModelName,
    side: Side,
    embed_dim: int = DEFAULT_EMBED_DIM,
    *,
    head: HeadKind | None = "mlp",
    hidden_dim: int = DEFAULT_HIDDEN_DIM,
) -> Encoder:
    """One encoder of ``model``: ``side`` "video" ((B, 3, T, H, W) -> (B, embed_dim)) or "imu"
    ((B, 6, 33, 50) -> (B, embed_dim)), as in :func:`build_encoders`. ``head=None``: no projection head
    (``forward`` gives the backbone features (B, out_dim); the supervised verb classifiers use this)."""
    names = _check_model(model)
    if side not in SIDES:
        raise ValueError(f"unknown encoder side {side!r}; known: {SIDES}")
    return _encoder(build_backbone(names[SIDES.index(side)]), embed_dim, head, hidden_dim)


def build_encoders(
    model: ModelName = "full",
    embed_dim: int = DEFAULT_EMBED_DIM,
    *,
    head: HeadKind = "mlp",
    hidden_dim: int = DEFAULT_HIDDEN_DIM,
    video_checkpoint: str | Path | None = None,
) -> tuple[Encoder, Encoder]:
    """(video_encoder, imu_encoder) for ``model`` in {"full", "small"}.

    video_encoder: (B, 3, T, H, W) float normalised video (paper: T = 48, H = W = 256) -> (B, embed_dim).
    imu_encoder: (B, 6, 33, 50) float spectrogram -> (B, embed_dim).
    Both return float32 unit vectors; ``.backbone`` / ``.features(x)`` give the features before the head.

    video_checkpoint: optional pytorchvideo SlowFast checkpoint (e.g. Kinetics-400) loaded into the video
    backbone with `load_pytorchvideo_checkpoint` (strict on the backbone, classifier dropped); an R50
    checkpoint fits ``model="full"`` only (otherwise `CheckpointError`).
    """
    video_name, imu_name = _check_model(model)
    video_backbone = build_backbone(video_name)
    imu_backbone = build_backbone(imu_name)
    if video_checkpoint is not None:
        assert isinstance(video_backbone, SlowFast)
        load_pytorchvideo_checkpoint(video_backbone, video_checkpoint, strict_backbone=True)
    return (_encoder(video_backbone, embed_dim, head, hidden_dim),
            _encoder(imu_backbone, embed_dim, head, hidden_dim))
