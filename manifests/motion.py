"""Frame-to-frame image motion of uint8 RGB frames, numpy only (float64, deterministic).

The one implementation shared by the shard sync check (``egoimu audit --sync``) and whatever else needs the
image motion of a clip (the synthetic generator's physics tests use it too); it lives in ``manifests`` so that
both the pipeline and the dispatcher layer may import it (numpy only: no scipy, no codec).

Method: per frame pair, phase correlation. Each frame is made grey (mean of R, G, B), its mean removed and a
2-D Hann window applied; the normalised cross-power spectrum ``F1 · conj(F0) / |F1 · conj(F0)|`` is weighted
by a Gaussian low-pass (so the correlation peak is a smooth Gaussian instead of a sharp Dirichlet kernel) and
transformed back; the integer peak is refined by a three-point fit of a parabola to the logarithm of the peak
and its neighbours (exact for a Gaussian peak), per axis. A shift ``(dx, dy)`` means the content of frame
``k + 1`` lies ``dx`` pixels right (+u) and ``dy`` pixels down (+v) of where it was in frame ``k``.

The optional in-plane rotation is measured from the same machinery: the vertical shift of the left and the right
half of the frame differ by ``angle · (distance between the halves' centres)``; ``angle`` (radians) is positive
for content turning clockwise on the screen (right half moving down).
"""

from __future__ import annotations

import numpy as np

#: Standard deviation (pixels) of the Gaussian the correlation peak is smoothed to.
PEAK_SIGMA_PX: float = 1.5
_TINY = 1e-12


def grey(frames: np.ndarray) -> np.ndarray:
    """uint8 RGB frames (T, H, W, 3) -> float64 grey (T, H, W), the mean of the three channels."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected frames of shape (T, H, W, 3), got {frames.shape}")
    return frames.astype(np.float64).mean(axis=-1)


def _spectra(images: np.ndarray) -> np.ndarray:
    """(T, H, W) float64 -> rfft2 of the mean-removed, Hann-windowed images."""
    _, h, w = images.shape
    win = np.outer(np.hanning(h), np.hanning(w))
    return np.fft.rfft2((images - images.mean(axis=(1, 2), keepdims=True)) * win)


def _gauss_weight(h: int, w: int, sigma_px: float) -> np.ndarray:
    """Frequency weights (H, W//2+1) of a Gaussian of ``sigma_px`` pixels (its Fourier transform)."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    return np.exp(-2.0 * (np.pi * sigma_px) ** 2 * (fx ** 2 + fy ** 2))


def _subpixel(lo: float, peak: float, hi: float) -> float:
    """Offset (in (-0.5, 0.5) for a true peak) of the maximum of a Gaussian through three samples."""
    a, b, c = (np.log(max(v, _TINY)) for v in (lo, peak, hi))
    den = a - 2.0 * b + c
    return 0.0 if den >= 0 else float(0.5 * (a - c) / den)


def _peak_shift(corr: np.ndarray) -> tuple[float, float]:
    """(dx, dy) of the correlation surface's maximum, sub-pixel, wrapped to [-W/2, W/2) x [-H/2, H/2)."""
    h, w = corr.shape
    i, j = np.unravel_index(int(np.argmax(corr)), corr.shape)
    dy = _subpixel(corr[(i - 1) % h, j], corr[i, j], corr[(i + 1) % h, j])
    dx = _subpixel(corr[i, (j - 1) % w], corr[i, j], corr[i, (j + 1) % w])
    return (j if j < w // 2 else j - w) + dx, (i if i < h // 2 else i - h) + dy


def image_shifts(images: np.ndarray, sigma_px: float = PEAK_SIGMA_PX) -> np.ndarray:
    """Float grey images (T, H, W) -> (T-1, 2) float64 sub-pixel shift (dx, dy) of image k+1 relative to k."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3 or images.shape[0] < 2:
        raise ValueError(f"expected at least two images (T, H, W), got shape {images.shape}")
    _, h, w = images.shape
    spec = _spectra(images)
    weight = _gauss_weight(h, w, sigma_px)
    out = np.empty((images.shape[0] - 1, 2), dtype=np.float64)
    for k in range(images.shape[0] - 1):
        cross = spec[k + 1] * np.conj(spec[k])
        corr = np.fft.irfft2(cross / (np.abs(cross) + _TINY) * weight, s=(h, w))
        out[k] = _peak_shift(corr)
    return out


def frame_motion(frames: np.ndarray, rotation: bool = False) -> np.ndarray:
    """Frame-to-frame image motion of uint8 RGB frames (T, H, W, 3).

    Returns float64 (T-1, 2) ``(dx, dy)`` in pixels per frame pair (content of frame k+1 relative to frame k,
    +x right, +y down), or with ``rotation`` (T-1, 3) ``(dx, dy, angle)``, angle in radians (positive:
    clockwise on the screen), from the vertical shifts of the frame's left and right halves.
    """
    g = grey(frames)
    shifts = image_shifts(g)
    if not rotation:
        return shifts
    w = g.shape[2]
    half = w // 2
    left, right = image_shifts(g[:, :, :half]), image_shifts(g[:, :, w - half:])
    baseline = float(w - half)  # distance between the two halves' centres
    angle = (right[:, 1] - left[:, 1]) / baseline
    return np.concatenate([shifts, angle[:, None]], axis=1)
