"""GoPro IMU streams: read and clean the CSVs, re-time the samples, sync them to the video timeline and
resample 2-second windows onto the paper's 198 Hz grid (396 x 6 clips).

This module holds the IMU stage's settings (:class:`ImuConfig`), errors and data types; the steps are
:mod:`egoimu.pipeline.imu_csv` (reading, cleaning), :mod:`egoimu.pipeline.imu_timing` (re-timing,
low-pass filtering, sync) and :mod:`egoimu.pipeline.imu_windows` (resampling clip windows).

Time model (docs/conventions.md "Time"; README "IMU: re-timing and the sync model"). The sensor samples
at a constant true rate; what the ``Milliseconds`` column means depends on the tool that wrote the file,
its *time convention* (:data:`TIME_CONVENTIONS`, ``ImuConfig.convention``):

- ``epic-payload``: EPIC-KITCHENS' extraction quirk. The tool groups samples into ~1 s payloads, gives
  payload k exactly ``[1000 k, 1000 (k+1))`` ms and spaces its n_k samples 1000/n_k ms apart.
  :func:`~egoimu.pipeline.imu_timing.retime` recovers, per row, the sample index (exact inside a contiguous
  stretch of payloads, holes included: the payload's spacing says which indices are missing) and fits one
  rate for the file, so that ``t_imu = (index - c_s) / rate`` seconds on the telemetry clock, with payload
  k starting at about k seconds.
- ``sensor``: the Milliseconds are true sample times (GoPro's own parser, Ego4D, phones): ``t_imu = ms /
  1000`` as they are, any rate, jitter tolerated; the accelerometer and the gyroscope may differ in rate.
- ``auto`` (default): :func:`~egoimu.pipeline.imu_convention.detect_convention` decides per file from the
  structure of its timestamps; the probe records the decision per stream in recordings.csv.

The video timeline is then ``t_video = offset_s + scale * t_imu`` (:class:`SyncParams`).

Typical use, once per video (the filter runs once per stream, not per clip)::

    from egoimu.pipeline.imu_csv import read_imu_csv
    from egoimu.pipeline.imu_timing import load_sync_table, prepare_stream, sync_for_video
    from egoimu.pipeline.imu_windows import resample_windows

    streams = {k: prepare_stream(read_imu_csv(p, k)) for k, p in (("accl", pa), ("gyro", pg))}
    sync = sync_for_video(video_id, streams, duration_s, table)      # table: load_sync_table(...)
    x, reasons = resample_windows(streams, sync, starts_s)           # (n, 396, 6), '' = kept
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import numpy as np

from egoimu.manifests.geometry import DEFAULT_GEOMETRY, ClipGeometry
from egoimu.manifests.tables import TIME_CONVENTIONS

KINDS: tuple[str, str] = ("accl", "gyro")
HEADERS: dict[str, tuple[str, ...]] = {
    "accl": ("Milliseconds", "AcclX", "AcclY", "AcclZ"),  # m/s^2
    "gyro": ("Milliseconds", "GyroX", "GyroY", "GyroZ"),  # rad/s
}
CHANNELS: tuple[str, ...] = HEADERS["accl"][1:] + HEADERS["gyro"][1:]  # column order of a window
SYNC_COLUMNS: tuple[str, ...] = ("video_id", "offset_s", "scale")
#: What a file's ``Milliseconds`` column can mean (module docstring; recorded per stream in recordings.csv, whose
#: schema states them: :data:`egoimu.manifests.schema.TIME_CONVENTIONS`); ``auto`` picks one of them per file.
EPIC_PAYLOAD, SENSOR = TIME_CONVENTIONS
AUTO = "auto"
#: How each convention's times are called in rejection reasons.
TIME_NAMES: dict[str, str] = {EPIC_PAYLOAD: "re-timed payload time", SENSOR: "sensor time"}


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
    convention: Literal["auto", "epic-payload", "sensor"] = AUTO  # ours: what Milliseconds means; auto: per file

    def __post_init__(self) -> None:
        if self.convention not in (AUTO, *TIME_CONVENTIONS):
            raise ValueError(f"imu.convention must be one of {(AUTO, *TIME_CONVENTIONS)}, not {self.convention!r}")


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
    """What cleaning did to one file. Counts are rows; ``n_kept = n_rows - n_dropped``."""

    n_rows: int  # data rows read
    n_nan: int  # rows with a NaN/inf field, dropped
    n_duplicates: int  # rows repeating an earlier row's Milliseconds, dropped (first kept)
    n_nonmonotonic: int  # rows whose Milliseconds is below the previous row's (fixed by sorting)
    n_outliers: int = 0  # rows with an implausible time, dropped (Ego4D: imu_ego4d's rule; 0 elsewhere)

    @property
    def n_dropped(self) -> int:
        """Rows dropped for any reason: ``n_nan + n_duplicates + n_outliers``."""
        return self.n_nan + self.n_duplicates + self.n_outliers

    @property
    def n_kept(self) -> int:
        return self.n_rows - self.n_dropped


@dataclass(frozen=True, eq=False)
class ImuStream:
    """A cleaned IMU file: ``ms`` (n,) float64 strictly increasing Milliseconds column (payload time or
    sensor time: its convention is decided when it is timed); ``values`` (n, 3) float64, m/s^2 (accl) or
    rad/s (gyro)."""

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
    longer than ``max_gap_s``. ``rate_hz``: samples per sensor-clock second. ``convention``: how the
    file's Milliseconds were read (:data:`TIME_CONVENTIONS`); ``n_untimed``: rows of the cleaned file that
    it could not time (left out).
    """

    kind: str
    t_s: np.ndarray
    values: np.ndarray
    rate_hz: float
    seg_starts: np.ndarray
    path: str | None = None
    convention: str = EPIC_PAYLOAD
    n_untimed: int = 0

    @property
    def time_name(self) -> str:
        """What its times are, for messages: 're-timed payload time' or 'sensor time'."""
        return TIME_NAMES[self.convention]

    @property
    def gaps(self) -> np.ndarray:
        """(m - 1, 2) float64 ``[last time before, first time after]`` of every gap, seconds."""
        s = self.seg_starts[1:]
        return np.stack([self.t_s[s - 1], self.t_s[s]], axis=1)


AnyStream = ImuStream | TimedStream


@dataclass(frozen=True)
class SyncParams:
    """``t_video = offset_s + scale * t_imu`` (seconds; ``t_imu``: a stream's time in its convention)."""

    offset_s: float = 0.0  # video time of IMU time 0, s
    scale: float = 1.0  # video seconds per IMU-clock second (1 +- clock error)

    def to_video(self, t_imu: np.ndarray | float) -> np.ndarray:
        return self.offset_s + self.scale * np.asarray(t_imu, dtype=np.float64)

    def to_imu(self, t_video: np.ndarray | float) -> np.ndarray:
        return (np.asarray(t_video, dtype=np.float64) - self.offset_s) / self.scale
