"""Projection heads into the joint video / head-motion embedding space, and the encoder wrapper.

The paper compares video features v_i and head-motion features m_j by cosine similarity (eq. 1) but the
two backbones give 2304-d (SlowFast) and 512-d (VGG16) vectors, so each side needs a projection to a
shared size; its form and size are not in the paper. Ours: a 2-layer MLP (Linear-BN-ReLU-Linear, as in
SimCLR) or a single Linear, to 128 dims by default, followed by L2 normalisation.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

HeadKind = Literal["mlp", "linear"]

DEFAULT_EMBED_DIM = 128  # ours
DEFAULT_HIDDEN_DIM = 512  # ours


class ProjectionHead(nn.Module):
    """features (B, in_dim) -> L2-normalised embedding (B, embed_dim), float32 unit rows (normalised in
    float32 also under autocast).

    Args:
        in_dim: backbone feature size.
        embed_dim: joint embedding size (ours: 128).
        kind: "mlp" = Linear(in, hidden) - BatchNorm1d - ReLU - Linear(hidden, embed_dim);
            "linear" = Linear(in, embed_dim).
        hidden_dim: MLP hidden size (ours: 512).

    The MLP's BatchNorm1d needs more than one sample per batch in training mode.
    """

    def __init__(
        self,
        in_dim: int,
        embed_dim: int = DEFAULT_EMBED_DIM,
        kind: HeadKind = "mlp",
        hidden_dim: int = DEFAULT_HIDDEN_DIM,
    ):
        super().__init__()
        if kind == "mlp":
            self.net: nn.Module = nn.Sequential(
                nn.Linear(in_dim, hidden_dim, bias=False),
                nn.BatchNorm1d(hidden_dim),
                nn.ReLU(inplace=True),
                nn.Linear(hidden_dim, embed_dim),
            )
        elif kind == "linear":
            self.net = nn.Linear(in_dim, embed_dim)
        else:
            raise ValueError(f"unknown head kind {kind!r} (use 'mlp' or 'linear')")
        self.in_dim = in_dim
        self.embed_dim = embed_dim
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(x).float(), dim=-1)


class Encoder(nn.Module):
    """backbone + projection head: inputs -> unit embeddings (B, embed_dim) float32.

    ``encoder.backbone`` (and ``encoder.features(x)``) give the features before the head, (B, out_dim),
    which the downstream evaluations (linear probes, correlation) use. ``head=None`` (the supervised verb
    classifiers' encoders, which classify the backbone features): no head, ``forward`` = ``features`` and
    ``embed_dim`` = ``out_dim``.
    """

    def __init__(self, backbone: nn.Module, head: ProjectionHead | None):
        super().__init__()
        self.backbone = backbone
        self.head = head

    @property
    def out_dim(self) -> int:
        """Backbone feature size (before the head)."""
        return int(self.backbone.out_dim if self.head is None else self.head.in_dim)  # type: ignore[arg-type]

    @property
    def embed_dim(self) -> int:
        return self.out_dim if self.head is None else int(self.head.embed_dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone features (B, out_dim), before the projection head."""
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.backbone(x)
        return features if self.head is None else self.head(features)
