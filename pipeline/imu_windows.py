"""Resampling synced IMU streams into clip windows: ``(w, 396, 6)`` float32 on the paper's 198 Hz grid,
each window kept or rejected with its reason (outside the IMU's coverage, over a gap).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from egoimu.pipeline.imu import DEFAULT_IMU, KINDS, AnyStream, ImuConfig, ImuCoverageError, SyncParams, TimedStream
from egoimu.pipeline.imu_timing import as_timed


def resample_windows(streams: Mapping[str, AnyStream], sync: SyncParams | Mapping[str, SyncParams],
                     starts_s: Sequence[float] | np.ndarray,
                     cfg: ImuConfig = DEFAULT_IMU) -> tuple[np.ndarray, np.ndarray]:
    """Windows of one video on the grid ``t = start + n / rate_hz`` (video seconds), n < n_samples.

    ``streams``: {'accl': ..., 'gyro': ...}, :class:`TimedStream` (prepared once, preferred) or
    :class:`ImuStream` (prepared here, once per call). ``sync``: one :class:`SyncParams` or one per
    kind. ``starts_s``: (w,) window starts, video seconds. Returns ``x`` (w, 396, 6) float32 in
    :data:`CHANNELS` order (m/s^2, rad/s) and ``reasons`` (w,) object array of str: '' for a kept
    window, else why it was rejected (past the IMU's first or last sample by more than
    ``edge_tol_s``, values there are held; or over a gap > ``max_gap_s``); rejected rows of ``x``
    are NaN. Vectorised over windows.
    """
    starts = np.asarray(starts_s, dtype=np.float64).reshape(-1)
    g = cfg.geometry
    grid = np.arange(g.imu_len) / float(g.imu_rate_hz)
    x = np.empty((starts.size, g.imu_len, 6), dtype=np.float32)
    reasons = np.full(starts.size, "", dtype=object)
    for ci, kind in enumerate(KINDS):
        if kind not in streams:  # a caller may resample one sensor at a time (its channels stay NaN)
            x[:, :, 3 * ci:3 * ci + 3] = np.nan
            continue
        ts = as_timed(streams[kind], cfg)
        sp = sync[kind] if isinstance(sync, Mapping) else sync
        q = sp.to_imu(starts[:, None] + grid[None, :])  # (w, n) IMU seconds
        for i, why in zip(*_window_reasons(ts, q[:, 0], q[:, -1], sp, cfg)):
            reasons[i] = f"{reasons[i]}; {why}" if reasons[i] else why
        with np.errstate(over="ignore"):  # beyond float32's range becomes inf: the shard stage rejects such a clip
            x[:, :, 3 * ci:3 * ci + 3] = _interp(ts, q.reshape(-1), cfg).reshape(q.shape + (3,))
    x[reasons != ""] = np.nan
    return x, reasons


def resample_window(streams: Mapping[str, AnyStream], sync: SyncParams | Mapping[str, SyncParams],
                    start_s: float, cfg: ImuConfig = DEFAULT_IMU) -> np.ndarray:
    """One window, (396, 6) float32 (see :func:`resample_windows`); raises :class:`ImuCoverageError`
    with the reason when it is rejected. Prefer :func:`resample_windows` for many windows."""
    x, reasons = resample_windows(streams, sync, [start_s], cfg)
    if reasons[0]:
        path = next((s.path for s in streams.values() if s.path), None)
        raise ImuCoverageError(path, f"window at {start_s:.3f} s: {reasons[0]}")
    return x[0]


def _window_reasons(ts: TimedStream, q0: np.ndarray, q1: np.ndarray, sp: SyncParams,
                    cfg: ImuConfig) -> tuple[np.ndarray, list[str]]:
    """Indices of rejected windows and their reasons, for windows spanning [q0, q1] IMU seconds."""
    tol = cfg.edge_tol_s / sp.scale
    lo, hi = float(ts.t_s[0]), float(ts.t_s[-1])
    outside = (q0 < lo - tol) | (q1 > hi + tol)
    gaps = ts.gaps
    hit = (gaps[None, :, 0] < q1[:, None]) & (gaps[None, :, 1] > q0[:, None])  # (w, g)
    bad = np.flatnonzero(outside | hit.any(axis=1))
    whys = []
    for i in bad:
        if outside[i]:
            whys.append(f"{ts.kind}: window [{sp.to_video(q0[i]):.3f}, {sp.to_video(q1[i]):.3f}] s "
                        f"outside IMU coverage [{sp.to_video(lo):.3f}, {sp.to_video(hi):.3f}] s")
        else:
            gi = np.flatnonzero(hit[i])
            gl = gaps[gi, 1] - gaps[gi, 0]  # measured in the stream's own time
            at = float(sp.to_video(gaps[gi[np.argmax(gl)], 0]))
            whys.append(f"{ts.kind}: IMU gap of {gl.max():.3f} s in {ts.time_name} at {at:.3f} s on the video "
                        f"(max {cfg.max_gap_s} s)")
    return bad, whys


def _interp(ts: TimedStream, q: np.ndarray, cfg: ImuConfig) -> np.ndarray:
    """Values (len(q), 3) at IMU times ``q`` (clamped to the coverage; per segment for cubic)."""
    q = np.clip(q, ts.t_s[0], ts.t_s[-1])
    if cfg.interp == "linear":
        return np.stack([np.interp(q, ts.t_s, ts.values[:, i]) for i in range(3)], axis=1)
    from scipy import interpolate  # imported where used: the build's own process never needs scipy

    out = np.empty((q.size, 3))
    bounds = np.r_[ts.seg_starts, ts.t_s.size]
    seg = np.searchsorted(ts.t_s[ts.seg_starts], q, side="right") - 1
    for si in np.unique(seg):
        a, b = bounds[si], bounds[si + 1]
        sel = seg == si
        qq = np.clip(q[sel], ts.t_s[a], ts.t_s[b - 1])
        if b - a >= 4:
            out[sel] = interpolate.CubicSpline(ts.t_s[a:b], ts.values[a:b], axis=0)(qq)
        else:
            out[sel] = np.stack([np.interp(qq, ts.t_s[a:b], ts.values[a:b, i]) for i in range(3)], axis=1)
    return out
