"""Log-magnitude spectrograms of IMU clips (the VGG16 input) and streaming per-channel statistics.

A clip ``(396, 6)`` float32 at 198 Hz becomes ``(6, 33, 50)`` float32: 33 frequency bins
(nfft/2 + 1, 198/64 = 3.09 Hz apart, 0..99 Hz) x 50 frames (1 + 396 // 8, 8 samples = 40.4 ms apart,
frame f centred on sample 8 f), for the paper's clip geometry (nfft and hop are the build's
``geometry.nfft`` / ``geometry.hop``, :mod:`egoimu.manifests.geometry`).

Per frame: reflect-pad the clip by nfft/2 at both ends, take nfft samples, subtract the frame's mean
(``detrend='constant'``), multiply by the periodic Hann window, rfft, divide by sum(window)
(amplitude scaling: a sine of amplitude A reads A/2 in its bin, a constant c reads |c| at DC), then
put the window-weighted frame mean back as the DC bin; finally ``log(magnitude + eps)``.

Why detrend: Hann's main lobe spans +-1 bin, so gravity (~9.8 m/s^2 on AcclX) would leak |g|/2 into
bin 1 (3.1 Hz) of every frame and swamp head motion there. With detrending, bins >= 1 equal
``scipy.signal.stft(..., detrend='constant')`` and the DC bin equals the plain STFT's DC bin.
Why reflect: zero padding would put a step of size |g| at both clip edges and spread energy over
all bins of the edge frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from egoimu.manifests.geometry import DEFAULT_GEOMETRY, ClipGeometry


@dataclass(frozen=True)
class SpecConfig:
    """Spectrogram settings. ``# paper``: stated in arXiv 2110.01680; ``# ours``: our choice.

    ``geometry.nfft`` (paper: 64) and ``geometry.hop`` (ours: 8) are the build's clip geometry; a clip of
    ``geometry.imu_len`` samples gives ``(geometry.spec_bins, geometry.spec_frames)`` = (33, 50).
    """

    geometry: ClipGeometry = DEFAULT_GEOMETRY  # paper: the build's clip geometry (BuildConfig.geometry)
    window: str = "hann"  # ours: scipy.signal.get_window name (periodic)
    pad_mode: Literal["reflect", "constant"] = "reflect"  # ours: nfft/2 each side, centred frames
    detrend: Literal["constant", "none"] = "constant"  # ours: remove each frame's mean (see module doc)
    log: bool = True  # ours: log(magnitude + eps); the paper says only "spectrograms"
    eps: float = 1e-6  # ours: floor inside the log


DEFAULT_SPEC = SpecConfig()


def spectrogram(x: np.ndarray, cfg: SpecConfig = DEFAULT_SPEC) -> np.ndarray:
    """Spectrograms of a batch of clips.

    ``x``: (..., L, C) float (L = 396 samples, C = 6 channels for the paper's clips). Returns
    (..., C, nfft/2 + 1, 1 + L // hop) float32 = (..., 6, 33, 50): log-magnitude (natural log) if
    ``cfg.log`` else magnitude, in the units of ``x`` (amplitude scaling, see the module doc).
    Vectorised; works in float64, about 150 kB of temporaries per clip, so pass batches of ~hundreds.
    """
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"x must be (..., L, C), got shape {x.shape}")
    L = x.shape[-2]
    nfft, hop = cfg.geometry.nfft, cfg.geometry.hop
    half = nfft // 2
    if cfg.pad_mode == "reflect" and L <= half:
        raise ValueError(f"reflect padding needs more than {half} samples, got {L}")
    xt = np.moveaxis(np.asarray(x, dtype=np.float64), -1, -2)  # (..., C, L)
    pad = [(0, 0)] * (xt.ndim - 1) + [(half, half)]
    xp = np.pad(xt, pad, mode=cfg.pad_mode)
    frames = sliding_window_view(xp, nfft, axis=-1)[..., ::hop, :]  # (..., C, T, nfft)
    from scipy import signal  # imported here: the build's own process never needs scipy (~0.6 s)

    win = signal.get_window(cfg.window, nfft, fftbins=True).astype(np.float64)
    wsum = float(win.sum())
    if cfg.detrend == "constant":
        spec = np.abs(np.fft.rfft((frames - frames.mean(axis=-1, keepdims=True)) * win, axis=-1))
        spec[..., 0] = np.abs(frames @ win)
    elif cfg.detrend == "none":
        spec = np.abs(np.fft.rfft(frames * win, axis=-1))
    else:
        raise ValueError(f"detrend must be 'constant' or 'none', got {cfg.detrend!r}")
    spec /= wsum
    if cfg.log:
        spec = np.log(spec + cfg.eps)
    return np.ascontiguousarray(np.swapaxes(spec, -1, -2), dtype=np.float32)  # (..., C, F, T)


@dataclass
class RunningStats:
    """Per-channel mean/std of spectrogram values, accumulated over batches and mergeable.

    Chan et al.'s parallel update on (count, mean, M2), float64, so that updating batch by batch or
    merging per-task partial stats (e.g. one per Dask partition) gives the one-shot result. Plain
    picklable data; :meth:`to_dict`/:meth:`from_dict` for JSON.
    """

    count: int = 0  # values seen per channel
    mean: np.ndarray | None = None  # (C,) float64
    m2: np.ndarray | None = None  # (C,) float64, sum of squared deviations

    def update(self, specs: np.ndarray) -> RunningStats:
        """Add ``specs`` (..., C, F, T) (channel axis -3); returns self."""
        s = np.asarray(specs, dtype=np.float64)
        if s.ndim < 3:
            raise ValueError(f"specs must be (..., C, F, T), got shape {s.shape}")
        flat = np.moveaxis(s, -3, 0).reshape(s.shape[-3], -1)
        if flat.shape[1] == 0:
            return self
        mean = flat.mean(axis=1)
        part = RunningStats(flat.shape[1], mean, ((flat - mean[:, None]) ** 2).sum(axis=1))
        merged = self.merge(part)
        self.count, self.mean, self.m2 = merged.count, merged.mean, merged.m2
        return self

    def merge(self, other: RunningStats) -> RunningStats:
        """A new RunningStats holding both (neither input is changed)."""
        if other.count == 0:
            return RunningStats(self.count, _copy(self.mean), _copy(self.m2))
        if self.count == 0:
            return RunningStats(other.count, _copy(other.mean), _copy(other.m2))
        if self.mean.shape != other.mean.shape:
            raise ValueError(f"channel counts differ: {self.mean.shape} vs {other.mean.shape}")
        n = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.count / n)
        m2 = self.m2 + other.m2 + delta**2 * (self.count * other.count / n)
        return RunningStats(n, mean, m2)

    def finalize(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean (C,), std (C,)) float64; population std (ddof = 0)."""
        if self.count == 0 or self.mean is None or self.m2 is None:
            raise ValueError("no data accumulated")
        return self.mean.copy(), np.sqrt(self.m2 / self.count)

    def to_dict(self) -> dict:
        return {"count": self.count, "mean": None if self.mean is None else self.mean.tolist(),
                "m2": None if self.m2 is None else self.m2.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> RunningStats:
        return cls(int(d["count"]), _array(d["mean"]), _array(d["m2"]))


def _copy(a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else a.copy()


def _array(v: list[float] | None) -> np.ndarray | None:
    return None if v is None else np.asarray(v, dtype=np.float64)


def channel_stats(specs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-shot per-channel (mean (C,), std (C,)) of ``specs`` (..., C, F, T); compute on the train
    split only. For data that does not fit in memory use :class:`RunningStats`."""
    return RunningStats().update(specs).finalize()
