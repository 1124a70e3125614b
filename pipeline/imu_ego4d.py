"""Ego4D's IMU files (``v2/imu/<video_uid>.csv``): read one sensor of a file into a cleaned
:class:`~egoimu.pipeline.imu.ImuStream`, and infer the units and axes that Ego4D does not document.

Format (../shared/data/README.md "Ego4D's IMU and narration formats"; ego4d-data.org/docs/data/imu): header
:data:`EGO4D_HEADER`, ~200 Hz; ``canonical_timestamp_ms`` is the sample's true time on the canonical video's
timeline, so the streams go through the ``sensor`` time convention. Documented quirks and what we do:

- ``canonical_timestamp_ms`` empty (NULL; parts trimmed from the canonical video): the row is dropped and
  counted in ``report.n_nan`` (as are rows with an empty field of the sensor read).
- very large/small timestamps: dropped by :func:`implausible_times` (stated rule there), counted in
  ``report.n_outliers``.
- non-monotonic timestamps: sorted, counted in ``report.n_nonmonotonic`` (repeats in ``n_duplicates``).
- acceleration missing in a file (every ``accl_*`` field empty): :class:`MissingSensorError`.
- no calibration: nothing is removed; any bias stays in the values (stated in :func:`describe_units`).

Units and axes are not documented (the docs' own sample has |accl| ≈ 2.7 and accl_y = accl_z on every row), so
they are inferred per file from the data: :func:`infer_accl_units` (gravity's magnitude and direction, duplicated
channels), :func:`infer_gyro_units` (a heuristic on angular speed). :func:`read_ego4d_si` converts a stream
whose unit was recognised to m/s^2 / rad/s and leaves an unknown one as it is.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace

import numpy as np

from egoimu.pipeline.imu import KINDS, ImuError, ImuStream
from egoimu.pipeline.imu_csv import clean_imu, read_csv_table

EGO4D_HEADER: tuple[str, ...] = ("component_idx", "component_timestamp_ms", "canonical_timestamp_ms",
                                 "gyro_x", "gyro_y", "gyro_z", "accl_x", "accl_y", "accl_z")
TIME_COLUMN = 2  # canonical_timestamp_ms
COLUMNS: dict[str, slice] = {"gyro": slice(3, 6), "accl": slice(6, 9)}
CHANNEL_NAMES: dict[str, tuple[str, str, str]] = {k: EGO4D_HEADER[s] for k, s in COLUMNS.items()}
SENSOR_NAMES: dict[str, str] = {"accl": "acceleration", "gyro": "angular velocity"}

# -- implausible timestamps (ours) --
MIN_TIME_MS = -1000.0  # a canonical time before -1 s is implausible (the timeline starts at 0)
MAX_TIME_MS = 24 * 3600 * 1000.0  # ... and so is one beyond a day (canonical videos last minutes to hours)
RUN_GAP_MS = 1000.0  # a gap longer than this splits the sorted samples into runs
MIN_RUN_SAMPLES = 20  # a run shorter than this (~0.1 s at 200 Hz), not the longest, is stray samples

# -- unit inference (ours) --
STANDARD_GRAVITY = 9.80665  # m/s^2 per g
UNIT_TOLERANCE = 0.15  # median |a| within 15 % of 9.80665 -> m/s^2, within 15 % of 1 -> g
DUPLICATE_FRACTION = 0.99  # two channels equal on at least this fraction of rows -> duplicated_channel
DUPLICATED_CHANNEL = "duplicated_channel"
GYRO_MIN_SAMPLES = 200  # fewer samples (~1 s): the gyro unit stays unknown
RAD_S_RANGE = (0.3, 10.0)  # p99 of |w| in rad/s of a moving head; deg/s would be an all but still head
DEG_S_RANGE = (0.3 * 180.0 / math.pi, 1000.0)  # the same head in deg/s (17.2 .. 1000, i.e. 0.3 .. 17.5 rad/s)
UNKNOWN = "unknown"


class MissingSensorError(ImuError):
    """A file holds no value at all for the sensor read (``kind``): Ego4D's 'missing acceleration'."""

    def __init__(self, path: str | os.PathLike[str] | None, reason: str, line: int | None = None,
                 kind: str = "accl"):
        super().__init__(path, reason, line)
        self.kind = kind

    def __reduce__(self):
        return (type(self), (self.path, self.reason, self.line, self.kind))


def implausible_times(ms: np.ndarray) -> np.ndarray:
    """(n,) bool: rows of sorted, strictly increasing ``ms`` (canonical ms, float64) whose time is implausible.

    Rule: a time below :data:`MIN_TIME_MS` (-1 s) or above :data:`MAX_TIME_MS` (24 h) is implausible; so is a
    stray run: the samples split into runs at gaps longer than :data:`RUN_GAP_MS` (1 s), and a run of fewer than
    :data:`MIN_RUN_SAMPLES` (20) samples is implausible unless it is the longest run (a short file is kept).
    """
    ms = np.asarray(ms, dtype=np.float64).reshape(-1)
    bad = (ms < MIN_TIME_MS) | (ms > MAX_TIME_MS)
    idx = np.flatnonzero(~bad)
    if idx.size:
        starts = np.concatenate([[0], np.flatnonzero(np.diff(ms[idx]) > RUN_GAP_MS) + 1])
        lengths = np.diff(np.append(starts, idx.size))
        longest = int(np.argmax(lengths))
        for r in np.flatnonzero(lengths < MIN_RUN_SAMPLES):
            if r != longest:
                bad[idx[starts[r]:starts[r] + lengths[r]]] = True
    return bad


def read_ego4d_imu(path: str | os.PathLike[str], kind: str) -> ImuStream:
    """One sensor (``kind`` 'accl' or 'gyro') of an Ego4D IMU CSV, cleaned, in the file's own units.

    ``ms`` (n,) float64: ``canonical_timestamp_ms`` sorted, strictly increasing; ``values`` (n, 3) float64
    from ``gyro_x..z`` or ``accl_x..z``, units as written (see :func:`read_ego4d_si`). ``report``: ``n_rows``
    data rows read; ``n_nan`` rows dropped for an empty (NULL) ``canonical_timestamp_ms`` **or** an empty/NaN
    field of this sensor; ``n_outliers`` rows dropped by :func:`implausible_times`; ``n_nonmonotonic`` rows
    out of time order (sorted); ``n_duplicates`` repeated times (first kept).

    Raises :class:`ImuError` naming the file: missing or empty file, wrong header (line 1), a malformed line
    (named), no row left; :class:`MissingSensorError` when every field of this sensor is empty.
    """
    if kind not in COLUMNS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    p = os.fspath(path)
    table = read_csv_table(p, EGO4D_HEADER)
    ms, values = table[:, TIME_COLUMN], table[:, COLUMNS[kind]]
    names = ",".join(CHANNEL_NAMES[kind])
    if np.isnan(values).all():
        raise MissingSensorError(p, f"no {SENSOR_NAMES[kind]} in this file: every {names} field of its "
                                    f"{len(ms)} rows is empty", kind=kind)
    far = np.isfinite(ms) & ((ms < MIN_TIME_MS) | (ms > MAX_TIME_MS))  # out before sorting: not 'non-monotonic'
    stream = clean_imu(kind, ms[~far], values[~far], path=p)
    stray = implausible_times(stream.ms)
    report = replace(stream.report, n_rows=len(ms), n_outliers=int(far.sum() + stray.sum()))
    if stray.all():
        n_time = int(np.isnan(ms).sum())
        raise ImuError(p, f"no usable row: of {len(ms)} rows, {n_time} have no canonical_timestamp_ms, "
                          f"{report.n_nan - n_time} an empty {names} field, {report.n_outliers} an "
                          f"implausible time")
    return ImuStream(kind, stream.ms[~stray], stream.values[~stray], report, p)


@dataclass(frozen=True)
class AcclUnits:
    """What an accelerometer stream's values say about their unit and axes.

    ``median_norm``: median over rows of |a| (the file's unit); ``unit``: 'm/s^2', 'g' or 'unknown';
    ``scale_to_si``: factor to m/s^2 (9.80665 for g, 1.0 for m/s^2, None when unknown); ``gravity_dir``: the
    mean acceleration as a unit vector in the file's axes (NaNs when undefined), gravity's direction for a
    head that is upright on average; ``duplicated``: channel pairs equal on >= 99 % of rows.
    """

    n: int
    median_norm: float
    unit: str
    scale_to_si: float | None
    gravity_dir: tuple[float, float, float]
    duplicated: tuple[tuple[str, str], ...]

    @property
    def flags(self) -> tuple[str, ...]:
        return (DUPLICATED_CHANNEL,) if self.duplicated else ()


@dataclass(frozen=True)
class GyroUnits:
    """What a gyroscope stream's values say about their unit: ``p99_norm`` the 99th percentile over rows of
    |w| (file's unit); ``unit`` 'rad/s', 'deg/s' or 'unknown'; ``scale_to_si`` factor to rad/s (pi/180 for
    deg/s, 1.0 for rad/s, None when unknown); ``duplicated`` as :class:`AcclUnits`."""

    n: int
    p99_norm: float
    unit: str
    scale_to_si: float | None
    duplicated: tuple[tuple[str, str], ...]

    @property
    def flags(self) -> tuple[str, ...]:
        return (DUPLICATED_CHANNEL,) if self.duplicated else ()


def duplicated_channels(values: np.ndarray, names: tuple[str, str, str]) -> tuple[tuple[str, str], ...]:
    """Pairs of columns of ``values`` (n, 3) that are equal on at least :data:`DUPLICATE_FRACTION` of the
    rows (n > 0), named by ``names``."""
    v = np.asarray(values, dtype=np.float64).reshape(-1, 3)
    if not v.shape[0]:
        return ()
    return tuple((names[i], names[j]) for i, j in ((0, 1), (0, 2), (1, 2))
                 if np.mean(v[:, i] == v[:, j]) >= DUPLICATE_FRACTION)


def infer_accl_units(values: np.ndarray, names: tuple[str, str, str] = CHANNEL_NAMES["accl"]) -> AcclUnits:
    """Infer an accelerometer's unit from gravity: ``values`` (n, 3) float, finite, one row a sample.

    Rule: m = median |a|; 'm/s^2' when |m - 9.80665| <= 15 % of 9.80665, 'g' when |m - 1| <= 15 %, otherwise
    'unknown' (so is an empty array). A head-worn sensor's median |a| is gravity's, whatever it moves.
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1, 3)
    norm = float(np.median(np.linalg.norm(v, axis=1))) if v.shape[0] else math.nan
    unit, scale = UNKNOWN, None
    if abs(norm - STANDARD_GRAVITY) <= UNIT_TOLERANCE * STANDARD_GRAVITY:
        unit, scale = "m/s^2", 1.0
    elif abs(norm - 1.0) <= UNIT_TOLERANCE:
        unit, scale = "g", STANDARD_GRAVITY
    mean = v.mean(axis=0) if v.shape[0] else np.full(3, math.nan)
    size = float(np.linalg.norm(mean))
    direction = mean / size if size > 0 else np.full(3, math.nan)
    return AcclUnits(int(v.shape[0]), norm, unit, scale, tuple(float(x) for x in direction),
                     duplicated_channels(v, names))


def infer_gyro_units(values: np.ndarray, names: tuple[str, str, str] = CHANNEL_NAMES["gyro"]) -> GyroUnits:
    """Infer a gyroscope's unit (a heuristic): ``values`` (n, 3) float, finite, one row a sample.

    A head rarely turns faster than ~10 rad/s, and a recording of daily life moves it: p = the 99th percentile of
    |w| is 0.3 .. 10 in rad/s, 57.3x that in deg/s. Rule: 'rad/s' when 0.3 <= p <= 10, 'deg/s' when
    17.2 <= p <= 1000, otherwise 'unknown' (p between 10 and 17.2 is ambiguous; below 0.3 the head is too still to
    tell; above 1000 neither fits); 'unknown' also for fewer than 200 samples.
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1, 3)
    p99 = float(np.percentile(np.linalg.norm(v, axis=1), 99)) if v.shape[0] else math.nan
    unit, scale = UNKNOWN, None
    if v.shape[0] >= GYRO_MIN_SAMPLES:
        if RAD_S_RANGE[0] <= p99 <= RAD_S_RANGE[1]:
            unit, scale = "rad/s", 1.0
        elif DEG_S_RANGE[0] <= p99 <= DEG_S_RANGE[1]:
            unit, scale = "deg/s", math.pi / 180.0
    return GyroUnits(int(v.shape[0]), p99, unit, scale, duplicated_channels(v, names))


def infer_units(stream: ImuStream) -> AcclUnits | GyroUnits:
    """:func:`infer_accl_units` or :func:`infer_gyro_units` of a stream as read (``stream.kind``)."""
    return infer_accl_units(stream.values) if stream.kind == "accl" else infer_gyro_units(stream.values)


def read_ego4d_si(path: str | os.PathLike[str], kind: str) -> tuple[ImuStream, AcclUnits | GyroUnits]:
    """:func:`read_ego4d_imu`, then its units inferred (:func:`infer_units`, on the values as written) and
    the values converted to m/s^2 (accl) or rad/s (gyro) when the unit was recognised; an unknown unit's
    values are left as they are. Returns the stream (n, 3) float64 and what was inferred."""
    stream = read_ego4d_imu(path, kind)
    units = infer_units(stream)
    if units.scale_to_si not in (None, 1.0):
        stream = replace(stream, values=stream.values * units.scale_to_si)
    return stream, units


def _vector(v: tuple[float, float, float]) -> str:
    return "(" + ", ".join(f"{x:+.2f}" for x in v) + ")"


def describe_units(accl: AcclUnits | None, gyro: GyroUnits | None) -> str:
    """One line saying what was inferred of a file's units and axes (for the manifests), e.g. ``accl: unit
    unknown (median |a| 2.58: not ~9.81 m/s^2 nor ~1 g), left as written; mean direction (-0.90, -0.30, -0.30);
    duplicated_channel accl_y=accl_z; gyro: ...; no calibration: bias not removed``. None: not read."""
    parts = []
    if accl is not None:
        how = (f"unit {accl.unit} (median |a| {accl.median_norm:.3g})" if accl.unit != UNKNOWN else
               f"unit unknown (median |a| {accl.median_norm:.3g}: not ~9.81 m/s^2 nor ~1 g), left as written")
        parts.append(f"accl: {how}; mean direction {_vector(accl.gravity_dir)}"
                     + "".join(f"; {DUPLICATED_CHANNEL} {a}={b}" for a, b in accl.duplicated))
    if gyro is not None:
        how = (f"unit {gyro.unit} (p99 |w| {gyro.p99_norm:.3g})" if gyro.unit != UNKNOWN else
               f"unit unknown (p99 |w| {gyro.p99_norm:.3g}, {gyro.n} samples), left as written")
        parts.append(f"gyro: {how}" + "".join(f"; {DUPLICATED_CHANNEL} {a}={b}" for a, b in gyro.duplicated))
    parts.append("axes undocumented; no calibration: bias not removed")
    return "; ".join(parts)
