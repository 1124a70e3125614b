"""Re-timing, filtering and sync of IMU streams (the time model: :mod:`egoimu.pipeline.imu`).

:func:`retime` recovers each sample's sensor-clock time from the payload structure of the Milliseconds
column; :func:`timed_stream` splits at gaps, puts each segment on an even grid and low-passes it
(:func:`prepare_stream` does both for one cleaned file); :func:`sync_for_video` gives each stream its
:class:`~egoimu.pipeline.imu.SyncParams` onto the video timeline, from a sync table
(:func:`load_sync_table`) or from the recording's span (:func:`estimate_sync`).
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from egoimu.pipeline.imu import (
    DEFAULT_IMU,
    EPIC_PAYLOAD,
    SYNC_COLUMNS,
    AnyStream,
    ImuConfig,
    ImuCoverageError,
    ImuError,
    ImuStream,
    SyncParams,
    TimedStream,
)
from egoimu.pipeline.imu_convention import detect_convention, sensor_times


def retime(ms: np.ndarray, cfg: ImuConfig = DEFAULT_IMU) -> tuple[np.ndarray, float]:
    """Sensor-clock times of the samples of one file.

    ``ms``: (n,) strictly increasing Milliseconds column of a cleaned stream. Returns ``t_s`` (n,)
    float64 seconds on the telemetry clock (payload k starts at ~k s) and ``rate_hz`` (samples per
    telemetry second). Method: rows are grouped into payloads by ``floor(ms / payload_ms)``; a
    payload's spacing (smallest step) gives its sample count n_k and each row's index j in it, so
    removed rows leave exact holes. Consecutive payloads with a known count form a stretch in which
    every sample's index is exact; a missing payload, or an interior payload with fewer than
    ``short_payload_frac`` x the median count (samples lost at unknown positions), ends a stretch.
    One rate and one intercept per stretch are fitted by least squares to (payload time k, index of
    the payload's first sample - 1/2: a boundary lies on average half a period before the first
    sample after it) over all payloads (``robust``: payloads more than max(4 sigma_MAD,
    2) samples off, such as an overlong first payload, are left out of the fit). Rows that cannot be
    timed (a short payload, a lone row, off-grid rows) get NaN. Raises :class:`ImuError` if the
    times would not increase.
    """
    ms = np.asarray(ms, dtype=np.float64).reshape(-1)
    n = ms.size
    if n < 2 or not np.all(np.diff(ms) > 0):
        raise ImuError(None, "retime needs >= 2 strictly increasing Milliseconds values")
    P = cfg.payload_ms
    k = np.floor(ms / P + 1e-9).astype(np.int64)
    off = ms - k * P
    uk, first, cnt = np.unique(k, return_index=True, return_counts=True)
    g = np.repeat(np.arange(uk.size), cnt)  # payload of every row
    step = np.full(n, np.inf)
    step[:-1] = np.where(k[1:] == k[:-1], np.diff(ms), np.inf)
    dmin = np.minimum.reduceat(step, first)
    n_k = np.where(np.isfinite(dmin), np.rint(P / np.where(np.isfinite(dmin), dmin, 1.0)), 0)
    n_k = n_k.astype(np.int64)
    known = n_k > 0
    interior = np.ones(uk.size, dtype=bool)
    interior[[0, -1]] = False
    inner = known & interior
    n_typ = float(np.median(n_k[inner] if inner.any() else n_k[known] if known.any() else [1.0]))
    spacing = P / np.where(known, n_k, n_typ)
    j = np.rint(off / spacing[g]).astype(np.int64)
    row_ok = (np.abs(off - j * spacing[g]) <= 0.25 * spacing[g]) & (j >= 0)
    if not known[-1] and cnt[-1] == 1 and row_ok[-1] and j[-1] == 0:
        n_k[-1], known[-1] = 1, True  # a last payload of a single sample
    row_ok &= j < n_k[g]
    bad = np.bincount(g, weights=~row_ok, minlength=uk.size) > 0
    usable = known & ~bad & ~(interior & (n_k < cfg.short_payload_frac * n_typ))
    new = np.ones(uk.size, dtype=bool)
    new[1:] = ~(usable[:-1] & (np.diff(uk) == 1))
    sid = np.cumsum(new) - 1  # stretch id per payload (meaningful where usable)
    excl = np.concatenate([[0], np.cumsum(np.where(usable, n_k, 0))[:-1]])
    head = np.maximum.accumulate(np.where(new, np.arange(uk.size), 0))
    start_idx = excl - excl[head]  # index of the payload's first sample within its stretch
    # A payload boundary falls, on average, half a sample period before the payload's first sample.
    a_s, a_tau, a_L = sid[usable], uk[usable] * (P / 1000.0), start_idx[usable] - 0.5
    if a_s.size == 0:
        raise ImuError(None, "no payload with a measurable sample spacing")
    _, a_s = np.unique(a_s, return_inverse=True)
    # The first and the last payload are special by construction in GoPro files (pre-roll before
    # the first frame; a partial or merged last piece): they are timed by the line the interior
    # payloads fit, not used to fit it (with few payloads a robust fit cannot reject them reliably).
    a_inner = interior[usable]
    init = a_inner if a_inner.sum() >= 2 else np.ones(a_s.size, dtype=bool)
    rate, c = _fit_rate(a_s, a_tau, a_L, fallback=n_typ * 1000.0 / P, robust=cfg.retime == "robust",
                        init_mask=init)
    t = np.full(n, np.nan)
    rows = usable[g] & row_ok
    stretch_of = np.full(uk.size, -1)
    stretch_of[usable] = a_s
    t[rows] = (start_idx[g[rows]] + j[rows] - c[stretch_of[g[rows]]]) / rate
    tv = t[rows]
    if tv.size > 1 and not np.all(np.diff(tv) > 0):
        raise ImuError(None, "re-timed stretches overlap: payload structure not understood")
    return t, rate


def _fit_rate(s: np.ndarray, tau: np.ndarray, L: np.ndarray, fallback: float,
              robust: bool, init_mask: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Fit ``L = c[s] + rate * tau`` (shared rate, one intercept per stretch s) by least squares on
    the inlier anchors (starting from ``init_mask``; robust iterations may only drop anchors from
    it); returns (rate, c (S,))."""
    S = int(s.max()) + 1
    allowed = np.ones(s.size, dtype=bool) if init_mask is None else init_mask.astype(bool)
    mask = allowed.copy()
    for _ in range(6):
        w = mask.astype(np.float64)
        cnt = np.bincount(s, weights=w, minlength=S)
        has = cnt > 0
        tbar = np.bincount(s, weights=w * tau, minlength=S) / np.maximum(cnt, 1)
        lbar = np.bincount(s, weights=w * L, minlength=S) / np.maximum(cnt, 1)
        dt = (tau - tbar[s]) * w
        den = float(np.sum(dt * dt))
        rate = float(np.sum(dt * (L - lbar[s])) / den) if den > 1e-9 else fallback
        c = lbar - rate * tbar
        if not has.all():  # stretch with no inlier: intercept from all its anchors
            allc = np.bincount(s, weights=L - rate * tau, minlength=S) / np.bincount(s, minlength=S)
            c = np.where(has, c, allc)
        if not robust:
            break
        res = L - (c[s] + rate * tau)
        sigma = 1.4826 * float(np.median(np.abs(res[mask])))
        new_mask = (np.abs(res) <= max(4.0 * sigma, 2.0)) & allowed
        if np.array_equal(new_mask, mask) or not new_mask.any():
            break
        mask = new_mask
    return rate, c


# ----------------------------------------------------------------------------------- timed streams
def timed_stream(kind: str, t_s: np.ndarray, values: np.ndarray, cfg: ImuConfig = DEFAULT_IMU,
                 rate_hz: float | None = None, path: str | None = None,
                 convention: str = EPIC_PAYLOAD) -> TimedStream:
    """Build a :class:`TimedStream` from sample times (e.g. :func:`sample_times`', or a synthetic truth).

    ``t_s`` (n,) seconds (NaN rows dropped and counted as ``n_untimed``, the rest strictly increasing);
    ``values`` (n, 3); ``convention``: what the times are (for messages). Splits
    at gaps > ``max_gap_s``; puts each segment on an even grid from its first to its last sample
    (linear interpolation fills holes <= ``max_gap_s``); low-passes each segment with a zero-phase
    Butterworth (``sosfiltfilt``) at ``lowpass_hz`` when that is below 0.95 x the stream's Nyquist.
    Every stream gets the same filter, whatever its rate: with a +-1 % clock a ~200 Hz stream is
    down-sampled to 198 Hz for some files and up-sampled for others, and one response for all files
    and both sensors (400 Hz HERO5 gyroscopes included) keeps the spectrograms comparable; 80 Hz is
    far above head motion and removes what would alias across 99 Hz. Segments shorter than the
    filter's padding are left unfiltered.
    """
    from scipy import signal  # imported where used: the build's own process never needs scipy (~0.6 s)

    t = np.asarray(t_s, dtype=np.float64).reshape(-1)
    v = np.asarray(values, dtype=np.float64).reshape(-1, 3)
    keep = np.isfinite(t)
    t, v = t[keep], v[keep]
    n_untimed = int(keep.size - t.size)
    if t.size < 2 or not np.all(np.diff(t) > 0):
        raise ImuError(path, f"{kind}: need >= 2 strictly increasing sample times")
    rate = float(rate_hz) if rate_hz else 1.0 / float(np.median(np.diff(t)))
    cuts = np.flatnonzero(np.diff(t) > cfg.max_gap_s) + 1
    sos = None
    if cfg.lowpass_hz is not None and cfg.lowpass_hz < 0.95 * rate / 2:
        sos = signal.butter(cfg.lowpass_order, cfg.lowpass_hz, fs=rate, output="sos")
    ts, vs, starts, pos = [], [], [], 0
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, t.size]):
        tt, vv = t[a:b], v[a:b]
        m = int(round((tt[-1] - tt[0]) * rate))
        if m >= 1:
            grid = tt[0] + (tt[-1] - tt[0]) * np.arange(m + 1) / m
            vv = np.stack([np.interp(grid, tt, vv[:, i]) for i in range(3)], axis=1)
            tt = grid
        if sos is not None and tt.size > 3 * (2 * len(sos) + 1):
            vv = signal.sosfiltfilt(sos, vv, axis=0)
        ts.append(tt)
        vs.append(vv)
        starts.append(pos)
        pos += tt.size
    return TimedStream(kind, np.concatenate(ts), np.concatenate(vs), rate,
                       np.asarray(starts, dtype=np.int64), path, convention, n_untimed)


def sample_times(ms: np.ndarray, cfg: ImuConfig = DEFAULT_IMU) -> tuple[np.ndarray, float, str]:
    """Times of the rows of one cleaned file in its convention: ``t_s`` (n,) float64 seconds (NaN for a
    row that cannot be timed; ``sensor`` times every row), ``rate_hz`` and the convention used
    (``epic-payload`` or ``sensor``; ``cfg.convention`` ``auto`` decides from ``ms``). ``ms``: (n,) strictly
    increasing Milliseconds. Raises :class:`ImuError` (without a path) when the times cannot be made."""
    convention = detect_convention(ms, cfg.convention, cfg.payload_ms)
    try:
        t, rate = retime(ms, cfg) if convention == EPIC_PAYLOAD else sensor_times(ms)
    except ImuError as e:
        raise ImuError(None, f"{e.reason} (Milliseconds read as {convention} time, imu.convention "
                             f"{cfg.convention})") from None
    return t, rate, convention


def prepare_stream(stream: ImuStream, cfg: ImuConfig = DEFAULT_IMU) -> TimedStream:
    """:func:`sample_times` + :func:`timed_stream` for one cleaned file (run once per stream per video)."""
    try:
        t, rate, convention = sample_times(stream.ms, cfg)
    except ImuError as e:
        raise ImuError(stream.path, f"{stream.kind}: {e.reason}") from None
    return timed_stream(stream.kind, t, stream.values, cfg, rate_hz=rate, path=stream.path, convention=convention)


def as_timed(stream: AnyStream, cfg: ImuConfig) -> TimedStream:
    """``stream`` itself if already timed, else :func:`prepare_stream` of it."""
    return stream if isinstance(stream, TimedStream) else prepare_stream(stream, cfg)


# -------------------------------------------------------------------------------------------- sync
def estimate_sync(stream: AnyStream, video_duration_s: float, cfg: ImuConfig = DEFAULT_IMU) -> SyncParams:
    """Default sync when the IMU covers the whole recording (GoPro writes telemetry for exactly the
    recorded span): offset 0 (IMU time 0 = first frame: the start of payload 0 for ``epic-payload``,
    Milliseconds 0 for ``sensor``) and ``scale = video_duration_s / t_end`` with ``t_end`` = last sample
    time + half a sample period, so that the IMU spans the video; the scale absorbs the telemetry clock
    error. It needs no payload count, so a partial last payload is harmless. Raises
    :class:`ImuCoverageError` when ``|scale - 1| > max_clock_error`` (truncated IMU: give the video a
    sync-table entry instead), saying what was measured in the stream's own time."""
    ts = as_timed(stream, cfg)
    t_end = float(ts.t_s[-1]) + 0.5 / ts.rate_hz  # the recording ends within the last sample period
    scale = float(video_duration_s) / t_end
    if not abs(scale - 1.0) <= cfg.max_clock_error:
        if ts.convention == EPIC_PAYLOAD:
            what = (f"IMU spans {t_end:.3f} s of {ts.time_name}, video {video_duration_s:.3f} s (clock error "
                    f"{scale - 1:+.2%} beyond {cfg.max_clock_error:.0%})")
        else:
            what = (f"IMU {ts.time_name} runs from {float(ts.t_s[0]):.3f} s to {t_end:.3f} s, the video lasts "
                    f"{video_duration_s:.3f} s: scaling one onto the other would take {scale - 1:+.2%}, beyond "
                    f"the {cfg.max_clock_error:.0%} a clock error explains")
        raise ImuCoverageError(ts.path, f"{ts.kind}: {what}")
    return SyncParams(0.0, scale)


def load_sync_table(path: str | os.PathLike[str]) -> dict[str, SyncParams]:
    """Read a per-video sync table, CSV ``video_id,offset_s,scale`` (UTF-8, with or without BOM) ->
    {video_id: SyncParams}. ``offset_s``, ``scale`` refer to each stream's IMU time (:func:`sample_times`).
    :class:`ImuError` on an unreadable file, an undecodable byte, a wrong header, a bad value (line named) or a
    repeated video_id."""
    p = os.fspath(path)
    try:
        raw = Path(p).read_bytes()
    except FileNotFoundError:
        raise ImuError(p, "file not found") from None
    except OSError as e:
        raise ImuError(p, f"cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ImuError(p, f"not UTF-8 (byte 0x{raw[e.start]:02x})", line=raw[:e.start].count(b"\n") + 1) from None
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as e:
        raise ImuError(p, f"not a sync table: {e}") from None
    if tuple(c.strip() for c in df.columns) != SYNC_COLUMNS:
        raise ImuError(p, f"header {','.join(df.columns)!r}, expected {','.join(SYNC_COLUMNS)!r}", line=1)
    table: dict[str, SyncParams] = {}
    for i, (vid, off, sc) in enumerate(df.itertuples(index=False, name=None)):
        try:
            o, s = float(off), float(sc)
        except ValueError:
            raise ImuError(p, f"non-numeric offset_s/scale {off!r}, {sc!r}", line=i + 2) from None
        vid = vid.strip()
        if not vid or not (math.isfinite(o) and math.isfinite(s) and s > 0):
            raise ImuError(p, "need a video_id, a finite offset_s and a scale > 0", line=i + 2)
        if vid in table:
            raise ImuError(p, f"video_id {vid!r} repeated", line=i + 2)
        table[vid] = SyncParams(o, s)
    return table


def sync_for_video(video_id: str, streams: Mapping[str, AnyStream], video_duration_s: float,
                   table: Mapping[str, SyncParams] | None = None,
                   cfg: ImuConfig = DEFAULT_IMU) -> dict[str, SyncParams]:
    """{kind: SyncParams}: the table's entry (both sensors share it) if there is one, otherwise
    :func:`estimate_sync` per stream (each spans the video by itself)."""
    if table is not None and video_id in table:
        return {kind: table[video_id] for kind in streams}
    return {kind: estimate_sync(s, video_duration_s, cfg) for kind, s in streams.items()}
