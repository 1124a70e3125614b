"""VGG16 for IMU spectrograms (the paper's head-motion encoder, arXiv 2110.01680 sec. 3.1).

Input: (B, 6, 33, 50) float: 6 IMU channels (accelerometer XYZ, gyroscope XYZ) x 33 frequency bins
(nfft = 64 -> 64 / 2 + 1) x 50 time frames of a 2 s, 198 Hz clip; the values (e.g. log magnitudes) are
whatever the data side produces, normalised or not: with ``batch_norm`` the first BN absorbs the scale.

VGG16 "features" (configuration D, Simonyan & Zisserman 2015): 13 conv 3x3 (padding 1) + ReLU in five groups
(64, 64 | 128, 128 | 256 x 3 | 512 x 3 | 512 x 3), each group followed by a 2x2 max-pool, stride 2; the first
conv takes 6 channels. The paper says "VGG16" and no more: the ``paper`` preset builds exactly this stack
(``imu_batchnorm=False``, 14,716,416 parameters); ``batch_norm=True`` (ours, the ``default`` preset) adds a
BatchNorm after every conv (torchvision's ``vgg16_bn``). The fully connected classifier (fc6-fc8) is not used:
the output is the global average of the last map, 512-d (ours; the paper does not say how its features are
pooled).

Pooling on 33 x 50 (both presets): the max-pools round up (``ceil_mode=True``), as the original VGG16 did in
Caffe, whose pooling layers round the output size up; torchvision's port rounds down (the same on 224² images,
whose sides stay even). Rounding up keeps every row and column: 33x50 -> 17x25 -> 9x13 -> 5x7 -> 3x4 -> 2x2,
then averaged (:func:`pooled_sizes`). Rounding down would end at 1x1 having dropped the last (Nyquist) frequency bin at
the first pool and a time column at the second and fifth. Any side >= 1 fits ceil pooling; the clip geometry's
rule "both spectrogram sides >= 32" (manifests/geometry.py) is what floor pooling would need, so it holds for
either.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

# "M" = 2x2 max-pool; ints = conv 3x3 output channels.
VGG16_CFG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"
)
VGG_SMALL_CFG: tuple[int | str, ...] = (8, "M", 16, "M", 32, "M", 64, "M", 64, "M")  # ours, CPU tests/demo


def pooled_sizes(height: int, width: int, pools: int = 5) -> list[tuple[int, int]]:
    """The map's (height, width) before and after each of ``pools`` 2 x 2, stride-2 ceil-mode max-pools."""
    sizes = [(height, width)]
    for _ in range(pools):
        sizes.append(tuple(-(-side // 2) for side in sizes[-1]))  # type: ignore[arg-type]
    return sizes


class VGG(nn.Module):
    """A VGG "features" stack + global average pooling.

    Args:
        cfg: conv widths and "M" (max-pool) markers.
        in_channels: input channels (6 IMU axes).
        batch_norm: BatchNorm2d after every conv (ours, TrainConfig ``imu_batchnorm``: the paper's VGG16 has
            none; torchvision calls this variant ``vgg16_bn``).

    Attributes:
        out_dim: channels of the last conv (VGG16: 512).
    """

    def __init__(self, cfg: Sequence[int | str] = VGG16_CFG, in_channels: int = 6, batch_norm: bool = True):
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for item in cfg:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True))
                continue
            assert isinstance(item, int)
            layers.append(nn.Conv2d(channels, item, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(item))
            layers.append(nn.ReLU(inplace=True))
            channels = item
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.in_channels = in_channels
        self.out_dim = channels
        self._init_weights()

    def _init_weights(self) -> None:
        """Ours, as torchvision's VGG: He (fan-out) convs with zero bias, BN weight 1 / bias 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, in_channels, F, T) float spectrogram -> features (B, out_dim), same dtype (or autocast's)."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected spectrogram (B, {self.in_channels}, F, T), got {tuple(x.shape)}")
        return self.pool(self.features(x)).flatten(1)


class VGG16(VGG):
    """VGG16 features for (B, 6, 33, 50) spectrograms -> (B, 512).

    Parameters: 14,716,416 without BN (the paper's), 14,724,864 with BN (egoimu's default).
    """

    def __init__(self, in_channels: int = 6, batch_norm: bool = True):
        super().__init__(VGG16_CFG, in_channels=in_channels, batch_norm=batch_norm)


class VGGSmall(VGG):
    """Ours, for CPU tests and the demo: 5 convs (8, 16, 32, 64, 64), with BN by default, 5 max-pools -> (B, 64).

    62,040 parameters with BN.
    """

    def __init__(self, in_channels: int = 6, batch_norm: bool = True):
        super().__init__(VGG_SMALL_CFG, in_channels=in_channels, batch_norm=batch_norm)
