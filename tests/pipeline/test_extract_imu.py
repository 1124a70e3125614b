"""``egoimu extract-imu`` on the real GoPro file: the CSVs read back by the project's own IMU reader."""

from __future__ import annotations

import numpy as np

from egoimu.cli import main as egoimu_main
from egoimu.pipeline.gpmf import read_gpmf_imu
from egoimu.pipeline.imu import AUTO, DEFAULT_IMU, SENSOR
from egoimu.pipeline.imu_csv import read_imu_csv
from egoimu.pipeline.imu_timing import sample_times


def test_extract_then_read_back_as_sensor_time(tmp_path, gopro_karma, capsys):
    assert egoimu_main(["extract-imu", str(gopro_karma), "--out", str(tmp_path / "imu")]) == 0
    assert "karma-accl.csv" in capsys.readouterr().out
    imu = read_gpmf_imu(gopro_karma)
    assert DEFAULT_IMU.convention == AUTO
    for kind, src in (("accl", imu.accl), ("gyro", imu.gyro)):
        stream = read_imu_csv(tmp_path / "imu" / f"karma-{kind}.csv", kind)
        assert stream.report.n_rows == src.t_s.size and stream.ms.size == src.t_s.size  # every row kept
        t_s, rate, convention = sample_times(stream.ms, DEFAULT_IMU)
        assert convention == SENSOR
        assert np.all(np.isfinite(t_s)) and np.allclose(t_s, src.t_s, rtol=0, atol=1e-9)
        assert abs(rate - src.rate_hz) / src.rate_hz < 0.01
        assert np.array_equal(stream.values, src.values)  # 17 significant digits: float64 round trip


def test_bad_input_is_one_line_exit_2(tmp_path, gopro_karma, capsys):
    notes = tmp_path / "notes.MP4"
    notes.write_text("not a video\n")
    code = egoimu_main(["extract-imu", str(notes), str(gopro_karma), "--out", str(tmp_path / "imu")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [f"egoimu extract-imu: {notes}: not an MP4 file (no 'ftyp' box at the start)"]
    assert (tmp_path / "imu" / "karma-gyro.csv").is_file()  # the good file is still written
    assert not (tmp_path / "imu" / "notes-accl.csv").exists()
    assert egoimu_main(["extract-imu", str(gopro_karma), str(gopro_karma), "--out", str(tmp_path)]) == 2
    assert "given twice" in capsys.readouterr().err
