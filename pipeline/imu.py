"""GoPro IMU streams: read and clean the CSVs, re-time the samples, sync them to the video timeline and
resample 2-second windows onto the paper's 198 Hz grid (396 x 6 clips).

Time model (docs/conventions.md). The sensor samples at a constant true rate; the extraction tool
groups samples into ~1 s payloads, gives payload k exactly ``[1000 k, 1000 (k+1))`` ms and spaces its
n_k samples 1000/n_k ms apart. :func:`retime` recovers, per row, the sample index (exact inside a
contiguous stretch of payloads, holes included: the payload's spacing says which indices are missing)
and fits one rate for the file, so that ``t_imu = (index - c_s) / rate`` seconds on the telemetry
clock, with payload k starting at about k seconds. The video timeline is then
``t_video = offset_s + scale * t_imu`` (:class:`SyncParams`).

Typical use, once per video (the filter runs once per stream, not per clip)::

    streams = {k: prepare_stream(read_imu_csv(p, k)) for k, p in (("accl", pa), ("gyro", pg))}
    sync = sync_for_video(video_id, streams, duration_s, table)      # table: load_sync_table(...)
    x, reasons = resample_windows(streams, sync, starts_s)           # (n, 396, 6), '' = kept
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import interpolate, signal

from egoimu.manifests.geometry import DEFAULT_GEOMETRY, ClipGeometry

KINDS: tuple[str, str] = ("accl", "gyro")
HEADERS: dict[str, tuple[str, ...]] = {
    "accl": ("Milliseconds", "AcclX", "AcclY", "AcclZ"),  # m/s^2
    "gyro": ("Milliseconds", "GyroX", "GyroY", "GyroZ"),  # rad/s
}
CHANNELS: tuple[str, ...] = HEADERS["accl"][1:] + HEADERS["gyro"][1:]  # column order of a window
SYNC_COLUMNS: tuple[str, ...] = ("video_id", "offset_s", "scale")
_NA_TOKENS = frozenset({"", "nan", "NaN", "NAN", "-nan", "-NaN", "NA", "N/A", "null", "NULL"})


@dataclass(frozen=True)
class ImuConfig:
    """IMU stage settings. ``# paper``: stated in arXiv 2110.01680; ``# ours``: our choice.

    The output grid (``geometry.imu_rate_hz``, ``geometry.imu_len`` samples a window) is the build's clip
    geometry; ``lowpass_hz`` must lie below its Nyquist rate (checked by the build config).
    """

    geometry: ClipGeometry = DEFAULT_GEOMETRY  # paper: the build's clip geometry (396 x 6 at 198 Hz)
    payload_ms: float = 1000.0  # ours: span the extraction tool gives every payload (README)
    short_payload_frac: float = 0.9  # ours: interior payload with < frac x median count lost samples
    max_gap_s: float = 0.1  # ours: reject a window holding a gap in the samples longer than this
    edge_tol_s: float = 0.02  # ours: a window may pass the IMU's first/last sample by this (held)
    interp: Literal["linear", "cubic"] = "linear"  # ours: interpolation onto the 198 Hz grid
    retime: Literal["robust", "lstsq"] = "robust"  # ours: rate fit; robust drops outlier payloads
    lowpass_hz: float | None = 80.0  # ours: zero-phase Butterworth cut-off (every stream); None: off
    lowpass_order: int = 8  # ours: Butterworth order (sosfiltfilt doubles it)
    max_clock_error: float = 0.03  # ours: |scale - 1| above this -> IMU does not span the video


DEFAULT_IMU = ImuConfig()


class ImuError(ValueError):
    """A problem with an IMU (or sync table) input: ``path`` (None if in memory), ``reason``, and the
    1-based file ``line`` (header = line 1) where it applies."""

    def __init__(self, path: str | os.PathLike[str] | None, reason: str, line: int | None = None):
        self.path = None if path is None else os.fspath(path)
        self.reason = reason
        self.line = line
        where = f"{self.path}: " if self.path else ""
        at = f" (line {line})" if line is not None else ""
        super().__init__(f"{where}{reason}{at}")

    def __reduce__(self):  # picklable across Dask workers despite the custom __init__
        return (type(self), (self.path, self.reason, self.line))


class ImuCoverageError(ImuError):
    """The IMU does not cover what was asked (a window outside it or over a gap; a truncated file)."""


@dataclass(frozen=True)
class CleanReport:
    """What cleaning did to one file. Counts are rows; ``n_kept = n_rows - n_nan - n_duplicates``."""

    n_rows: int  # data rows read
    n_nan: int  # rows with a NaN/inf field, dropped
    n_duplicates: int  # rows repeating an earlier row's Milliseconds, dropped (first kept)
    n_nonmonotonic: int  # rows whose Milliseconds is below the previous row's (fixed by sorting)

    @property
    def n_kept(self) -> int:
        return self.n_rows - self.n_nan - self.n_duplicates


@dataclass(frozen=True, eq=False)
class ImuStream:
    """A cleaned IMU file: ``ms`` (n,) float64 strictly increasing Milliseconds column (payload
    time, not a sensor clock); ``values`` (n, 3) float64, m/s^2 (accl) or rad/s (gyro)."""

    kind: str  # 'accl' | 'gyro'
    ms: np.ndarray
    values: np.ndarray
    report: CleanReport
    path: str | None = None


@dataclass(frozen=True, eq=False)
class TimedStream:
    """A re-timed, low-pass-filtered stream ready for resampling.

    ``t_s`` (n,) float64: strictly increasing sensor-clock seconds (the ``t_imu`` of the sync model),
    evenly spaced inside each segment; ``values`` (n, 3) float64 (units as :class:`ImuStream`);
    ``seg_starts`` (m,) int64: index of each segment's first sample; between segments lies a gap
    longer than ``max_gap_s``. ``rate_hz``: samples per sensor-clock second.
    """

    kind: str
    t_s: np.ndarray
    values: np.ndarray
    rate_hz: float
    seg_starts: np.ndarray
    path: str | None = None

    @property
    def gaps(self) -> np.ndarray:
        """(m - 1, 2) float64 ``[last time before, first time after]`` of every gap, seconds."""
        s = self.seg_starts[1:]
        return np.stack([self.t_s[s - 1], self.t_s[s]], axis=1)


AnyStream = ImuStream | TimedStream


@dataclass(frozen=True)
class SyncParams:
    """``t_video = offset_s + scale * t_imu`` (seconds; ``t_imu`` as returned by :func:`retime`)."""

    offset_s: float = 0.0  # video time of IMU time 0, s
    scale: float = 1.0  # video seconds per IMU-clock second (1 +- clock error)

    def to_video(self, t_imu: np.ndarray | float) -> np.ndarray:
        return self.offset_s + self.scale * np.asarray(t_imu, dtype=np.float64)

    def to_imu(self, t_video: np.ndarray | float) -> np.ndarray:
        return (np.asarray(t_video, dtype=np.float64) - self.offset_s) / self.scale


# ----------------------------------------------------------------------------------------- reading
def read_imu_csv(path: str | os.PathLike[str], kind: str) -> ImuStream:
    """Read a GoPro ``PXX_1YY-accl.csv`` / ``-gyro.csv`` and clean it (:func:`clean_imu`).

    Raises :class:`ImuError` for a missing or empty file, a wrong header (line 1) or a malformed line
    (wrong field count or a non-numeric field; the first such line is named). Empty, ``nan``/``NA``
    fields are NaN: their rows are dropped and counted in ``report.n_nan``. Blank lines are skipped.
    """
    if kind not in HEADERS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    p = os.fspath(path)
    try:
        with open(p, "rb") as f:
            first = f.readline()
            if first.startswith(b"\xef\xbb\xbf"):
                first = first[3:]
            if not first.strip() and not f.read(1).strip():
                raise ImuError(p, "empty file")
            try:
                header = tuple(s.strip() for s in first.decode("utf-8").strip().split(","))
            except UnicodeDecodeError as e:
                raise ImuError(p, f"cannot read the header: {e}", line=1) from None
            if header != HEADERS[kind]:
                raise ImuError(p, f"header {','.join(header)!r}, expected {','.join(HEADERS[kind])!r}", line=1)
            values = _parse_rows(p, f)
    except FileNotFoundError:
        raise ImuError(p, "file not found") from None
    except OSError as e:
        raise ImuError(p, f"cannot read: {e}") from None
    if values.shape[0] == 0:
        raise ImuError(p, "no data rows")
    return clean_imu(kind, values[:, 0], values[:, 1:], path=p)


_CHUNK_BYTES = 1 << 20


def _parse_rows(path: str, f: io.BufferedReader) -> np.ndarray:
    """The rest of an open file -> (n, 4) float64, streamed in ~1 MiB blocks of whole lines.

    Memory: the result plus one block, whatever the file's length (no Python object per line).
    Field counts are checked vectorised (commas per line); values are parsed by pandas' C parser;
    only when that fails is the bad line of the block searched for, to name it.
    """
    parts, line0, carry = [], 2, b""  # line0: file line number of the block's first line
    while True:
        block = f.read(_CHUNK_BYTES)
        data = carry + block
        if not block:
            carry = b""
        else:
            cut = data.rfind(b"\n") + 1
            data, carry = data[:cut], data[cut:]
        if data:
            parts.append(_parse_block(path, data, line0))
            line0 += data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        if not block:
            break
    parts = [x for x in parts if x.size]
    return np.concatenate(parts) if parts else np.empty((0, 4))


def _parse_block(path: str, body: bytes, line0: int) -> np.ndarray:
    """Whole lines ``body`` (first at file line ``line0``) -> (m, 4) float64; ImuError names a bad line."""
    buf = np.frombuffer(body, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10)
    if buf.size and buf[-1] != 10:
        ends = np.append(ends, buf.size)
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
    if ends.size:
        at = np.searchsorted(np.flatnonzero(buf == 44), np.stack([starts, ends]))  # commas before each
        commas = at[1] - at[0]
        bad = np.flatnonzero(commas != 3)
        bad = bad[[len(body[starts[i]:ends[i]].strip()) > 0 for i in bad]] if bad.size else bad
        if bad.size:
            i = int(bad[0])
            raise ImuError(path, f"malformed line: {int(commas[i]) + 1} fields, expected 4", line=line0 + i)
    try:
        df = pd.read_csv(io.BytesIO(body), header=None, dtype=np.float64, skip_blank_lines=True,
                         keep_default_na=False, na_values=sorted(_NA_TOKENS), engine="c")
        return df.to_numpy(dtype=np.float64).reshape(-1, 4)
    except pd.errors.EmptyDataError:
        return np.empty((0, 4))
    except (ValueError, pd.errors.ParserError) as exc:
        for i, raw in enumerate(io.BytesIO(body)):
            for tok in raw.decode("utf-8", "replace").split(","):
                t = tok.strip()
                if not t or t in _NA_TOKENS:
                    continue
                try:
                    float(t)
                except ValueError:
                    raise ImuError(path, f"malformed line: non-numeric field {t!r}", line=line0 + i) from None
        raise ImuError(path, f"unparseable data: {exc}") from None


def clean_imu(kind: str, ms: np.ndarray, values: np.ndarray, path: str | None = None) -> ImuStream:
    """Drop rows with a non-finite field, sort by ``ms`` (stable), drop repeated ``ms`` (first row in
    file order kept); every step is counted in the :class:`CleanReport`. ``ms`` (n,), ``values``
    (n, 3), any float dtype."""
    ms = np.asarray(ms, dtype=np.float64).reshape(-1)
    values = np.asarray(values, dtype=np.float64).reshape(-1, 3)
    n_rows = ms.size
    finite = np.isfinite(ms) & np.isfinite(values).all(axis=1)
    ms, values = ms[finite], values[finite]
    n_nonmono = int(np.count_nonzero(np.diff(ms) < 0))
    order = np.argsort(ms, kind="stable")
    ms, values = ms[order], values[order]
    keep = np.ones(ms.size, dtype=bool)
    keep[1:] = np.diff(ms) > 0
    report = CleanReport(n_rows, int(n_rows - finite.sum()), int((~keep).sum()), n_nonmono)
    return ImuStream(kind, ms[keep], values[keep], report, path)


# --------------------------------------------------------------------------------------- re-timing
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
                 rate_hz: float | None = None, path: str | None = None) -> TimedStream:
    """Build a :class:`TimedStream` from sample times (e.g. :func:`retime`'s, or a synthetic truth).

    ``t_s`` (n,) seconds (NaN rows dropped, the rest strictly increasing); ``values`` (n, 3). Splits
    at gaps > ``max_gap_s``; puts each segment on an even grid from its first to its last sample
    (linear interpolation fills holes <= ``max_gap_s``); low-passes each segment with a zero-phase
    Butterworth (``sosfiltfilt``) at ``lowpass_hz`` when that is below 0.95 x the stream's Nyquist.
    Every stream gets the same filter, whatever its rate: with a +-1 % clock a ~200 Hz stream is
    down-sampled to 198 Hz for some files and up-sampled for others, and one response for all files
    and both sensors (400 Hz HERO5 gyroscopes included) keeps the spectrograms comparable; 80 Hz is
    far above head motion and removes what would alias across 99 Hz. Segments shorter than the
    filter's padding are left unfiltered.
    """
    t = np.asarray(t_s, dtype=np.float64).reshape(-1)
    v = np.asarray(values, dtype=np.float64).reshape(-1, 3)
    keep = np.isfinite(t)
    t, v = t[keep], v[keep]
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
                       np.asarray(starts, dtype=np.int64), path)


def prepare_stream(stream: ImuStream, cfg: ImuConfig = DEFAULT_IMU) -> TimedStream:
    """:func:`retime` + :func:`timed_stream` for one cleaned file (run once per stream per video)."""
    try:
        t, rate = retime(stream.ms, cfg)
    except ImuError as e:
        raise ImuError(stream.path, f"{stream.kind}: {e.reason}") from None
    return timed_stream(stream.kind, t, stream.values, cfg, rate_hz=rate, path=stream.path)


def _as_timed(stream: AnyStream, cfg: ImuConfig) -> TimedStream:
    return stream if isinstance(stream, TimedStream) else prepare_stream(stream, cfg)


# -------------------------------------------------------------------------------------------- sync
def estimate_sync(stream: AnyStream, video_duration_s: float, cfg: ImuConfig = DEFAULT_IMU) -> SyncParams:
    """Default sync when the IMU covers the whole recording (GoPro writes telemetry for exactly the
    recorded span): offset 0 (IMU time 0 = start of payload 0 = first frame) and
    ``scale = video_duration_s / t_end`` with ``t_end`` = last sample time + half a sample period, so
    that the IMU spans the video; the scale absorbs the telemetry clock error. It needs no payload
    count, so a partial last payload is harmless. Raises :class:`ImuCoverageError` when
    ``|scale - 1| > max_clock_error`` (truncated IMU: give the video a sync-table entry instead)."""
    ts = _as_timed(stream, cfg)
    t_end = float(ts.t_s[-1]) + 0.5 / ts.rate_hz  # the recording ends within the last sample period
    scale = float(video_duration_s) / t_end
    if not abs(scale - 1.0) <= cfg.max_clock_error:
        raise ImuCoverageError(ts.path, f"{ts.kind}: IMU spans {t_end:.3f} s, video {video_duration_s:.3f} s"
                               f" (clock error {scale - 1:+.2%} beyond {cfg.max_clock_error:.0%})")
    return SyncParams(0.0, scale)


def load_sync_table(path: str | os.PathLike[str]) -> dict[str, SyncParams]:
    """Read a per-video sync table, CSV ``video_id,offset_s,scale`` -> {video_id: SyncParams}.
    ``offset_s``, ``scale`` refer to :func:`retime`'s IMU time. :class:`ImuError` on a wrong header,
    a bad value (line named) or a repeated video_id."""
    p = os.fspath(path)
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise ImuError(p, "file not found") from None
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


# -------------------------------------------------------------------------------------- resampling
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
        ts = _as_timed(streams[kind], cfg)
        sp = sync[kind] if isinstance(sync, Mapping) else sync
        q = sp.to_imu(starts[:, None] + grid[None, :])  # (w, n) IMU seconds
        for i, why in zip(*_window_reasons(ts, q[:, 0], q[:, -1], sp, cfg)):
            reasons[i] = f"{reasons[i]}; {why}" if reasons[i] else why
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
            gl = (gaps[gi, 1] - gaps[gi, 0]) * sp.scale
            at = float(sp.to_video(gaps[gi[np.argmax(gl)], 0]))
            whys.append(f"{ts.kind}: IMU gap of {gl.max():.3f} s at {at:.3f} s (max {cfg.max_gap_s} s)")
    return bad, whys


def _interp(ts: TimedStream, q: np.ndarray, cfg: ImuConfig) -> np.ndarray:
    """Values (len(q), 3) at IMU times ``q`` (clamped to the coverage; per segment for cubic)."""
    q = np.clip(q, ts.t_s[0], ts.t_s[-1])
    if cfg.interp == "linear":
        return np.stack([np.interp(q, ts.t_s, ts.values[:, i]) for i in range(3)], axis=1)
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
