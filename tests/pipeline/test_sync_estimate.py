"""The measured-sync estimator (egoimu.pipeline.sync_estimate) on real synthetic recordings (real MP4s decoded by
ffmpeg, real IMU CSVs): a planted 250 ms offset, which the assumed duration-ratio model turns into a drifting
error, is corrected against the generator's truth, and so are offsets at both ends of the measured range
(-500 and +500 ms, ``egoimu bench sync`` measures the range between); the gyroscope of another video gives low
confidence and keeps the assumed model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from egoimu.pipeline.alignment import truth_alignment_ms
from egoimu.pipeline.imu import ImuConfig, SyncParams, TimedStream
from egoimu.pipeline.imu_csv import read_imu_csv
from egoimu.pipeline.imu_timing import prepare_stream, sync_for_video
from egoimu.pipeline.recordings import IMU_NOT_SPANNING, RecordingTask, probe_recording
from egoimu.pipeline.sync_estimate import (
    NO_MOTION,
    SYNC_DECODE_THREADS,
    TOO_FEW_WINDOWS,
    Window,
    block_mean,
    decode_windows,
    estimate_offset,
    window_starts,
)
from egoimu.pipeline.video import VideoConfig, probe_video

CFG = ImuConfig()


def _recording(root: Path, vid: str, gyro_of: str | None = None):
    p = vid[:3]
    info = probe_video(root / p / "videos" / f"{vid}.MP4")
    duration = info.n_frames / float(info.fps)
    other = gyro_of or vid
    raw = read_imu_csv(root / other[:3] / "meta_data" / f"{other}-gyro.csv", "gyro")
    gyro = prepare_stream(raw, CFG)
    assumed = sync_for_video(vid, {"gyro": gyro}, duration, None, CFG)["gyro"]
    windows = decode_windows(root / p / "videos" / f"{vid}.MP4", info, window_starts(duration, 6), VideoConfig())
    return raw, gyro, assumed, windows


def _task(vid: str) -> RecordingTask:
    """The probe task of a synthetic IMU video (EPIC layout)."""
    p = vid[:3]
    return RecordingTask(vid, p, f"{p}/videos/{vid}.MP4", f"{p}/meta_data/{vid}-accl.csv",
                         f"{p}/meta_data/{vid}-gyro.csv")


def test_planted_offset_corrected(synth_epic) -> None:
    root, _ = synth_epic(participants=2, videos_per_participant=1, seconds=10.0, seed=7, imu_offset_ms=250.0)
    for vid in ("P01_101", "P02_101"):
        raw, gyro, assumed, windows = _recording(root, vid)
        assert len(windows) == 6
        est = estimate_offset(windows, gyro, assumed)
        assert est.used and est.reason == "" and est.kept >= 5, est
        assert est.peak_r >= 0.9 and est.confidence >= 0.8, est
        before = truth_alignment_ms(root, vid, "gyro", raw.ms, assumed, CFG)
        after = truth_alignment_ms(root, vid, "gyro", raw.ms, est.sync, CFG)
        assert np.median(before) > 100  # the assumed model is far off ...
        # ... measured (gyroscope rows): median 3.4 and 4.4 ms, worst 4.5 and 10.9 ms
        assert np.median(after) <= 10 and after.max() <= 40, (vid, np.median(after), after.max())
        again = estimate_offset(windows, gyro, assumed)
        assert again == est  # deterministic


def test_unrelated_gyroscope_keeps_the_assumed_model(synth_epic) -> None:
    root, _ = synth_epic(participants=2, videos_per_participant=1, seconds=10.0, seed=7, imu_offset_ms=250.0)
    _, gyro, assumed, windows = _recording(root, "P01_101", gyro_of="P02_101")
    est = estimate_offset(windows, gyro, assumed)
    assert not est.used and est.sync == assumed, est
    assert est.reason.startswith(TOO_FEW_WINDOWS) or est.confidence < 0.5, est


def test_auto_starts_from_its_own_prior_where_the_assumed_model_rejects(synth_epic) -> None:
    """IMU files 450 ms late in 10 s recordings: scaling the IMU onto the video would take a 4.5 % clock error, so
    the assumed model rejects the recording; ``--sync auto`` measures from offset 0, scale 1 instead and uses
    both sensors."""
    root, _ = synth_epic(participants=2, videos_per_participant=1, seconds=10.0, seed=7, imu_offset_ms=450.0)
    task = _task("P01_101")
    assumed = probe_recording(task, str(root), VideoConfig(), CFG)
    assert assumed.reason == IMU_NOT_SPANNING and assumed.sync_mode == "assumed", assumed
    auto = probe_recording(task, str(root), VideoConfig(), CFG, sync_mode="auto")
    assert auto.ok and auto.sync_mode == "auto" and auto.sync_fallback == "", auto
    assert abs(auto.sync_offset_ms - 450.0) <= 40.0, auto  # measured: 469
    assert auto.accl_sync == auto.gyro_sync and abs(auto.gyro_sync[0] * 1000 - auto.sync_offset_ms) <= 1e-6, auto
    assert auto.align_ms[0] <= 10 and auto.align_ms[2] <= 40, auto.align_ms  # vs the generator's truth: 4.2, 10.4


def test_still_windows_are_no_evidence() -> None:
    """A gyroscope that does not turn: every window is still, the assumed model stays (``no_motion``), whatever the
    image does; no window counts against a later confident one."""
    rng = np.random.default_rng(0)
    t = np.arange(0, 10, 1 / 200)
    still = TimedStream("gyro", t, np.full((t.size, 3), 0.01) + 1e-4 * rng.standard_normal((t.size, 3)), 200.0,
                        np.array([0]), None, "sensor", 0)
    windows = [Window(np.arange(48) / 24 + s, rng.integers(0, 255, (48, 16, 16, 3), dtype=np.uint8)) for s in (1, 5)]
    assumed = SyncParams(0.0, 1.0)
    est = estimate_offset(windows, still, assumed)
    assert not est.used and est.sync == assumed and est.still == 2 and est.reason.startswith(NO_MOTION), est


@pytest.mark.parametrize("planted_ms", [-500.0, 500.0])
def test_auto_at_the_ends_of_the_range(epic_sync_ends, planted_ms) -> None:
    """IMU files 500 ms early and 500 ms late, probed exactly as ``egoimu build --sync auto`` probes them (its
    windows; its prior offset 0, scale 1, since a 10 s recording's durations then differ by 5 %): every row of both
    sensors lands within the goals of ``egoimu bench sync`` (median <= 10 ms, worst <= 40 ms) of the truth."""
    root = epic_sync_ends[planted_ms]
    for vid in ("P02_101", "P03_101"):
        assumed = probe_recording(_task(vid), str(root), VideoConfig(), CFG)
        assert assumed.reason == IMU_NOT_SPANNING, assumed
        rec = probe_recording(_task(vid), str(root), VideoConfig(), CFG, sync_mode="auto")
        assert rec.ok and rec.sync_fallback == "" and rec.sync_confidence >= 0.8, rec
        assert rec.align_ms[0] <= 10.0 and rec.align_ms[2] <= 40.0, (vid, rec.align_ms)
        assert abs(rec.sync_offset_ms - planted_ms) <= 40.0, (vid, rec.sync_offset_ms)


def test_block_mean_is_the_rounded_float_mean() -> None:
    rng = np.random.default_rng(5)
    frames = rng.integers(0, 256, (5, 66, 71, 3), dtype=np.uint8)  # sizes with leftover rows and columns
    frames[0, :4, :4] = [[0], [1]] * 2  # block sums of 8: means of exactly 0.5, rounded to 0 (half to even)
    frames[1, :4, :4] = [[255], [254]] * 2  # 254.5 -> 254
    for d in (1, 2, 4, 5):
        t, h, w, _ = frames.shape
        expected = frames[:, : h // d * d, : w // d * d].reshape(t, h // d, d, w // d, d, 3).mean(axis=(2, 4))
        assert np.array_equal(block_mean(frames, d), np.rint(expected).astype(np.uint8))
    assert block_mean(frames, 4)[0, 0, 0].tolist() == [0, 0, 0]
    assert block_mean(frames, 4)[1, 0, 0].tolist() == [254, 254, 254]


def test_windows_are_the_same_frames_at_any_decoder_thread_count(gopro_karma) -> None:
    """``measure_sync`` decodes with SYNC_DECODE_THREADS threads: the windows of the real HERO5 file are
    bit-identical to a one-thread decode (so the estimate, and the shards, stay deterministic)."""
    info = probe_video(gopro_karma)
    starts = window_starts(info.n_frames / float(info.fps), 3)
    one = decode_windows(gopro_karma, info, starts, VideoConfig(threads=1))
    many = decode_windows(gopro_karma, info, starts, VideoConfig(threads=SYNC_DECODE_THREADS))
    assert SYNC_DECODE_THREADS > 1 and len(one) == len(many) == 3
    assert all(np.array_equal(a.frames, b.frames) and np.array_equal(a.times_s, b.times_s)
               for a, b in zip(one, many))
