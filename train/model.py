"""The model of a training objective, built from a :class:`~egoimu.train.config.TrainConfig`.

``objective=contrastive`` is :class:`ContrastivePair`: the video encoder (SlowFast-R50, or ``small``), the
head-motion encoder (VGG16 on spectrograms, or ``small``) and the contrastive loss of arXiv 2110.01680, eq. 1.
``verb_video`` / ``verb_imu`` are a :class:`~egoimu.train.models.classifier.VerbClassifier` on one encoder's
backbone (paper Tables 1-2). The trainer, the evaluations and the checkpoint readers all build the model
here, so a checkpoint's ``config`` rebuilds exactly the module whose ``state_dict`` it holds.
"""

from __future__ import annotations

import torch
from torch import nn

from egoimu.train.config import VERB_OBJECTIVES, ConfigError, TrainConfig
from egoimu.train.loss import ContrastiveLoss
from egoimu.train.models.classifier import VerbClassifier
from egoimu.train.models.registry import Variant, build_encoders


def backbone_variant(cfg: TrainConfig) -> Variant:
    """``cfg``'s backbone choices: ``imu_batchnorm`` and the slow pathway ("auto" without ``init_video`` is
    "stride"; with one it must have been resolved from the file first, :meth:`TrainConfig.resolved`)."""
    if cfg.slow_pathway == "auto" and cfg.init_video:
        raise ConfigError("slow_pathway 'auto' with init_video: resolve it from the checkpoint first "
                          "(TrainConfig.resolved(checkpoint.init_slow_pathway))")
    return Variant(imu_batchnorm=cfg.imu_batchnorm,
                   slow_pathway="stride" if cfg.slow_pathway == "auto" else cfg.slow_pathway)


class ContrastivePair(nn.Module):
    """The two encoders and eq. 1.

    forward(video (B, 3, T, H, W) float32, spec (B, 6, F, S) float32, verb=None) -> scalar loss; ``verb``
    is accepted, as the loop passes it to every objective, and ignored. ``.video`` / ``.imu`` map their
    inputs to (B, embed_dim) unit rows; ``.criterion`` holds the (learnable) temperature."""

    def __init__(self, cfg: TrainConfig):
        super().__init__()
        self.video, self.imu = build_encoders(cfg.model, cfg.embed_dim, head=cfg.head,  # type: ignore[arg-type]
                                              variant=backbone_variant(cfg))
        self.criterion = ContrastiveLoss(cfg.temperature, learnable=cfg.learnable_temperature)

    def forward(self, video: torch.Tensor, spec: torch.Tensor, verb: torch.Tensor | None = None) -> torch.Tensor:
        return self.criterion(self.video(video), self.imu(spec))


Model = ContrastivePair | VerbClassifier


def build_model(cfg: TrainConfig) -> Model:
    """The model of ``cfg``'s objective on the CPU, initialised from torch's global generator:
    :class:`ContrastivePair` (``.video``, ``.imu``, ``.criterion``) or :class:`VerbClassifier` (``.video`` or
    ``.imu``, the other None, and ``.classifier``), with ``freeze_video`` applied (the video backbone's
    parameters do not require gradients)."""
    if cfg.objective in VERB_OBJECTIVES:
        model: Model = VerbClassifier(cfg.model, VERB_OBJECTIVES[cfg.objective], cfg.num_verbs,  # type: ignore[arg-type]
                                      backbone_variant(cfg))
    else:
        model = ContrastivePair(cfg)
    if model.video is not None:
        model.video.backbone.requires_grad_(not cfg.freeze_video)
    return model


def seeded_model(cfg: TrainConfig, seed: int) -> Model:
    """``build_model(cfg)`` after ``torch.manual_seed(seed)``, as the trainer initialises it, drawn without
    touching the caller's global random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(cfg)


def set_train_mode(model: Model, cfg: TrainConfig) -> None:
    """Training mode, except a frozen video backbone (``freeze_video``), which stays in eval mode so that its
    BatchNorm statistics do not move either."""
    model.train()
    if cfg.freeze_video and model.video is not None:
        model.video.backbone.eval()
