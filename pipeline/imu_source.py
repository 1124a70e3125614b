"""Where a recording's IMU comes from: EPIC-style CSV files (``csv``), the video's own GPMF telemetry track
(``gpmf``, a GoPro MP4: :mod:`egoimu.pipeline.gpmf`) or Ego4D's one CSV per video (``ego4d``:
:mod:`egoimu.pipeline.imu_ego4d`). The probe and the shard stage read a stream through
:func:`read_imu`, so both see the same samples whatever the source.
"""

from __future__ import annotations

import os
from dataclasses import replace

from egoimu.pipeline.gpmf import GpmfError, read_gpmf_imu
from egoimu.pipeline.imu import SENSOR, ImuConfig, ImuError, ImuStream
from egoimu.pipeline.imu_csv import clean_imu, read_imu_csv
from egoimu.pipeline.imu_ego4d import AcclUnits, GyroUnits, read_ego4d_si

CSV, GPMF, EGO4D = "csv", "gpmf", "ego4d"
IMU_FORMATS: tuple[str, ...] = (CSV, GPMF, EGO4D)
#: Formats whose times are true sample times (the ``sensor`` convention).
SENSOR_TIMED: tuple[str, ...] = (GPMF, EGO4D)


def read_imu_units(path: str | os.PathLike[str], kind: str, imu_format: str = CSV
                   ) -> tuple[ImuStream, AcclUnits | GyroUnits | None]:
    """:func:`read_imu`, and what was inferred of the stream's units where its format does not document them
    (``ego4d``: :func:`~egoimu.pipeline.imu_ego4d.infer_units`); None for formats with documented units (EPIC
    CSVs and GPMF: m/s^2, rad/s)."""
    if imu_format == EGO4D:
        return read_ego4d_si(path, kind)
    return read_imu(path, kind, imu_format), None


def read_imu(path: str | os.PathLike[str], kind: str, imu_format: str = CSV) -> ImuStream:
    """One cleaned stream (``kind`` 'accl' or 'gyro'): from the CSV at ``path``, or from the GPMF track of the
    MP4 at ``path`` (Milliseconds = true sample times on the MP4 timeline), or from the Ego4D CSV at ``path``
    (Milliseconds = ``canonical_timestamp_ms``; values converted to m/s^2 / rad/s when their unit is inferred,
    left as written when it is unknown: :func:`~egoimu.pipeline.imu_ego4d.read_ego4d_si`). Raises
    :class:`ImuError` naming the file for anything unreadable."""
    if imu_format == CSV:
        return read_imu_csv(path, kind)
    if imu_format == EGO4D:
        return read_ego4d_si(path, kind)[0]
    if imu_format != GPMF:
        raise ValueError(f"imu_format must be one of {IMU_FORMATS}, got {imu_format!r}")
    try:
        stream = getattr(read_gpmf_imu(path), kind)
    except GpmfError as e:
        raise ImuError(e.path, e.reason) from None
    return clean_imu(kind, stream.t_s * 1000.0, stream.values, path=os.fspath(path))


def imu_config(imu_format: str, cfg: ImuConfig) -> ImuConfig:
    """``cfg`` for a stream of ``imu_format``: a GPMF track's and an Ego4D CSV's times are true sample times
    (``sensor``)."""
    return replace(cfg, convention=SENSOR) if imu_format in SENSOR_TIMED else cfg
