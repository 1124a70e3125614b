"""SlowFast video backbone (Feichtenhofer et al. 2019) in plain PyTorch.

The paper (arXiv 2110.01680, sec. 3.1) uses "SlowFast50" on clips of 48 frames at 256x256 (24 fps, 2 s).
`SlowFastR50` reproduces pytorchvideo's ``slowfast_r50`` module tree so that its ``state_dict()`` has the
same 662 names and shapes, and pytorchvideo's public Kinetics-400 checkpoint loads unchanged
(`load_pytorchvideo_checkpoint`). `SlowFastSmall` is the same family with 8 slow channels and one
block per stage, for CPU tests and the demo.

Architecture (slow / fast pathway; alpha = 4 frame-rate ratio, beta = 1/8 channel ratio):

- input x (B, 3, T, H, W) float, already normalised; fast = all T frames, slow = T / alpha of them
  (:func:`slow_indices`, ``slow_pathway``): ``"stride"`` (ours, egoimu's default for a random init) takes
  frames 0, alpha, 2 alpha, ... (the frames the stride-alpha fusion convolution is centred on);
  ``"linspace"`` takes ``torch.linspace(0, T - 1, T // alpha).long()``, as pytorchvideo's PackPathway and
  PySlowFast do, with which the public Kinetics checkpoints were trained (48 frames: 0, 4, 8, 12, 17, ...,
  47). Both give T / alpha frames when alpha divides T, which the fusion shapes need (the geometry's rule)
- blocks.0 stem: conv 1x7x7 (slow) / 5x7x7 (fast), stride 1x2x2, BN, ReLU, max-pool 1x3x3 stride 1x2x2
- blocks.1..4 (res2..res5): ResNet-50 bottleneck stages with depths (3, 4, 6, 3); conv_a temporal kernel
  3 in res4/res5 of the slow pathway and in every fast stage (1 otherwise); conv_b 1x3x3 with spatial
  stride 2 in the first block of res3..res5; a 1x1x1 projection shortcut (branch1) in every first block
- lateral fusion after blocks.0..3: conv 7x1x1, temporal stride alpha, 2x the fast channels, BN, ReLU,
  concatenated to the slow features (slow input widths 64+16, 256+64, 512+128, 1024+256)
- blocks.5: adaptive average pooling of each pathway to 1x1x1 and concatenation (no parameters); ours:
  pytorchvideo pools with fixed kernels sized for 32x224x224 inputs, which equals global pooling there
- blocks.6 (only with ``num_classes``): dropout and the linear classifier ``proj`` on the pooled features

Note on naming: pytorchvideo counts stages res2..res5 as blocks.1..4. Its slowfast_r50 builder lists the
temporal kernels per stage as (1, 1, 3, 3) for slow, i.e. res2 and res3 have 1 and res4/res5 have 3,
which the checkpoint shapes confirm (blocks.3/4 slow conv_a are 3x1x1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

Triple = tuple[int, int, int]

# pytorchvideo's BatchNorm settings (also torch's defaults).
BN_EPS = 1e-5
BN_MOMENTUM = 0.1
HEAD_PREFIX = "blocks.6."
#: How the slow pathway picks its frames (:func:`slow_indices`).
SLOW_PATHWAYS = ("linspace", "stride")


def slow_indices(frames: int, alpha: int, slow_pathway: str) -> torch.Tensor:
    """The indices (int64) of the frames the slow pathway sees: ``"stride"`` every alpha-th frame from 0
    (``x[:, :, ::alpha]``, ceil(frames / alpha) of them), ``"linspace"`` pytorchvideo's/PySlowFast's
    ``linspace(0, frames - 1, frames // alpha)`` truncated to integers (at least one). Both give frames / alpha
    when alpha divides frames."""
    if slow_pathway == "stride":
        return torch.arange(0, frames, alpha, dtype=torch.long)
    if slow_pathway == "linspace":
        return torch.linspace(0, frames - 1, max(1, frames // alpha)).long()
    raise ValueError(f"slow_pathway must be one of {SLOW_PATHWAYS}, not {slow_pathway!r}")


def _pad(kernel: Triple) -> Triple:
    return (kernel[0] // 2, kernel[1] // 2, kernel[2] // 2)


def _bn(channels: int) -> nn.BatchNorm3d:
    return nn.BatchNorm3d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class BottleneckBranch(nn.Module):
    """The residual branch: conv_a (t x 1 x 1) -> conv_b (1 x 3 x 3, spatial stride) -> conv_c (1 x 1 x 1)."""

    def __init__(self, dim_in: int, dim_inner: int, dim_out: int, temporal_kernel: int, spatial_stride: int):
        super().__init__()
        ka: Triple = (temporal_kernel, 1, 1)
        kb: Triple = (1, 3, 3)
        self.conv_a = nn.Conv3d(dim_in, dim_inner, ka, stride=1, padding=_pad(ka), bias=False)
        self.norm_a = _bn(dim_inner)
        self.act_a = nn.ReLU(inplace=True)
        self.conv_b = nn.Conv3d(
            dim_inner, dim_inner, kb, stride=(1, spatial_stride, spatial_stride), padding=_pad(kb), bias=False
        )
        self.norm_b = _bn(dim_inner)
        self.act_b = nn.ReLU(inplace=True)
        self.conv_c = nn.Conv3d(dim_inner, dim_out, 1, bias=False)
        self.norm_c = _bn(dim_out)
        self.norm_c.is_block_final = True  # zero-initialised, see `_init_weights`

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act_a(self.norm_a(self.conv_a(x)))
        x = self.act_b(self.norm_b(self.conv_b(x)))
        return self.norm_c(self.conv_c(x))


class ResBlock(nn.Module):
    """Bottleneck residual block: relu(branch1(x) + branch2(x)), branch1 = identity or 1x1x1 conv + BN."""

    def __init__(self, dim_in: int, dim_inner: int, dim_out: int, temporal_kernel: int, spatial_stride: int):
        super().__init__()
        self.branch1_conv: nn.Conv3d | None = None
        self.branch1_norm: nn.BatchNorm3d | None = None
        if dim_in != dim_out or spatial_stride != 1:
            self.branch1_conv = nn.Conv3d(
                dim_in, dim_out, 1, stride=(1, spatial_stride, spatial_stride), bias=False
            )
            self.branch1_norm = _bn(dim_out)
        self.branch2 = BottleneckBranch(dim_in, dim_inner, dim_out, temporal_kernel, spatial_stride)
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        if self.branch1_conv is not None and self.branch1_norm is not None:
            shortcut = self.branch1_norm(self.branch1_conv(x))
        return self.activation(shortcut + self.branch2(x))


class ResStage(nn.Module):
    """`depth` bottleneck blocks; only the first changes width and spatial size."""

    def __init__(
        self, depth: int, dim_in: int, dim_inner: int, dim_out: int, temporal_kernel: int, spatial_stride: int
    ):
        super().__init__()
        self.res_blocks = nn.ModuleList(
            ResBlock(
                dim_in if i == 0 else dim_out,
                dim_inner,
                dim_out,
                temporal_kernel,
                spatial_stride if i == 0 else 1,
            )
            for i in range(depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.res_blocks:
            x = block(x)
        return x


class Stem(nn.Module):
    """conv (t x 7 x 7, stride 1x2x2) -> BN -> ReLU -> max-pool (1x3x3, stride 1x2x2): H, W shrink 4x."""

    def __init__(self, dim_in: int, dim_out: int, temporal_kernel: int):
        super().__init__()
        k: Triple = (temporal_kernel, 7, 7)
        self.conv = nn.Conv3d(dim_in, dim_out, k, stride=(1, 2, 2), padding=_pad(k), bias=False)
        self.norm = _bn(dim_out)
        self.activation = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.activation(self.norm(self.conv(x))))


class FuseFastToSlow(nn.Module):
    """Lateral connection: slow <- cat(slow, relu(bn(conv_{k x 1 x 1, stride alpha}(fast))))."""

    def __init__(self, dim_fast: int, fusion_ratio: int, kernel: int, alpha: int):
        super().__init__()
        k: Triple = (kernel, 1, 1)
        self.conv_fast_to_slow = nn.Conv3d(
            dim_fast, dim_fast * fusion_ratio, k, stride=(alpha, 1, 1), padding=_pad(k), bias=False
        )
        self.norm = _bn(dim_fast * fusion_ratio)
        self.activation = nn.ReLU(inplace=True)

    def forward(self, slow: torch.Tensor, fast: torch.Tensor) -> torch.Tensor:
        lateral = self.activation(self.norm(self.conv_fast_to_slow(fast)))
        if lateral.shape[2:] != slow.shape[2:]:
            raise ValueError(f"fusion shape mismatch: fast->slow {tuple(lateral.shape)} vs slow {tuple(slow.shape)}")
        return torch.cat([slow, lateral], dim=1)


class MultiPathwayStage(nn.Module):
    """One stage of both pathways (``multipathway_blocks.{0: slow, 1: fast}``) and the optional fusion."""

    def __init__(self, slow: nn.Module, fast: nn.Module, fusion: FuseFastToSlow | None):
        super().__init__()
        self.multipathway_blocks = nn.ModuleList([slow, fast])
        self.multipathway_fusion = fusion

    def forward(self, slow: torch.Tensor, fast: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        slow = self.multipathway_blocks[0](slow)
        fast = self.multipathway_blocks[1](fast)
        if self.multipathway_fusion is not None:
            slow = self.multipathway_fusion(slow, fast)
        return slow, fast


class PoolConcat(nn.Module):
    """blocks.5: global average pool each pathway and concatenate: (B, C_slow + C_fast), no parameters."""

    def forward(self, slow: torch.Tensor, fast: torch.Tensor) -> torch.Tensor:
        pooled = [F.adaptive_avg_pool3d(p, 1).flatten(1) for p in (slow, fast)]
        return torch.cat(pooled, dim=1)


class ClassifierHead(nn.Module):
    """blocks.6: dropout + linear ``proj`` (features (B, C) -> logits (B, num_classes))."""

    def __init__(self, dim_in: int, num_classes: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(dim_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.dropout(x))


class SlowFast(nn.Module):
    """Two-pathway SlowFast ResNet with pytorchvideo's module names.

    Args:
        stage_depths: bottleneck blocks per stage res2..res5 (R50: 3, 4, 6, 3).
        width: slow stem channels (R50: 64); stage outputs are 4, 8, 16, 32 x width.
        beta_inv: slow/fast channel ratio (8).
        alpha: slow/fast frame-rate ratio (4; 48 fast frames -> 12 slow frames).
        fusion_ratio: lateral channels = fusion_ratio x fast channels (2).
        fusion_kernel: temporal kernel of the lateral convolution (7).
        num_classes: None -> no classifier (``blocks.6`` absent), `forward` returns features.
        dropout: classifier dropout (0.5 as in pytorchvideo), only with ``num_classes``.
        slow_pathway: which frames the slow pathway sees, ``"stride"`` or ``"linspace"`` (:func:`slow_indices`);
            no parameters depend on it, so it may be changed after construction.

    Attributes:
        out_dim: feature size 32 x width + 32 x width / beta_inv (R50: 2048 + 256 = 2304).
    """

    def __init__(
        self,
        stage_depths: Sequence[int] = (3, 4, 6, 3),
        width: int = 64,
        beta_inv: int = 8,
        alpha: int = 4,
        fusion_ratio: int = 2,
        fusion_kernel: int = 7,
        num_classes: int | None = None,
        dropout: float = 0.5,
        slow_pathway: str = "stride",
    ):
        super().__init__()
        slow_indices(alpha, alpha, slow_pathway)  # checks the name
        self.slow_pathway = slow_pathway
        if len(stage_depths) != 4:
            raise ValueError(f"stage_depths must list 4 stages, got {stage_depths}")
        if width % beta_inv:
            raise ValueError(f"width {width} must be divisible by beta_inv {beta_inv}")
        self.alpha = alpha
        slow_kt = (1, 1, 3, 3)  # conv_a temporal kernels, res2..res5
        fast_kt = (3, 3, 3, 3)
        spatial_strides = (1, 2, 2, 2)

        def fusion(dim_fast: int) -> FuseFastToSlow:
            return FuseFastToSlow(dim_fast, fusion_ratio, fusion_kernel, alpha)

        fast_width = width // beta_inv
        blocks: list[nn.Module] = [
            MultiPathwayStage(Stem(3, width, 1), Stem(3, fast_width, 5), fusion(fast_width))
        ]
        slow_in, fast_in = width + fusion_ratio * fast_width, fast_width
        dim_out = 4 * width
        for s, depth in enumerate(stage_depths):
            fast_out = dim_out // beta_inv
            slow = ResStage(depth, slow_in, dim_out // 4, dim_out, slow_kt[s], spatial_strides[s])
            fast = ResStage(depth, fast_in, fast_out // 4, fast_out, fast_kt[s], spatial_strides[s])
            last = s == len(stage_depths) - 1
            blocks.append(MultiPathwayStage(slow, fast, None if last else fusion(fast_out)))
            slow_in, fast_in = dim_out + fusion_ratio * fast_out, fast_out
            if not last:
                dim_out *= 2
        self.out_dim = dim_out + dim_out // beta_inv
        blocks.append(PoolConcat())
        if num_classes is not None:
            blocks.append(ClassifierHead(self.out_dim, num_classes, dropout))
        self.blocks = nn.ModuleList(blocks)
        self.num_classes = num_classes
        self._init_weights()

    def _init_weights(self) -> None:
        """Ours, as in SlowFast/pytorchvideo: He (fan-out) convs, BN 1/0 with the last BN of each residual
        branch zeroed (blocks start as identities), classifier N(0, 0.01)."""
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.constant_(m.weight, 0.0 if getattr(m, "is_block_final", False) else 1.0)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, T, H, W) float, normalised -> pooled features (B, out_dim), same dtype (AMP: autocast's).

        Any T >= 1 and H, W >= 32 work (pooling is adaptive); the paper uses T = 48, H = W = 256.
        """
        if x.ndim != 5 or x.shape[1] != 3:
            raise ValueError(f"expected video (B, 3, T, H, W), got {tuple(x.shape)}")
        slow, fast = self.pathways(x)
        for stage in self.blocks[:5]:
            slow, fast = stage(slow, fast)
        return self.blocks[5](slow, fast)

    def pathways(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(slow, fast) inputs of x (B, 3, T, H, W): the frames :func:`slow_indices` picks, and all of them."""
        index = slow_indices(x.shape[2], self.alpha, self.slow_pathway).to(x.device)
        return x.index_select(2, index), x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, T, H, W) -> features (B, out_dim), or logits (B, num_classes) when built with a head."""
        feats = self.features(x)
        if self.num_classes is None:
            return feats
        return self.blocks[6](feats)


class SlowFastR50(SlowFast):
    """pytorchvideo ``slowfast_r50``: out_dim 2304; 33,644,488 parameters (34,566,488 with the 400-way head)."""

    def __init__(self, num_classes: int | None = None, dropout: float = 0.5, slow_pathway: str = "stride"):
        super().__init__((3, 4, 6, 3), width=64, beta_inv=8, alpha=4, num_classes=num_classes, dropout=dropout,
                         slow_pathway=slow_pathway)


class SlowFastSmall(SlowFast):
    """Ours, for CPU tests and the demo: width 8, beta_inv 4, one block per stage; out_dim 256 + 64 = 320.

    216,482 parameters; the same module tree and strides as `SlowFastR50` (input contract unchanged).
    """

    def __init__(self, num_classes: int | None = None, dropout: float = 0.5, slow_pathway: str = "stride"):
        super().__init__((1, 1, 1, 1), width=8, beta_inv=4, alpha=4, num_classes=num_classes, dropout=dropout,
                         slow_pathway=slow_pathway)


# ----------------------------------------------------------------------------------------------- checkpoints


class CheckpointError(ValueError):
    """A checkpoint does not fit the model (names the missing, unexpected and mismatched keys)."""


@dataclass
class LoadReport:
    """What `load_pytorchvideo_checkpoint` did; key lists are sorted."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the model, not in the checkpoint (kept as initialised)
    unexpected: list[str] = field(default_factory=list)  # in the checkpoint, not in the model (ignored)
    mismatched: list[str] = field(default_factory=list)  # "name: checkpoint shape vs model shape" (not loaded)
    dropped_head: list[str] = field(default_factory=list)  # checkpoint head keys skipped (no head / other size)


def _listing(title: str, items: list[str], limit: int = 12) -> str:
    shown = "\n    ".join(items[:limit])
    more = f"\n    ... and {len(items) - limit} more" if len(items) > limit else ""
    return f"  {title} ({len(items)}):\n    {shown}{more}"


def load_pytorchvideo_checkpoint(
    model: SlowFast, path: str | Path, strict_backbone: bool = True
) -> LoadReport:
    """Load a pytorchvideo SlowFast checkpoint (e.g. the Kinetics-400 ``SLOWFAST_8x8_R50.pyth``) into `model`.

    The file is read with ``torch.load(path, map_location="cpu", weights_only=True)`` and may be a raw
    state_dict or ``{"model_state": state_dict, ...}``. Classifier keys (``blocks.6.*``) are dropped when
    the model has no head, or when their shapes differ from the model's head (another class count); a
    model head missing from the checkpoint keeps its initialisation.

    Backbone keys (everything else) must match names and shapes exactly when ``strict_backbone`` (missing
    ``num_batches_tracked`` counters are tolerated: they only matter with ``momentum=None``); otherwise
    :class:`CheckpointError` names every missing, unexpected and shape-mismatched key. With
    ``strict_backbone=False`` whatever matches is loaded and the rest is reported.
    Tensors are copied into the model's parameters (their device and dtype are kept).
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "model_state" in state:
        state = state["model_state"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: not a state_dict (or {{'model_state': state_dict}}) of tensors")

    own = model.state_dict()
    report = LoadReport()
    to_load: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        is_head = name.startswith(HEAD_PREFIX)
        if name not in own:
            (report.dropped_head if is_head else report.unexpected).append(name)
        elif own[name].shape != tensor.shape:
            if is_head:
                report.dropped_head.append(name)
            else:
                report.mismatched.append(f"{name}: {tuple(tensor.shape)} vs {tuple(own[name].shape)}")
        else:
            to_load[name] = tensor
    report.missing = [name for name in own if name not in state]
    report.loaded = sorted(to_load)
    for lst in (report.missing, report.unexpected, report.mismatched, report.dropped_head):
        lst.sort()

    fatal_missing = [
        n for n in report.missing if not n.startswith(HEAD_PREFIX) and not n.endswith("num_batches_tracked")
    ]
    if strict_backbone and (fatal_missing or report.unexpected or report.mismatched):
        parts = [
            _listing(title, items)
            for title, items in (
                ("missing from the checkpoint", fatal_missing),
                ("unexpected in the checkpoint", report.unexpected),
                ("shape mismatch (checkpoint vs model)", report.mismatched),
            )
            if items
        ]
        raise CheckpointError(
            f"{path} does not fit {type(model).__name__} (not a pytorchvideo slowfast_r50 checkpoint?):\n"
            + "\n".join(parts)
        )
    model.load_state_dict(to_load, strict=False)
    return report


def parameter_count(module: nn.Module) -> int:
    """Number of scalars in `module`'s parameters (buffers excluded)."""
    return sum(math.prod(p.shape) for p in module.parameters())
