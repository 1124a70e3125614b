"""``egoimu build --source gopro`` on the real GoPro file (../shared/data/gopro/karma.mp4), beside a GoPro
folder's usual strays: an MP4 without a GPMF track and a file that is not a video."""

from __future__ import annotations

import subprocess

import h5py
import numpy as np
import pytest

from egoimu.manifests.schema import Manifest
from egoimu.pipeline.build import main as build_main
from egoimu.pipeline.ffmpeg_bin import ffmpeg_exe
from egoimu.pipeline.recordings import IMU_UNREADABLE
from egoimu.pipeline.sources.gopro import NOT_A_VIDEO

KARMA_WINDOWS = 6  # 362 frames at 30000/1001 fps = 12.08 s: 2 s windows every 2 s start at 0, 2, ..., 10 s


def test_build_gopro_karma(tmp_path, gopro_karma, capsys):
    root = tmp_path / "root"
    (root / "P01").mkdir(parents=True)
    (root / "P01" / "karma.MP4").symlink_to(gopro_karma)
    (root / "P02").mkdir()
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25", "-t", "2.5",
                    "-pix_fmt", "yuv420p", str(root / "P02" / "plain.MP4")], check=True)
    (root / "P02" / "notes.txt").write_text("settings\n")
    out = tmp_path / "out"
    assert build_main([str(root), str(out), "--source", "gopro", "--workers", "1", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "unlabelled 2 s windows every 2 s" in err
    m = Manifest.load(out)
    karma = m.clips[m.clips.video_id == "karma"]
    assert len(karma) == KARMA_WINDOWS and (karma.status == "written").all() and (karma.split == "train").all()
    assert (karma.kind == "window").all()
    stray = m.clips[m.clips.status == "rejected"].set_index("clip_id")
    assert stray.reason.to_dict() == {"P02/notes.txt": NOT_A_VIDEO, "plain": IMU_UNREADABLE}
    assert m.summary["accounting"] == {"input": 8, "written": 6,
                                       "rejected_by_reason": {NOT_A_VIDEO: 1, IMU_UNREADABLE: 1}}
    assert "plain.MP4: no GPMF telemetry track" in m.summary["rejection_examples"][IMU_UNREADABLE][0]
    recs = m.recordings.set_index("video_id")
    assert recs.loc["karma", "status"] == "ok" and recs.loc["karma", "accl_path"] == "P01/karma.MP4"
    assert recs.loc["karma", "accl_rate_hz"] == pytest.approx(200, rel=0.01)
    assert recs.loc["karma", "gyro_rate_hz"] == pytest.approx(400, rel=0.01)
    assert recs.loc["karma", "accl_time_convention"] == recs.loc["karma", "gyro_time_convention"] == "sensor"
    assert recs.loc["plain", "status"] == "rejected" and recs.loc["plain", "reason"] == IMU_UNREADABLE
    (shard,) = m.shards.shard
    with h5py.File(out / shard, "r") as h5:
        imu = h5["imu"][:]
    assert imu.shape == (KARMA_WINDOWS, 396, 6) and np.isfinite(imu).all()
    assert imu[:, :, 0].mean() == pytest.approx(9.7, abs=0.3)  # gravity on AcclX (up): the head frame


def test_build_gopro_bad_input_is_one_line(tmp_path, capsys):
    (tmp_path / "root" / "P01").mkdir(parents=True)
    (tmp_path / "root" / "P01" / "notes.txt").write_text("x\n")
    assert build_main([str(tmp_path / "root"), str(tmp_path / "out"), "--source", "gopro"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no GoPro MP4 under" in err[0]
    assert build_main([str(tmp_path / "root"), str(tmp_path / "out"), "--source", "gopro",
                       "--split", "canonical"]) == 2
    assert "--split canonical is EPIC-KITCHENS-100's participants" in capsys.readouterr().err
