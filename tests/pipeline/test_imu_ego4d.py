"""egoimu.pipeline.imu_ego4d (and read_imu's 'ego4d' format) on Ego4D's documented sample rows and on files
written here with known units, axes and quirks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from egoimu.pipeline.imu import DEFAULT_IMU, SENSOR, ImuError
from egoimu.pipeline.imu_ego4d import (
    DUPLICATED_CHANNEL,
    EGO4D_HEADER,
    STANDARD_GRAVITY,
    MissingSensorError,
    describe_units,
    implausible_times,
    infer_accl_units,
    infer_gyro_units,
    read_ego4d_imu,
)
from egoimu.pipeline.imu_source import EGO4D, imu_config, read_imu
from egoimu.pipeline.imu_timing import prepare_stream

# Verbatim from /work/shared/data/README.md, "Ego4D's IMU and narration formats" (itself verbatim from
# Ego4D's documentation, ego4d-data.org/docs/data/imu).
DOC_SAMPLE = """\
component_idx,component_timestamp_ms,canonical_timestamp_ms,gyro_x,gyro_y,gyro_z,accl_x,accl_y,accl_z
0,0.0,0.0,0.025559105431309903,0.25026624068157616,0.11182108626198084,-2.278177458033573,-1.0311750599520384,-1.0311750599520384
0,4.975124378109452,4.975124378109452,0.01597444089456869,0.27689030883919064,0.10862619808306707,-2.2709832134292567,-0.8609112709832134,-0.8609112709832134
0,9.950248756218905,9.950248756218905,-0.014909478168264113,0.29073482428115016,0.0926517571884984,-2.3669064748201443,-0.4268585131894485,-0.4268585131894485
"""
RATE_HZ = 201.0


def _doc_fields() -> list[list[str]]:
    return [line.split(",") for line in DOC_SAMPLE.splitlines()[1:]]


def _write(path: Path, rows: list[list[str]], header: tuple[str, ...] = EGO4D_HEADER) -> Path:
    path.write_text(",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _rows(ms: np.ndarray, gyro: np.ndarray, accl: np.ndarray) -> list[list[str]]:
    """Ego4D rows (component 0, component time = canonical time); NaN written as an empty field."""
    def f(x: float) -> str:
        return "" if math.isnan(x) else repr(float(x))
    return [["0", f(t), f(t), *(f(v) for v in g), *(f(v) for v in a)] for t, g, a in zip(ms, gyro, accl)]


def _head(n: int, seed: int, g: float = STANDARD_GRAVITY, gyro_scale: float = 1.0):
    """n samples at 201 Hz of a moving head: ms (n,), gyro (n, 3) rad/s x gyro_scale, accl (n, 3) with |mean| = g
    along a fixed tilted direction plus motion."""
    rng = np.random.default_rng(seed)
    ms = np.arange(n) * 1000.0 / RATE_HZ
    t = ms / 1000.0
    gyro = np.stack([2.0 * np.sin(2 * np.pi * 0.7 * t), 1.2 * np.sin(2 * np.pi * 1.1 * t + 1), 0.5 * np.cos(t)], 1)
    gyro = (gyro + rng.normal(0, 0.05, gyro.shape)) * gyro_scale
    down = np.array([0.2, -0.9, 0.3]) / np.linalg.norm([0.2, -0.9, 0.3])
    accl = g * (down + rng.normal(0, 0.03, (n, 3)))
    return ms, gyro, accl


def test_documented_sample_rows_read_exactly(tmp_path):
    path = _write(tmp_path / "doc.csv", _doc_fields())
    fields = np.array(_doc_fields(), dtype=np.float64)
    for kind, cols in (("gyro", slice(3, 6)), ("accl", slice(6, 9))):
        s = read_ego4d_imu(path, kind)
        assert s.kind == kind and s.values.dtype == np.float64 and s.values.shape == (3, 3)
        np.testing.assert_array_equal(s.ms, [0.0, 4.975124378109452, 9.950248756218905])
        np.testing.assert_array_equal(s.values, fields[:, cols])
        assert (s.report.n_rows, s.report.n_kept, s.report.n_dropped) == (3, 3, 0)


def test_documented_sample_units_unknown_and_channel_duplicated(tmp_path):
    path = _write(tmp_path / "doc.csv", _doc_fields())
    accl = read_ego4d_imu(path, "accl")
    u = infer_accl_units(accl.values)
    assert u.unit == "unknown" and u.scale_to_si is None
    assert 2.5 < u.median_norm < 2.8  # the docs' rows: |accl| 2.58 .. 2.72, neither ~9.81 nor ~1
    assert u.duplicated == (("accl_y", "accl_z"),) and u.flags == (DUPLICATED_CHANNEL,)
    assert u.gravity_dir[1] == u.gravity_dir[2] and abs(np.linalg.norm(u.gravity_dir) - 1) < 1e-12
    gy = infer_gyro_units(read_ego4d_imu(path, "gyro").values)
    assert gy.unit == "unknown" and gy.n == 3 and not gy.duplicated  # 3 samples: too few to tell
    line = describe_units(u, gy)
    assert "\n" not in line and "duplicated_channel accl_y=accl_z" in line and "unit unknown" in line
    assert "no calibration" in line
    # unknown units are left as written by read_imu
    np.testing.assert_array_equal(read_imu(path, "accl", EGO4D).values, accl.values)


def test_accl_units_from_gravity(tmp_path):
    ms, gyro, accl = _head(2000, seed=1)
    u = infer_accl_units(accl)
    assert (u.unit, u.scale_to_si, u.duplicated) == ("m/s^2", 1.0, ())
    np.testing.assert_allclose(u.gravity_dir, np.array([0.2, -0.9, 0.3]) / np.linalg.norm([0.2, -0.9, 0.3]),
                               atol=0.01)
    ms, gyro, accl_g = _head(2000, seed=1, g=1.0)
    assert infer_accl_units(accl_g).unit == "g"
    assert infer_accl_units(accl * 0.27).unit == "unknown"  # ~2.7, as Ego4D's sample
    path = _write(tmp_path / "g.csv", _rows(ms, gyro, accl_g))
    np.testing.assert_allclose(read_imu(path, "accl", EGO4D).values, accl_g * STANDARD_GRAVITY, rtol=1e-12)


def test_gyro_units_heuristic(tmp_path):
    ms, gyro, accl = _head(2000, seed=2)
    assert infer_gyro_units(gyro).unit == "rad/s"
    deg = np.degrees(gyro)
    u = infer_gyro_units(deg)
    assert (u.unit, u.scale_to_si) == ("deg/s", math.pi / 180)
    assert infer_gyro_units(gyro * 0.01).unit == "unknown"  # too still to tell
    assert infer_gyro_units(gyro * 7.0).unit == "unknown"  # p99 between 10 and 17.2: ambiguous
    path = _write(tmp_path / "deg.csv", _rows(ms, deg, accl))
    np.testing.assert_allclose(read_imu(path, "gyro", EGO4D).values, gyro, rtol=1e-12)


def test_quirks_dropped_sorted_and_counted(tmp_path):
    ms, gyro, accl = _head(1000, seed=3)
    rows = _rows(ms, gyro, accl)
    for i in (10, 11, 500):  # trimmed parts: canonical time empty (or NULL)
        rows[i][2] = ""
    rows[12][2] = "NULL"
    rows[300], rows[301] = rows[301], rows[300]  # non-monotonic
    rows[700][2] = "1e15"  # very large
    rows[701][2] = "-5e9"  # very small
    stray = [["1", repr(3.0e6 + k), repr(3.0e6 + k), "0.1", "0.1", "0.1", "9.8", "0", "0"] for k in range(5)]
    rows[800:800] = stray  # a stray run of 5 samples an hour away, inside the file
    path = _write(tmp_path / "q.csv", rows)
    s = read_ego4d_imu(path, "gyro")
    r = s.report
    assert (r.n_rows, r.n_nan, r.n_outliers, r.n_nonmonotonic, r.n_duplicates) == (1005, 4, 7, 2, 0)
    # non-monotonic: the swapped pair, and the row after the stray run (which is dropped after sorting)
    assert r.n_kept == s.ms.size == 1005 - 4 - 7
    assert np.all(np.diff(s.ms) > 0) and s.ms.max() < 1e4
    assert implausible_times(np.array([0.0, 5.0, 1e15])).tolist() == [False, False, True]


def test_partly_missing_accl_rows_dropped_for_accl_only(tmp_path):
    ms, gyro, accl = _head(400, seed=4)
    accl[50:60] = np.nan
    path = _write(tmp_path / "p.csv", _rows(ms, gyro, accl))
    assert read_ego4d_imu(path, "accl").report.n_nan == 10
    assert read_ego4d_imu(path, "gyro").report.n_nan == 0


def test_missing_acceleration_is_one_line_error(tmp_path):
    ms, gyro, accl = _head(300, seed=5)
    path = _write(tmp_path / "noaccl.csv", _rows(ms, gyro, np.full_like(accl, np.nan)))
    with pytest.raises(MissingSensorError) as e:
        read_ego4d_imu(path, "accl")
    msg = str(e.value)
    assert e.value.kind == "accl" and "no acceleration in this file" in msg and str(path) in msg and "\n" not in msg
    assert read_ego4d_imu(path, "gyro").values.shape == (300, 3)


def test_no_timed_row_is_an_error(tmp_path):
    ms, gyro, accl = _head(50, seed=6)
    rows = _rows(ms, gyro, accl)
    for r in rows:
        r[2] = ""
    with pytest.raises(ImuError, match="no usable row: of 50 rows, 50 have no canonical_timestamp_ms"):
        read_ego4d_imu(_write(tmp_path / "t.csv", rows), "gyro")


def test_bad_header_and_malformed_lines_are_named(tmp_path):
    bad = _write(tmp_path / "h.csv", _doc_fields(), header=("Milliseconds", "GyroX", "GyroY", "GyroZ"))
    with pytest.raises(ImuError) as e:
        read_ego4d_imu(bad, "gyro")
    assert e.value.line == 1 and "(line 1)" in str(e.value) and "canonical_timestamp_ms" in str(e.value)
    rows = _doc_fields()
    rows[1] = rows[1][:7]  # line 3: 7 fields
    with pytest.raises(ImuError, match=r"malformed line: 7 fields, expected 9 \(line 3\)"):
        read_ego4d_imu(_write(tmp_path / "m.csv", rows), "accl")
    rows = _doc_fields()
    rows[2][4] = "abc"  # line 4: non-numeric
    with pytest.raises(ImuError, match=r"non-numeric field 'abc' \(line 4\)"):
        read_ego4d_imu(_write(tmp_path / "n.csv", rows), "gyro")
    with pytest.raises(ImuError, match="file not found"):
        read_ego4d_imu(tmp_path / "absent.csv", "gyro")


def test_sensor_convention_times_the_stream(tmp_path):
    ms, gyro, accl = _head(1500, seed=7)
    path = _write(tmp_path / "v.csv", _rows(ms + 2000.0, gyro, accl))
    cfg = imu_config(EGO4D, DEFAULT_IMU)
    assert cfg.convention == SENSOR
    timed = prepare_stream(read_imu(path, "gyro", EGO4D), cfg)
    assert timed.convention == SENSOR and abs(timed.rate_hz - RATE_HZ) < 0.5
    assert abs(timed.t_s[0] - 2.0) < 1e-9
