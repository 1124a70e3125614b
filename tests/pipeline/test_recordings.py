"""The probe stage (egoimu.pipeline.recordings.probe_recording) without Dask, on one recording of the small clean
synthetic set: source files reached through symbolic links, IMU values beyond float32 and rotation metadata each
end as the documented result, never as an exception."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from egoimu.pipeline.config import BuildConfig
from egoimu.pipeline.imu_csv import NON_FINITE_IMU
from egoimu.pipeline.recordings import ROTATED_VIDEO, RecordingResult, RecordingTask, probe_recording

CFG = BuildConfig()


def probe(task: RecordingTask, root: Path) -> RecordingResult:
    return probe_recording(task, str(root), CFG.video, CFG.imu)


def test_sources_reached_through_links_are_followed(recording, tmp_path, capsys) -> None:
    """The video is a link to a file outside the root and the IMU files lie in a linked folder outside it: the
    probe follows both and returns what it returns for real files (root-relative paths, the content's sha256);
    where the links lead is printed to stderr only."""
    task, src, copies = recording
    real = probe(task, copies)
    linked = tmp_path / "linked"
    (linked / task.participant_id / "videos").mkdir(parents=True)
    (linked / task.video).symlink_to(src / task.video)
    (linked / task.participant_id / "meta_data").symlink_to(src / task.participant_id / "meta_data",
                                                           target_is_directory=True)
    capsys.readouterr()
    got = probe(task, linked)
    assert got.ok and got == real, (got, real)
    assert (got.video, got.accl, got.gyro) == (task.video, task.accl, task.gyro)
    err = capsys.readouterr().err
    for rel in (task.video, task.accl, task.gyro):
        target = (src / rel).resolve()
        assert f"[probe] {rel}: a symbolic link to {target} (followed; the manifests record {rel})" in err
    assert str(src) not in repr(got)


def test_imu_file_with_a_value_beyond_float32_rejects_the_recording(recording) -> None:
    """One GyroY of 1e308 (finite in float64, inf in float32): the low-pass spreads it over the whole stream, so the
    recording is rejected as non_finite_imu, naming the file and the record, instead of failing the build."""
    task, _, root = recording
    gyro = root / task.gyro
    lines = gyro.read_text().splitlines()
    ms, _, y, z = lines[500].split(",")
    lines[500] = ",".join([ms, "0.25", "1e308", z])
    gyro.write_text("\n".join(lines) + "\n")
    got = probe(task, root)
    assert (got.status, got.reason) == ("rejected", NON_FINITE_IMU)
    assert got.detail == (f"{gyro}: gyro: no sample is finite as float32 (the shards' dtype) after the low-pass "
                          f"filter, which spreads a non-finite value over its whole segment: Milliseconds "
                          f"{float(ms):g}: GyroY = 1e+308 is beyond float32's range")
    assert got.video_sha256 and got.accl_sha256  # what was read before is kept in recordings.csv


@pytest.mark.parametrize("degrees", [180, 90])
def test_video_with_rotation_metadata_is_rejected(recording, rotate_video, degrees) -> None:
    """A camera mounted rotated: the video is rejected as rotated_video, naming the rotation, not stored unrotated."""
    task, src, root = recording
    video = root / task.video
    rotate_video(src / task.video, video, degrees)
    got = probe(task, root)
    assert (got.status, got.reason) == ("rejected", ROTATED_VIDEO)
    assert got.detail == (f"{video}: its rotation metadata turns it by {degrees:g} degrees (counter-clockwise) for "
                          f"display; egoimu would store the frames unrotated and does not rotate the IMU axes, so "
                          f"the video is not used")


def test_imu_files_with_true_sample_times_are_accepted_with_every_row(recording) -> None:
    """The recording's IMU files rewritten the way tools with true timestamps write them (each row's Milliseconds
    = its true time on the video timeline, from the synthetic truth; uniform at the sensor's ~200 Hz): the probe
    reads both as ``sensor``, accepts the recording, times every row and recovers the true rates. Read by today's
    rule (``epic-payload``) the same files lose most rows or the recording."""
    task, src, root = recording
    rates = {}
    with np.load(src / "synth_truth" / f"{task.video_id}.npz") as truth:
        for kind, rel in (("accl", task.accl), ("gyro", task.gyro)):
            t_true = truth[f"{kind}_t_true_s"]
            lines = (root / rel).read_text().splitlines()
            assert len(lines) == t_true.size + 1
            rows = [f"{1000 * t!r},{line.split(',', 1)[1]}" for t, line in zip(t_true.tolist(), lines[1:])]
            (root / rel).write_text("\n".join([lines[0], *rows]) + "\n")
            rates[kind] = (t_true.size - 1) / (t_true[-1] - t_true[0])
    got = probe(task, root)
    assert got.ok, got.detail
    assert (got.accl_time_convention, got.gyro_time_convention) == ("sensor", "sensor")
    assert (got.imu_rows_untimed, got.imu_rows_dropped) == (0, 0)
    assert got.accl_rate_hz == pytest.approx(rates["accl"], rel=1e-3)
    assert got.gyro_rate_hz == pytest.approx(rates["gyro"], rel=1e-3)
    assert got.accl_sync[1] == pytest.approx(1.0, abs=1e-3)  # true video times: no clock error left to correct
    today = probe_recording(task, str(root), CFG.video, dataclasses.replace(CFG.imu, convention="epic-payload"))
    assert not today.ok or today.imu_rows_untimed > 0.5 * sum(rates.values()) * got.duration_s, today
