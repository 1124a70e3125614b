"""``egoimu build --source gopro`` on the real GoPro file (../shared/data/gopro/karma.mp4), beside a GoPro
folder's usual strays: an MP4 without a GPMF track and a file that is not a video. Built once with the source's
default sync (``auto``, prior the container timeline) and checked by ``egoimu audit --sync``; then the same file's
``egoimu extract-imu`` CSVs in the EPIC layout give the same IMU windows under the same sync."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess

import h5py
import numpy as np
import pytest

from egoimu.cli import main as egoimu_main
from egoimu.manifests.schema import Manifest
from egoimu.pipeline.build import main as build_main
from egoimu.pipeline.ffmpeg_bin import ffmpeg_exe
from egoimu.pipeline.recordings import IMU_UNREADABLE
from egoimu.pipeline.sources.gopro import NOT_A_VIDEO
from egoimu.pipeline.sources.sync_defaults import CONTAINER_TIMELINE

VID = "P01_101"  # karma.mp4 under an EPIC-style id, so that the EPIC layout below can hold it too
#: 362 frames at 30000/1001 fps = 12.08 s: the default (auto) stride for 12 s of video is the densest, 0.5 s. The
#: measured sync puts karma's first IMU sample 30 ms after the first frame (beyond the 20 ms edge tolerance), so the
#: tiling starts at the first tick after it (1/24 s): 1/24, 0.5 + 1/24, ..., 10 + 1/24 s (the last start whose 2 s
#: fit in 12.08 s).
KARMA_STARTS = [k * 0.5 + 1 / 24 for k in range(21)]
ONE_FRAME_S = 1 / 24


@pytest.fixture(scope="module")
def karma_build(tmp_path_factory, gopro_karma):
    """The GoPro build (default sync) of karma beside two strays: (out, stderr)."""
    tmp = tmp_path_factory.mktemp("gopro")
    root = tmp / "root"
    (root / "P01").mkdir(parents=True)
    (root / "P01" / f"{VID}.MP4").symlink_to(gopro_karma)
    (root / "P02").mkdir()
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25", "-t", "2.5",
                    "-pix_fmt", "yuv420p", str(root / "P02" / "plain.MP4")], check=True)
    (root / "P02" / "notes.txt").write_text("settings\n")
    out, err = tmp / "out", io.StringIO()
    with contextlib.redirect_stderr(err):
        assert build_main([str(root), str(out), "--source", "gopro", "--workers", "1", "--quiet"]) == 0
    return out, err.getvalue()


def test_build_gopro_karma(karma_build):
    out, err = karma_build
    assert "unlabelled 2 s windows at a stride chosen from the video (auto)" in err
    m = Manifest.load(out)
    assert m.summary["ssl_windows"] == {"requested": "auto", "stride_s": 0.5, "written": len(KARMA_STARTS),
                                        "train_video_s": pytest.approx(12.07, abs=0.01), "train_segments": 0}
    karma = m.clips[m.clips.video_id == VID]
    assert karma.start_s.tolist() == pytest.approx(KARMA_STARTS)
    assert (karma.status == "written").all() and (karma.split == "train").all() and (karma.kind == "window").all()
    stray = m.clips[m.clips.status == "rejected"].set_index("clip_id")
    assert stray.reason.to_dict() == {"P02/notes.txt": NOT_A_VIDEO, "plain": IMU_UNREADABLE}
    assert m.summary["accounting"] == {"input": 2 + len(KARMA_STARTS), "written": len(KARMA_STARTS),
                                       "rejected_by_reason": {NOT_A_VIDEO: 1, IMU_UNREADABLE: 1}}
    assert "plain.MP4: no GPMF telemetry track" in m.summary["rejection_examples"][IMU_UNREADABLE][0]
    recs = m.recordings.set_index("video_id")
    assert recs.loc[VID, "status"] == "ok" and recs.loc[VID, "accl_path"] == f"P01/{VID}.MP4"
    assert recs.loc[VID, "accl_rate_hz"] == pytest.approx(200, rel=0.01)
    assert recs.loc[VID, "gyro_rate_hz"] == pytest.approx(400, rel=0.01)
    assert recs.loc[VID, "accl_time_convention"] == recs.loc[VID, "gyro_time_convention"] == "sensor"
    assert recs.loc["plain", "status"] == "rejected" and recs.loc["plain", "reason"] == IMU_UNREADABLE
    (shard,) = m.shards.shard
    with h5py.File(out / shard, "r") as h5:
        imu = h5["imu"][:]
    assert imu.shape == (len(KARMA_STARTS), 396, 6) and np.isfinite(imu).all()
    assert imu[:, :, 0].mean() == pytest.approx(9.7, abs=0.3)  # gravity on AcclX (up): the head frame


def test_gopro_default_sync_is_auto_measured_on_karma(karma_build, tmp_path, capsys):
    """The source's default, stated at the start and recorded; the measurement confident on the real file
    (its one turn, in the last window: the rest of the flight is still); the audit finds the shards aligned."""
    out, err = karma_build
    assert "[sync] --sync auto (the default of --source gopro; prior: container-timeline)" in err
    m = Manifest.load(out)
    assert m.summary["sync"]["mode"] == "auto" and m.summary["sync"]["chosen_by"] == "default"
    assert m.summary["sync"]["prior"] == CONTAINER_TIMELINE and m.summary["sync"]["used"] == 1
    rec = m.recordings.set_index("video_id").loc[VID]
    assert rec.sync_mode == "auto" and rec.sync_fallback == "", rec
    assert rec.sync_peak_r >= 0.8 and rec.sync_confidence >= 0.8, rec  # measured: 0.990
    assert rec.sync_scale == 1.0 and 0 < rec.sync_offset_ms < 1000 * ONE_FRAME_S, rec  # measured: +16.9 ms
    assert rec.imu_offset_s * 1000 == pytest.approx(rec.sync_offset_ms) and rec.imu_rate_correction == 1.0
    report = tmp_path / "sync.json"
    assert egoimu_main(["audit", "--sync", str(out), "--json", str(report)]) == 0, capsys.readouterr().out
    (video,) = json.loads(report.read_text())["videos"]
    assert video["video_id"] == VID and video["timing"] == "source", video  # frames at their source instants
    assert abs(video["lag_s"]) <= ONE_FRAME_S, video  # measured: +2.3 ms
    assert video["pairing"]["dx"] == "+GyroX" and video["r_by_axis"]["dx"] >= 0.9, video  # yaw: the turn


def test_extract_imu_in_epic_layout_gives_the_same_windows(karma_build, gopro_karma, tmp_path, capsys):
    """``egoimu extract-imu`` + the EPIC reader = ``--source gopro``, clip by clip, under the same sync (a TABLE
    entry with the GoPro build's measured model: the EPIC source's own prior is the duration ratio, README)."""
    gopro_out, _ = karma_build
    root = tmp_path / "root"
    (root / "P01" / "videos").mkdir(parents=True)
    (root / "P01" / "videos" / f"{VID}.MP4").symlink_to(gopro_karma)
    assert egoimu_main(["extract-imu", str(root / "P01" / "videos" / f"{VID}.MP4"),
                        "--out", str(root / "P01" / "meta_data")]) == 0
    header = ("narration_id,participant_id,video_id,narration_timestamp,start_timestamp,stop_timestamp,start_frame,"
              "stop_frame,narration,verb,verb_class,noun,noun_class,all_nouns,all_noun_classes\n")
    (root / "EPIC_100_train.csv").write_text(header + f"{VID}_0,P01,{VID},00:00:03.000,00:00:03.00,00:00:05.00,"
                                              f"90,150,look left,look,0,left,0,['left'],[0]\n")
    rec = Manifest.load(gopro_out).recordings.set_index("video_id").loc[VID]
    model = f"{float(rec.imu_offset_s)!r},{float(rec.imu_rate_correction)!r}"  # both sensors share it (auto)
    (tmp_path / "sync.csv").write_text(f"video_id,offset_s,scale\n{VID},{model}\n")
    (tmp_path / "split.csv").write_text("participant_id,split\nP01,train\n")
    out = tmp_path / "out"
    assert build_main([str(root), str(out), "--split", str(tmp_path / "split.csv"), "--ssl-windows", "0.5",
                       "--sync", str(tmp_path / "sync.csv"), "--workers", "1", "--quiet"]) == 0
    assert "[sync] --sync assumed (the default of --source epic; prior: duration-ratio)" in capsys.readouterr().err
    epic_recs = Manifest.load(out).recordings.set_index("video_id")
    assert epic_recs.loc[VID, "accl_time_convention"] == "sensor" and epic_recs.loc[VID, "sync_mode"] == "table"
    ours, theirs = _windows(out), _windows(gopro_out)
    assert sorted(theirs) == [round(s * 24) for s in KARMA_STARTS] and set(theirs) <= set(ours)
    for tick, (imu, spec) in theirs.items():  # float32 shards: the same numbers up to the last bits
        np.testing.assert_allclose(ours[tick][0], imu, rtol=1e-6, atol=1e-6, err_msg=f"imu of window {tick}")
        np.testing.assert_allclose(ours[tick][1], spec, rtol=1e-5, atol=1e-5, err_msg=f"spec of window {tick}")


def _windows(out) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The unlabelled windows of a build: {start tick (1/24 s): (imu, spec)}."""
    found = {}
    for shard in sorted((out / "shards").glob("*/*.h5")):
        with h5py.File(shard, "r") as h5:
            for i, (cid, start) in enumerate(zip(h5["clip_id"][:], h5["start_s"][:])):
                if b"_w" in cid:
                    found[round(float(start) * 24)] = (h5["imu"][i], h5["spec"][i])
    return found


def test_build_gopro_bad_input_is_one_line(tmp_path, capsys):
    (tmp_path / "root" / "P01").mkdir(parents=True)
    (tmp_path / "root" / "P01" / "notes.txt").write_text("x\n")
    assert build_main([str(tmp_path / "root"), str(tmp_path / "out"), "--source", "gopro"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no GoPro MP4 under" in err[0]
    assert build_main([str(tmp_path / "root"), str(tmp_path / "out"), "--source", "gopro",
                       "--split", "canonical"]) == 2
    assert "--split canonical is EPIC-KITCHENS-100's participants" in capsys.readouterr().err
