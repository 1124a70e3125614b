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
- a window's peak r is the mean of its two image axes' |r| with their paired gyro axes, each weighted by how
  much that image axis moves (its standard deviation): an axis the camera does not turn about (a gimbal's
  level horizon: no pitch) carries only noise and would halve an unweighted mean;
- a window whose gyroscope turns less than :data:`MIN_ROTATION_RAD_S` (RMS of its frame-interval rates about
  their mean) shows no motion to measure: it is *still*, neither evidence for nor against a lag, and is left
  out of the fit and of the confidence (a recording held still except for one turn is measured on that turn);
- moving windows with peak r ``>= MIN_WINDOW_R`` are candidates; the lag is fitted as ``a + b · v`` (offset
  and clock-scale correction: the assumed duration-ratio model absorbs part of a start offset into its scale,
  which shows as a lag drifting over the recording) by least squares, refitted without windows more than one
  output frame off the line (e.g. a window in EPIC's compressed first payload). ``v`` is the model's time of the
  IMU the window matched (the window's mean frame instant minus its lag), the time :func:`corrected` moves;
  fitted over the frame instants instead, a drift ``b`` would scale the offset by ``1 / (1 + b)`` (at a 500 ms
  offset in a 20 s recording, ~12 ms);
- second pass: the same windows measured again against the first line's model over ``±REFINE_LAG_S``, where the
  lag no longer drifts within a window (the assumed model's drift moves it by ~50 ms over a 2 s window at a
  500 ms offset in a 20 s recording, blurring its correlation peak); the two lines compose into one;
- confidence = (windows the last pass kept) / (moving windows) × (median peak r of the kept windows). The
  estimate is used when ``confidence >= MIN_CONFIDENCE`` and at least ``MIN_WINDOWS`` windows agree; otherwise
  the assumed model stays and :attr:`SyncEstimate.reason` says why. With fewer than ``MIN_WINDOWS`` moving
  windows (a short recording, or one mostly still) their frame pairs are pooled into one lag (offset only,
  ``b = 0``), used when its peak r is at least :data:`MIN_POOLED_R`: the stricter bar for less evidence.

Windows are spread evenly over the whole recording, the first and the last included (:func:`window_starts`).

Deterministic: numpy only, float64, fixed window placement; the results are rounded (offset and scale to 1e-6).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
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
MIN_POOLED_R = 0.8
#: rad/s: a window whose gyroscope turns less (RMS of its frame-interval rates about their mean) is still
#: (karma.mp4: 0.004-0.007 rad/s hovering, 0.15-0.19 rad/s in the windows holding its final turn)
MIN_ROTATION_RAD_S = 0.02
DEFAULT_MAX_LAG_S = 1.0
#: decoder threads for the windows: the probe of one long recording otherwise leaves a worker's second core idle
#: while it decodes (ffmpeg's frame-threaded H.264 decoding and its scaler give the same frames at any count)
SYNC_DECODE_THREADS = 2
REFINE_LAG_S = 0.125  # the second pass's search range around the first pass's line (3 output frames at 24 fps)
#: why the assumed model was kept
LOW_CONFIDENCE = "low_confidence"
TOO_FEW_WINDOWS = "too_few_windows"
NO_MOTION = "no_motion"


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
    still: int = 0  # windows without rotation to measure (left out of the fit and the confidence)


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
    """``--sync auto`` for one recording: decode :func:`auto_windows` windows of the video at ``path`` (with at
    least :data:`SYNC_DECODE_THREADS` decoder threads: the frames are bit-identical at any thread count) and
    :func:`estimate_offset` the gyroscope against them, starting from ``assumed``."""
    g, duration = cfg.geometry, info.n_frames / float(info.fps)
    decode_cfg = replace(cfg, threads=max(cfg.threads, SYNC_DECODE_THREADS))
    windows = decode_windows(path, info, window_starts(duration, auto_windows(duration), g), decode_cfg)
    return estimate_offset(windows, gyro, assumed, out_fps=g.fps)


def window_starts(duration_s: float, n_windows: int, geometry: ClipGeometry = DEFAULT_GEOMETRY) -> list[Fraction]:
    """``n_windows`` starts (s, exact fractions) of clips of ``geometry`` evenly spread over a recording of
    ``duration_s`` seconds, on the 1/fps grid: the first at 0, the last ending within the recording's last
    step of the grid (a short recording's motion may lie at its very end)."""
    fps, last = geometry.fps, max(duration_s - geometry.window_s, 0.0)
    return sorted({Fraction(int(math.floor(t * fps + 1e-9)), fps) for t in np.linspace(0.0, last, n_windows)})


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
        out.append(Window(idx / float(info.fps), block_mean(frames, DOWNSAMPLE)))
    return out


def block_mean(frames: np.ndarray, d: int) -> np.ndarray:
    """uint8 frames (T, H, W, C) averaged over d x d pixel blocks and rounded (half to even): uint8
    (T, H // d, W // d, C); rows and columns past the last whole block are left out.

    The block sums are exact integers (summed as uint16 over the d² strided views, d <= 16), so dividing
    by d² gives the float64 mean bit for bit; ~10x faster than a float64 ``mean`` over reshaped axes."""
    if not 1 <= d <= 16:
        raise ValueError(f"block size must be in 1..16, not {d}")
    t, h, w, c = frames.shape
    acc = np.zeros((t, h // d, w // d, c), np.uint16)
    for i in range(d):
        for j in range(d):
            acc += frames[:, i: h // d * d: d, j: w // d * d: d]
    return np.rint(acc / float(d * d)).astype(np.uint8)


@dataclass(frozen=True)
class _Pairs:
    """One window's moving frame pairs: image velocity (n, 2) px/s — each pair's image motion over the time between
    its two source instants ``t0v``/``t1v`` (video s), so that pairs spanning one or two source frames (24 from
    29.97 fps) compare alike with the gyroscope's mean rate over the same interval — with the gyroscope around
    them (``t`` IMU time, ``values`` (m, 3))."""

    motion: np.ndarray
    t0v: np.ndarray
    t1v: np.ndarray
    t: np.ndarray
    values: np.ndarray

    def rates(self, assumed: SyncParams, lag: float) -> np.ndarray:
        """The gyroscope's mean rates (n, 3) rad/s over the pairs' intervals moved by ``lag`` (NaN where they leave
        it)."""
        return self.rates_at_lags(assumed, np.array([lag], dtype=np.float64))[0]

    def rates_at_lags(self, assumed: SyncParams, lags_s: np.ndarray) -> np.ndarray:
        """:meth:`rates` at every lag of ``lags_s`` (L,): (L, n, 3), in one :func:`interval_rates` call (the angle
        integrated once, not once per lag; the same values)."""
        q0 = assumed.to_imu(self.t0v[None, :] - lags_s[:, None])
        q1 = assumed.to_imu(self.t1v[None, :] - lags_s[:, None])
        return interval_rates(self.values, self.t, q0.ravel(), q1.ravel()).reshape(lags_s.size, -1, 3)


def _pairs(win: Window, gyro: TimedStream, assumed: SyncParams, margin_s: float) -> _Pairs:
    """``win``'s image motion and the gyroscope within ``margin_s`` of it."""
    motion = frame_motion(win.frames)
    t0v, t1v = win.times_s[:-1], win.times_s[1:]
    moving = t1v > t0v  # repeated source frames (output rate above the source's) carry no motion interval
    lo, hi = np.searchsorted(gyro.t_s, assumed.to_imu([t0v[0] - margin_s, t1v[-1] + margin_s]))
    sl = slice(max(lo - 1, 0), hi + 1)
    velocity = motion[moving] / (t1v - t0v)[moving, None]
    return _Pairs(velocity, t0v[moving], t1v[moving], gyro.t_s[sl], gyro.values[sl])


def rotation_rms(pairs: _Pairs, assumed: SyncParams) -> float:
    """How much the gyroscope turns over a window (rad/s): the RMS of its frame-interval rates about their mean,
    the three axes together (NaN intervals, outside the IMU, left out; 0 when none is left)."""
    rates = pairs.rates(assumed, 0.0)
    rates = rates[~np.isnan(rates).any(axis=1)]
    return float(np.sqrt(((rates - rates.mean(axis=0)) ** 2).sum(axis=1).mean())) if len(rates) else 0.0


def _lag_fit(items: Sequence[_Pairs], assumed: SyncParams, lags_s: np.ndarray) -> tuple[float, float]:
    """(lag s, motion-weighted peak r) of the frame pairs of ``items`` pooled (one window: its own)."""
    stacked = [p.rates_at_lags(assumed, lags_s) for p in items]
    row = {float(lag): i for i, lag in enumerate(lags_s)}
    fit = best_lag([p.motion for p in items], lambda lag: [r[row[lag]] for r in stacked], lags_s)
    weight = np.concatenate([p.motion for p in items]).std(axis=0)
    r = np.array([abs(fit.r[k, fit.axes[k]]) for k in range(2)])
    return fit.lag_s, float(r @ weight / weight.sum()) if weight.sum() > 0 else float(r.mean())


@dataclass(frozen=True)
class _Pass:
    """One pass over the windows against a model: per-window lags and peak r, the fitted line, the kept windows."""

    lags: np.ndarray
    r: np.ndarray
    a: float
    b: float
    good: np.ndarray


def _measure(pairs: Sequence[_Pairs], mid: np.ndarray, candidates: np.ndarray, model: SyncParams, max_lag_s: float,
             step_s: float, tol_s: float) -> _Pass:
    """Every window's lag against ``model`` (searched over ``±max_lag_s`` on a grid of ``step_s``; ``mid`` (n,) the
    windows' mean frame instants) and the line ``lag = a + b · v`` through the agreeing ones among ``candidates``."""
    grid = np.arange(-round(max_lag_s / step_s), round(max_lag_s / step_s) + 1) * step_s
    fits = [_lag_fit([p], model, grid) for p in pairs]
    lags = np.array([f[0] for f in fits])
    r = np.array([f[1] for f in fits])
    # the lag is a function of the model's time v (``corrected``): a window whose frames around video time m
    # match the IMU the model puts at m - L measured L at v = m - L, not at m (fitted over m, a drift b of a few %
    # would scale the offset by 1 / (1 + b): ~12 ms of bias at 500 ms)
    at = mid - lags
    good = candidates & (r >= MIN_WINDOW_R)
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
    step, tol = 1.0 / gyro.rate_hz, 1.0 / out_fps
    pairs = [_pairs(w, gyro, assumed, max_lag_s + REFINE_LAG_S + 0.1) for w in windows]
    turning = np.array([rotation_rms(p, assumed) >= MIN_ROTATION_RAD_S for p in pairs], dtype=bool)
    mid = np.array([float(np.mean(w.times_s)) for w in windows])
    n_moving, n = int(turning.sum()), len(windows)
    first = _measure(pairs, mid, turning, assumed, max_lag_s, step, tol)
    a, b, last = first.a, first.b, first
    if first.good.sum() >= MIN_WINDOWS:  # refine against the first line, whose lag no longer drifts in a window
        model = SyncParams(assumed.offset_s * (1 + b) + a, assumed.scale * (1 + b))  # corrected(), unrounded
        last = _measure(pairs, mid, first.good, model, REFINE_LAG_S, step, tol)
        a, b = a * (1 + last.b) + last.a, (1 + b) * (1 + last.b) - 1  # corrected(model, a2, b2) as one line
    good = last.good
    kept = int(good.sum())
    peak_r = float(np.median(last.r[good])) if kept else 0.0
    confidence = kept / max(n_moving, 1) * peak_r
    reason = ""
    if not n_moving:
        reason = f"{NO_MOTION}: no window of {n} turns by {MIN_ROTATION_RAD_S} rad/s"
    elif n_moving < MIN_WINDOWS:  # little evidence: one lag from all its frame pairs, offset only, a stricter bar
        grid = np.arange(-round(max_lag_s / step), round(max_lag_s / step) + 1) * step
        a, peak_r = _lag_fit([p for p, m in zip(pairs, turning) if m], assumed, grid)
        b, good = 0.0, turning & (np.abs(first.lags - a) <= tol)
        kept, confidence = int(good.sum()), peak_r
        if peak_r < MIN_POOLED_R:
            reason = (f"{LOW_CONFIDENCE}: peak r {peak_r:.3f} < {MIN_POOLED_R} over the {n_moving} moving "
                      f"window(s) of {n}")
    elif kept < MIN_WINDOWS:
        reason = f"{TOO_FEW_WINDOWS}: {kept} of {n_moving} moving windows agree (need {MIN_WINDOWS})"
    elif confidence < MIN_CONFIDENCE:
        reason = f"{LOW_CONFIDENCE}: confidence {confidence:.3f} < {MIN_CONFIDENCE}"
    sync = corrected(assumed, a, b) if not reason else assumed
    return SyncEstimate(sync, not reason, reason, round(a, 6), round(b, 9), round(peak_r, 4), round(confidence, 4),
                        n, kept, tuple(round(float(x), 6) for x in first.lags),
                        tuple(round(float(x), 4) for x in first.r), n - n_moving)
