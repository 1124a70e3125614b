"""Measured IMU→video sync (issue 13 item 3): the estimator behind ``egoimu build --sync auto`` (:func:`measure_sync`).

:func:`estimate_offset` corrects an assumed sync model (:class:`~egoimu.pipeline.imu.SyncParams`, e.g. today's
duration-ratio model) by cross-correlating the gyroscope's angular rate with the image motion of decoded
low-resolution windows spread over the recording (:func:`decode_windows`):

- per window, the image motion of each frame pair (:func:`egoimu.manifests.motion.frame_motion`, on frames
  block-averaged by ``DOWNSAMPLE``) is compared with the gyroscope integrated over exactly the interval between
  the two frames' *source* instants (frame i of the source is the instant ``i / fps``; a clip frame shows the
  source frame on screen at its output time, so its instant is that source frame's, not the output grid's):
  no half-frame bias from frames being instants and differences falling between them. The lag ``L`` (video
  seconds; positive: the IMU sample the assumed model puts at video time v belongs at ``v + L``) is searched
  over ``±max_lag_s`` on the IMU sample grid and refined by a parabola; the axis pairing and signs come from
  the data (:func:`egoimu.manifests.sync_check.best_lag`);
- windows with peak correlation ``>= MIN_WINDOW_R`` are candidates; the lag is fitted as ``a + b · v`` (offset
  and clock-scale correction: the assumed duration-ratio model absorbs part of a start offset into its scale,
  which shows as a lag drifting over the recording) by least squares, refitted without windows more than one
  output frame off the line (e.g. a window in EPIC's compressed first payload); with fewer than ``MIN_WINDOWS``
  candidates, the median lag (offset only). ``v`` is the model's time of the IMU the window matched (the window's
  mean frame instant minus its lag), the time :func:`corrected` moves; fitted over the frame instants instead,
  a drift ``b`` would scale the offset by ``1 / (1 + b)`` (at a 500 ms offset in a 20 s recording, ~12 ms);
- second pass: the same windows measured again against the first line's model over ``±REFINE_LAG_S``, where the
  lag no longer drifts within a window (the assumed model's drift moves it by ~50 ms over a 2 s window at a
  500 ms offset in a 20 s recording, blurring its correlation peak); the two lines compose into one;
- confidence = (windows the last pass kept) / (windows decoded) × (median peak r of the kept windows). The
  estimate is used when ``confidence >= MIN_CONFIDENCE`` and at least ``MIN_WINDOWS`` windows agree; otherwise the
  assumed model stays and :attr:`SyncEstimate.reason` says why.

Deterministic: numpy only, float64, fixed window placement; the results are rounded (offset and scale to 1e-6).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from egoimu.manifests.geometry import DEFAULT_GEOMETRY, ClipGeometry
from egoimu.manifests.motion import frame_motion
from egoimu.manifests.sync_check import best_lag, interval_rates
from egoimu.pipeline.imu import SyncParams, TimedStream
from egoimu.pipeline.video import VideoConfig, VideoInfo, clip_source_indices, decode_clips

DOWNSAMPLE = 4  # 256² output frames -> 64² for the image motion
MIN_WINDOW_R = 0.5
MIN_WINDOWS = 3
MAX_WINDOWS = 30
MIN_CONFIDENCE = 0.5
DEFAULT_MAX_LAG_S = 1.0
REFINE_LAG_S = 0.125  # the second pass's search range around the first pass's line (3 output frames at 24 fps)
#: why the assumed model was kept
LOW_CONFIDENCE = "low_confidence"
TOO_FEW_WINDOWS = "too_few_windows"


@dataclass(frozen=True)
class Window:
    """One decoded window: ``times_s`` (T,) the frames' source instants (video s), ``frames`` uint8 (T, H, W, 3)."""

    times_s: np.ndarray
    frames: np.ndarray


@dataclass(frozen=True)
class SyncEstimate:
    """The measured sync (``sync``: the corrected model, or the assumed one when not used) and its evidence."""

    sync: SyncParams
    used: bool
    reason: str  # '' when used, else LOW_CONFIDENCE | TOO_FEW_WINDOWS with the numbers
    offset_change_s: float  # lag at video time 0 (a)
    scale_change: float  # relative clock-scale correction (b)
    peak_r: float  # median peak r of the kept windows
    confidence: float
    windows: int
    kept: int
    lags_s: tuple[float, ...]  # per window, against the assumed model (the first pass)
    window_r: tuple[float, ...]  # per window, the first pass's peak r


def corrected(assumed: SyncParams, a: float, b: float) -> SyncParams:
    """``assumed`` corrected by a measured lag ``a + b · v`` (the true video time of the assumed v is
    ``v + a + b v``), rounded (offset to 1e-6 s, scale to 1e-9)."""
    return SyncParams(round(assumed.offset_s * (1 + b) + a, 6), round(assumed.scale * (1 + b), 9))


def auto_windows(duration_s: float) -> int:
    """How many windows ``--sync auto`` decodes: one per ~1.5 s of a short recording, at least
    :data:`MIN_WINDOWS`, at most :data:`MAX_WINDOWS` (60 s of 2 s windows on a long one)."""
    return int(min(MAX_WINDOWS, max(MIN_WINDOWS, duration_s // 1.5)))


def measure_sync(path: str | os.PathLike, info: VideoInfo, gyro: TimedStream, assumed: SyncParams,
                 cfg: VideoConfig) -> SyncEstimate:
    """``--sync auto`` for one recording: decode :func:`auto_windows` windows of the video at ``path`` and
    :func:`estimate_offset` the gyroscope against them, starting from ``assumed``."""
    g, duration = cfg.geometry, info.n_frames / float(info.fps)
    windows = decode_windows(path, info, window_starts(duration, auto_windows(duration), g), cfg)
    return estimate_offset(windows, gyro, assumed, out_fps=g.fps)


def window_starts(duration_s: float, n_windows: int, geometry: ClipGeometry = DEFAULT_GEOMETRY) -> list[Fraction]:
    """``n_windows`` starts (s, exact fractions) of clips of ``geometry`` evenly spread over a recording of
    ``duration_s`` seconds, on the 1/fps grid, clear of its ends."""
    fps, last = geometry.fps, max(duration_s - geometry.window_s, 0.0)
    return sorted({Fraction(int(round(t * fps)), fps) for t in np.linspace(0.0, last, n_windows + 2)[1:-1]})


def decode_windows(path: str | os.PathLike, info: VideoInfo, starts: Sequence[Fraction],
                   cfg: VideoConfig) -> list[Window]:
    """Decode the windows at ``starts`` (the build's clip geometry), block-average by :data:`DOWNSAMPLE`, and
    attach each frame's source instant. Windows that fail to decode are left out."""
    g = cfg.geometry
    out = []
    for pos, frames in decode_clips(path, list(starts), cfg, info, on_error="yield"):
        if not isinstance(frames, np.ndarray):
            continue
        idx = clip_source_indices(starts[pos], info.fps, g.frames, g.fps)
        t, h, w, _ = frames.shape
        d = DOWNSAMPLE
        small = frames[:, : h // d * d, : w // d * d].reshape(t, h // d, d, w // d, d, 3).mean(axis=(2, 4))
        out.append(Window(idx / float(info.fps), np.rint(small).astype(np.uint8)))
    return out


def _window_lag(win: Window, motion: np.ndarray, gyro: TimedStream, model: SyncParams,
                lags_s: np.ndarray) -> tuple[float, float]:
    """(lag s, peak r) of one window (``motion``: its :func:`frame_motion`) against ``model``."""
    t0v, t1v = win.times_s[:-1], win.times_s[1:]
    moving = t1v > t0v  # repeated source frames (output rate above the source's) carry no motion interval
    margin = float(np.abs(lags_s).max()) + 0.1
    lo, hi = np.searchsorted(gyro.t_s, model.to_imu([t0v[0] - margin, t1v[-1] + margin]))
    t, values = gyro.t_s[max(lo - 1, 0):hi + 1], gyro.values[max(lo - 1, 0):hi + 1]

    def rates_at(lag: float) -> list[np.ndarray]:
        q0, q1 = model.to_imu(t0v[moving] - lag), model.to_imu(t1v[moving] - lag)
        return [interval_rates(values, t, q0, q1)]

    fit = best_lag([motion[moving]], rates_at, lags_s)
    return fit.lag_s, fit.peak_r


@dataclass(frozen=True)
class _Pass:
    """One pass over the windows against a model: per-window lags and peak r, the fitted line, the kept windows."""

    lags: np.ndarray
    r: np.ndarray
    a: float
    b: float
    good: np.ndarray


def _measure(windows: Sequence[Window], motions: Sequence[np.ndarray], gyro: TimedStream, model: SyncParams,
             max_lag_s: float, tol_s: float, candidates: np.ndarray | None = None) -> _Pass:
    """Every window's lag against ``model`` (searched over ``±max_lag_s`` on the IMU sample grid) and the line
    ``lag = a + b · v`` through the agreeing ones among ``candidates`` (default: all)."""
    step = 1.0 / gyro.rate_hz
    grid = np.arange(-round(max_lag_s / step), round(max_lag_s / step) + 1) * step
    fits = [_window_lag(w, m, gyro, model, grid) for w, m in zip(windows, motions)]
    lags = np.array([f[0] for f in fits])
    r = np.array([f[1] for f in fits])
    # the lag is a function of the model's time v (``corrected``): a window whose frames around video time m
    # match the IMU the model puts at m - L measured L at v = m - L, not at m (fitted over m, a drift b of a few %
    # would scale the offset by 1 / (1 + b): ~12 ms of bias at 500 ms)
    at = np.array([float(np.mean(w.times_s)) for w in windows]) - lags
    good = (r >= MIN_WINDOW_R) & (True if candidates is None else candidates)
    a, b = _fit_lags(at, lags, good, tol_s)
    return _Pass(lags, r, a, b, good & (np.abs(lags - (a + b * at)) <= tol_s))


def _fit_lags(at: np.ndarray, lags: np.ndarray, good: np.ndarray, tol_s: float) -> tuple[float, float]:
    """``(a, b)`` of ``lag = a + b · v`` over the ``good`` windows: a least-squares line, refitted twice without
    the windows more than ``tol_s`` from it; the median (b = 0) with fewer than :data:`MIN_WINDOWS` windows."""
    use = good.copy()
    if use.sum() < MIN_WINDOWS:
        return (float(np.median(lags[use])) if use.any() else 0.0), 0.0
    b, a = 0.0, float(np.median(lags[use]))
    for _ in range(3):
        if use.sum() >= MIN_WINDOWS:
            b, a = (float(c) for c in np.polyfit(at[use], lags[use], 1))
        use = good & (np.abs(lags - (a + b * at)) <= tol_s)
    return a, b


def estimate_offset(windows: Sequence[Window], gyro: TimedStream, assumed: SyncParams,
                    max_lag_s: float = DEFAULT_MAX_LAG_S, out_fps: int = 24) -> SyncEstimate:
    """Correct ``assumed`` from the windows' image motion and the gyroscope (see the module docstring)."""
    tol = 1.0 / out_fps
    motions = [frame_motion(w.frames) for w in windows]
    first = _measure(windows, motions, gyro, assumed, max_lag_s, tol)
    a, b, last = first.a, first.b, first
    if first.good.sum() >= MIN_WINDOWS:  # refine against the first line, whose lag no longer drifts in a window
        model = SyncParams(assumed.offset_s * (1 + b) + a, assumed.scale * (1 + b))  # corrected(), unrounded
        last = _measure(windows, motions, gyro, model, REFINE_LAG_S, tol, first.good)
        a, b = a * (1 + last.b) + last.a, (1 + b) * (1 + last.b) - 1  # corrected(model, a2, b2) as one line
    kept = int(last.good.sum())
    peak_r = float(np.median(last.r[last.good])) if kept else 0.0
    confidence = kept / max(len(windows), 1) * peak_r
    reason = ""
    if kept < min(MIN_WINDOWS, len(windows)) or not kept:
        reason = f"{TOO_FEW_WINDOWS}: {kept} of {len(windows)} windows agree (need {MIN_WINDOWS})"
    elif confidence < MIN_CONFIDENCE:
        reason = f"{LOW_CONFIDENCE}: confidence {confidence:.3f} < {MIN_CONFIDENCE}"
    sync = corrected(assumed, a, b) if not reason else assumed
    return SyncEstimate(sync, not reason, reason, round(a, 6), round(b, 9), round(peak_r, 4), round(confidence, 4),
                        len(windows), kept, tuple(round(float(x), 6) for x in first.lags),
                        tuple(round(float(x), 4) for x in first.r))
