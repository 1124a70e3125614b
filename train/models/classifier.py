"""Supervised verb classifiers: one encoder's backbone and a linear layer, trained with cross-entropy.

The paper's Tables 1 and 2 compare a "video only" and a "head-motion only" verb classifier trained fully
supervised on EPIC-KITCHENS (and their ensemble); its Tables 3 and 4 also use a video CNN "fully
supervised on EPIC-KITCHENS". :class:`VerbClassifier` is that model for either side: the video backbone
(SlowFast) or the head-motion backbone (VGG on spectrograms), no projection head, and
``nn.Linear(out_dim, num_verbs)`` on the backbone features. The paper states no classifier head; a single
linear layer is ours.

It keeps the attribute names of the contrastive model, so that every evaluation reads either kind of
checkpoint the same way: ``.video`` / ``.imu`` are :class:`~egoimu.train.models.heads.Encoder`\\ s (the side not
trained is None), ``model.video.backbone`` / ``model.video.features(x)`` give the features.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from egoimu.train.models.heads import Encoder
from egoimu.train.models.registry import DEFAULT_VARIANT, SIDES, ModelName, Side, Variant, build_encoder


def verb_loss(logits: torch.Tensor, verb: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the labelled clips of a batch.

    logits: (B, K) float (any dtype; the loss is computed in float32); verb: (B,) int64 class ids in
    [0, K), -1 = unlabelled (``--ssl-windows`` shards), ignored. Returns a float32 scalar. A batch without
    any labelled clip gives exactly 0.0, still attached to the graph (zero gradients), so that every DDP
    rank runs the same backward. Needs no host synchronisation.
    """
    labelled = (verb >= 0).to(torch.float32)
    per_clip = F.cross_entropy(logits.float(), verb.clamp(min=0), reduction="none")
    return (per_clip * labelled).sum() / labelled.sum().clamp(min=1.0)


class VerbClassifier(nn.Module):
    """One encoder (no projection head) and ``classifier`` = Linear(backbone out_dim, num_verbs).

    Args:
        model: "full" (SlowFast-R50 / VGG16, paper) or "small" (ours).
        side: "video" (``.video`` is the encoder, ``.imu`` None) or "imu" (the reverse).
        num_verbs: number of verb classes K (EPIC-KITCHENS-100: 97).
        variant: the backbone's BatchNorm (VGG) and slow-pathway choices (registry.Variant).

    ``forward(video (B,3,T,H,W), spec (B,6,33,50), verb (B,) int64)`` -> the scalar :func:`verb_loss`;
    ``logits(video, spec)`` -> (B, K). Only the side's input is used (the other may be anything).
    """

    def __init__(self, model: ModelName, side: Side, num_verbs: int, variant: Variant = DEFAULT_VARIANT):
        super().__init__()
        if side not in SIDES:
            raise ValueError(f"unknown classifier side {side!r}; known: {SIDES}")
        if num_verbs < 2:
            raise ValueError(f"num_verbs must be >= 2, got {num_verbs}")
        encoder = build_encoder(model, side, head=None, variant=variant)
        self.side = side
        self.video: Encoder | None = encoder if side == "video" else None
        self.imu: Encoder | None = encoder if side == "imu" else None
        self.classifier = nn.Linear(encoder.out_dim, num_verbs)

    @property
    def encoder(self) -> Encoder:
        """The trained side's encoder (``.video`` or ``.imu``)."""
        encoder = self.video if self.side == "video" else self.imu
        assert encoder is not None
        return encoder

    @property
    def num_verbs(self) -> int:
        return int(self.classifier.out_features)

    def logits(self, video: torch.Tensor, spec: torch.Tensor) -> torch.Tensor:
        """(B, num_verbs) class scores (the autocast dtype under autocast) from the side's input."""
        return self.classifier(self.encoder.features(video if self.side == "video" else spec))

    def forward(self, video: torch.Tensor, spec: torch.Tensor, verb: torch.Tensor) -> torch.Tensor:
        return verb_loss(self.logits(video, spec), verb)


def verb_top1(logits: torch.Tensor, verb: torch.Tensor) -> tuple[float, int]:
    """(top-1 accuracy, n) over the labelled clips: logits (N, K) float, verb (N,) int64 (-1 = unlabelled,
    left out). No labelled clip: (nan, 0). Ties: the first class."""
    labelled = verb >= 0
    n = int(labelled.sum())
    if n == 0:
        return float("nan"), 0
    return float((logits[labelled].argmax(dim=1) == verb[labelled]).float().mean()), n
