"""Build the video and head-motion encoders by name.

``--model full`` is the paper's pair (SlowFast-R50 for video, VGG16 for IMU spectrograms);
``--model small`` is ours, a CPU-sized pair with the same input contracts for tests and the demo.

=========  ===============================  ===========================  =========================
model      video backbone (B,3,T,H,W)       IMU backbone (B,6,33,50)     backbone parameters
=========  ===============================  ===========================  =========================
full       SlowFastR50 -> (B, 2304)         VGG16 -> (B, 512)            33,644,488 + 14,724,864 (BN)
small      SlowFastSmall -> (B, 320)        VGGSmall -> (B, 64)          216,482 + 62,040 (BN)
=========  ===============================  ===========================  =========================

:class:`Variant` holds the two choices that change a backbone without changing its inputs: BatchNorm in the
head-motion VGG (``imu_batchnorm``; the paper's plain VGG16 has none: 14,716,416 parameters) and the slow
pathway's frames (``slow_pathway``, :func:`~egoimu.train.models.slowfast.slow_indices`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from torch import nn

from egoimu.train.models.heads import DEFAULT_EMBED_DIM, DEFAULT_HIDDEN_DIM, Encoder, HeadKind, ProjectionHead
from egoimu.train.models.slowfast import SlowFast, SlowFastR50, SlowFastSmall, load_pytorchvideo_checkpoint
from egoimu.train.models.vgg import VGG, VGG16, VGGSmall

ModelName = Literal["full", "small"]


@dataclass(frozen=True)
class Variant:
    """Backbone choices beyond the model's name (TrainConfig's ``imu_batchnorm`` and ``slow_pathway``)."""

    imu_batchnorm: bool = True  # BatchNorm after every conv of the head-motion VGG
    slow_pathway: str = "stride"  # "stride" | "linspace": the slow pathway's frames


DEFAULT_VARIANT = Variant()

BACKBONES: dict[str, type[SlowFast] | type[VGG]] = {
    "slowfast_r50": SlowFastR50,
    "slowfast_small": SlowFastSmall,
    "vgg16": VGG16,
    "vgg_small": VGGSmall,
}
MODELS: dict[str, tuple[str, str]] = {  # --model -> (video backbone, IMU backbone)
    "full": ("slowfast_r50", "vgg16"),
    "small": ("slowfast_small", "vgg_small"),
}


def build_backbone(name: str, variant: Variant = DEFAULT_VARIANT) -> nn.Module:
    """A backbone from `BACKBONES` by name, without head, built as ``variant`` says; its ``out_dim`` attribute
    is the feature size."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; known: {sorted(BACKBONES)}")
    cls = BACKBONES[name]
    if issubclass(cls, SlowFast):
        return cls(slow_pathway=variant.slow_pathway)
    return cls(batch_norm=variant.imu_batchnorm)


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
    variant: Variant = DEFAULT_VARIANT,
) -> Encoder:
    """One encoder of ``model``: ``side`` "video" ((B, 3, T, H, W) -> (B, embed_dim)) or "imu"
    ((B, 6, 33, 50) -> (B, embed_dim)), as in :func:`build_encoders`. ``head=None``: no projection head
    (``forward`` gives the backbone features (B, out_dim); the supervised verb classifiers use this)."""
    names = _check_model(model)
    if side not in SIDES:
        raise ValueError(f"unknown encoder side {side!r}; known: {SIDES}")
    return _encoder(build_backbone(names[SIDES.index(side)], variant), embed_dim, head, hidden_dim)


def build_encoders(
    model: ModelName = "full",
    embed_dim: int = DEFAULT_EMBED_DIM,
    *,
    head: HeadKind = "mlp",
    hidden_dim: int = DEFAULT_HIDDEN_DIM,
    video_checkpoint: str | Path | None = None,
    variant: Variant = DEFAULT_VARIANT,
) -> tuple[Encoder, Encoder]:
    """(video_encoder, imu_encoder) for ``model`` in {"full", "small"}.

    video_encoder: (B, 3, T, H, W) float normalised video (paper: T = 48, H = W = 256) -> (B, embed_dim).
    imu_encoder: (B, 6, 33, 50) float spectrogram -> (B, embed_dim).
    Both return float32 unit vectors; ``.backbone`` / ``.features(x)`` give the features before the head.

    video_checkpoint: optional pytorchvideo SlowFast checkpoint (e.g. Kinetics-400) loaded into the video
    backbone with `load_pytorchvideo_checkpoint` (strict on the backbone, classifier dropped); an R50
    checkpoint fits ``model="full"`` only (otherwise `CheckpointError`); ``variant``: BatchNorm in the VGG and
    the slow pathway's frames (give ``slow_pathway="linspace"`` with a pytorchvideo checkpoint: its convention).
    """
    video_name, imu_name = _check_model(model)
    video_backbone = build_backbone(video_name, variant)
    imu_backbone = build_backbone(imu_name, variant)
    if video_checkpoint is not None:
        assert isinstance(video_backbone, SlowFast)
        load_pytorchvideo_checkpoint(video_backbone, video_checkpoint, strict_backbone=True)
    return (_encoder(video_backbone, embed_dim, head, hidden_dim),
            _encoder(imu_backbone, embed_dim, head, hidden_dim))
