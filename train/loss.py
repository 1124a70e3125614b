"""The paper's contrastive loss (arXiv 2110.01680, eq. 1): which head motion goes with which video.

How eq. 1 is read. As printed (the PDF-to-text lost two symbols),

    L = 1/N^2 sum_i sum_j [ exp(sim(v_i, m_j)) / sum_k exp(sim(v_i, m_k))
                          + exp(sim(v_i, m_j)) / sum_k exp(sim(v_k, m_j)) ]

is the constant 2/N (each softmax sums to 1 over j, resp. i) and has no gradient. The text says "encourage
the similarities to be high only if they are from the same clip", so the missing pieces are a minus-log
and the indicator [i = j] selecting the matching pair: the symmetric cross-entropy (InfoNCE in both
directions, as in CLIP / audio-visual SSL [1]) over the N x N cosine-similarity matrix S_ij = sim(v_i, m_j):

    L = 1/(2N) sum_i [ -log softmax_j(s S_ij)|_{j=i}      (video i vs every head motion: row i)
                       -log softmax_k(s S_ki)|_{k=i} ]    (head motion i vs every video: column i)

with s = 1/tau; tau = 1 is the paper's plain cosine (logits in [-1, 1]). Normalisation (ours): the mean
over the N pairs and the two directions (1/(2N)) instead of 1/N^2, so that chance level is log N for
every batch size; the two differ by the constant factor 2/N, i.e. only the effective learning rate.

Distributed (torch.distributed initialised, world size W > 1): every rank gathers all ranks' embeddings
with gradients (`egoimu.train.dist.all_gather_with_grad`), so the negatives are the global batch of
N = sum_r n_r pairs. Each rank computes the terms of its own rows (its videos against all head motions,
its head motions against all videos) and returns (W / N) x their sum. The mean of the W per-rank values
is L, and since the gather's backward sums every rank's contribution to each row, DDP's gradient averaging
gives every parameter exactly the single-process gradient of L on the N pairs (also for unequal n_r).
A learnable temperature is an ordinary replicated parameter: register it with the optimiser and let DDP
(or an all-reduce mean of its gradient) average it like the encoders' weights; exclude it from weight decay.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from egoimu.train.dist import all_gather_with_grad, get_rank, get_world_size


def contrastive_loss(video: torch.Tensor, imu: torch.Tensor, logit_scale: torch.Tensor | float) -> torch.Tensor:
    """Symmetric InfoNCE over cosine similarities, negatives gathered across ranks (see module docstring).

    video, imu: (n, D) embeddings of this rank's n matching pairs (row i of each is the same clip), any
        float dtype; they are L2-normalised here in float32 (float64 stays float64).
    logit_scale: s = 1 / temperature, a scalar (tensor or float).
    Returns a scalar tensor: single process, L; distributed, this rank's share (mean over ranks = L).
    """
    if video.ndim != 2 or video.shape != imu.shape:
        raise ValueError(f"video {tuple(video.shape)} and imu {tuple(imu.shape)} must both be (n, D)")
    dtype = torch.promote_types(torch.promote_types(video.dtype, imu.dtype), torch.float32)
    with torch.autocast(device_type=video.device.type, enabled=False):  # full precision under AMP
        v = F.normalize(video.to(dtype), dim=1)
        m = F.normalize(imu.to(dtype), dim=1)
        all_v, sizes = all_gather_with_grad(v)
        all_m, _ = all_gather_with_grad(m, sizes)
        n, total = v.shape[0], all_v.shape[0]
        start = sum(sizes[: get_rank()])
        target = torch.arange(start, start + n, device=v.device)
        scale = logit_scale.to(dtype) if isinstance(logit_scale, torch.Tensor) else logit_scale
        logits_video = scale * (v @ all_m.T)  # (n, N): video i vs every head motion
        logits_imu = scale * (m @ all_v.T)  # (n, N): head motion i vs every video (column i of S)
        terms = F.cross_entropy(logits_video, target, reduction="sum") + F.cross_entropy(
            logits_imu, target, reduction="sum"
        )
        return terms * (get_world_size() / (2.0 * total))


class ContrastiveLoss(nn.Module):
    """Eq. 1 as a module, with a fixed or learnable temperature.

    Args:
        temperature: tau > 0; logits are cos / tau. 1.0 = the paper's plain cosine similarity.
        learnable: learn s = 1/tau (ours, as CLIP). Stored as ``log_logit_scale`` = log(1/tau) (a
            parameter); the scale used is exp(log_logit_scale) clamped to ``max_logit_scale``.
        max_logit_scale: upper clamp of the learnable scale (100, as CLIP); must be >= 1/tau.

    forward(video (n, D), imu (n, D)) -> scalar loss (float32, or float64 for float64 inputs).
    """

    def __init__(self, temperature: float = 1.0, learnable: bool = False, max_logit_scale: float = 100.0):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if learnable and 1.0 / temperature > max_logit_scale:
            raise ValueError(f"1/temperature = {1.0 / temperature} exceeds max_logit_scale = {max_logit_scale}")
        self.temperature = float(temperature)
        self.learnable = learnable
        self.max_logit_scale = float(max_logit_scale)
        self.log_logit_scale: nn.Parameter | None = None
        if learnable:
            self.log_logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)))

    @property
    def logit_scale(self) -> torch.Tensor:
        """The current s = 1/tau as a scalar tensor (differentiable when learnable)."""
        if self.log_logit_scale is None:
            return torch.tensor(1.0 / self.temperature)
        return self.log_logit_scale.exp().clamp(max=self.max_logit_scale)

    def forward(self, video: torch.Tensor, imu: torch.Tensor) -> torch.Tensor:
        scale: torch.Tensor | float = 1.0 / self.temperature
        if self.log_logit_scale is not None:
            scale = self.logit_scale
        return contrastive_loss(video, imu, scale)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, learnable={self.learnable}, max_logit_scale={self.max_logit_scale}"
