"""Image motion by phase correlation (egoimu.manifests.motion): known sub-pixel shifts and a known rotation of a
textured image are recovered; the result is deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from egoimu.manifests.motion import frame_motion, grey, image_shifts

H, W = 128, 160


def _texture(seed: int = 0) -> np.ndarray:
    """A smooth random texture (H, W) float64 as a periodic Fourier series, and a function shifting it."""
    rng = np.random.default_rng(seed)
    fy, fx = np.fft.fftfreq(H)[:, None], np.fft.fftfreq(W)[None, :]
    return np.fft.fft2(rng.normal(size=(H, W))) * np.exp(-(fx ** 2 + fy ** 2) / (2 * 0.08 ** 2))


def _shifted(spec: np.ndarray, dx: float, dy: float) -> np.ndarray:
    fy, fx = np.fft.fftfreq(H)[:, None], np.fft.fftfreq(W)[None, :]
    return np.real(np.fft.ifft2(spec * np.exp(-2j * np.pi * (fx * dx + fy * dy))))


def _rgb8(images: list[np.ndarray]) -> np.ndarray:
    lo, hi = min(i.min() for i in images), max(i.max() for i in images)
    grey8 = np.stack([np.rint(20 + 215 * (i - lo) / (hi - lo)).astype(np.uint8) for i in images])
    return np.repeat(grey8[..., None], 3, axis=-1)


@pytest.mark.parametrize("dx, dy", [(0.3, -0.7), (2.5, 1.25), (0.5, 0.5), (-1.8, 2.2), (-0.9, 0.1)])
def test_known_subpixel_shift_recovered_within_005_px(dx: float, dy: float) -> None:
    spec = _texture()
    frames = _rgb8([_shifted(spec, 0, 0), _shifted(spec, dx, dy), _shifted(spec, 2 * dx, 2 * dy)])
    got = frame_motion(frames)
    assert got.shape == (2, 2) and got.dtype == np.float64
    np.testing.assert_allclose(got, [[dx, dy], [dx, dy]], atol=0.05)


def test_rotation_estimate_sign_and_size() -> None:
    """Content turned clockwise on the screen by 0.02 rad (bilinear resampling) gives angle ≈ +0.02."""
    base = _shifted(_texture(1), 0, 0)
    big = np.tile(base, (3, 3))  # periodic: rotating a tiled texture leaves no empty corners
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    cy, cx = (H - 1) / 2, (W - 1) / 2
    a = 0.02
    # output pixel p shows the input at R(-a) p: content rotated by +a (clockwise with y down)
    sy = cy + np.cos(a) * (yy - cy) - np.sin(a) * (xx - cx) + H
    sx = cx + np.sin(a) * (yy - cy) + np.cos(a) * (xx - cx) + W
    y0, x0 = np.floor(sy).astype(int), np.floor(sx).astype(int)
    fy, fx = sy - y0, sx - x0
    rot = ((1 - fy) * (1 - fx) * big[y0, x0] + (1 - fy) * fx * big[y0, x0 + 1]
           + fy * (1 - fx) * big[y0 + 1, x0] + fy * fx * big[y0 + 1, x0 + 1])
    got = frame_motion(_rgb8([base, rot]), rotation=True)
    assert got.shape == (1, 3)
    assert 0.015 < got[0, 2] < 0.025, got
    assert np.abs(got[0, :2]).max() < 0.3  # about the centre: little translation


def test_deterministic_and_checked() -> None:
    frames = _rgb8([_shifted(_texture(2), 0.4 * k, -0.3 * k) for k in range(4)])
    a, b = frame_motion(frames, rotation=True), frame_motion(frames.copy(), rotation=True)
    assert a.tobytes() == b.tobytes()
    assert grey(frames).dtype == np.float64
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        frame_motion(frames[..., 0])
    with pytest.raises(ValueError, match="at least two"):
        image_shifts(grey(frames[:1]))
