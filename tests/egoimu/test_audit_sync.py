"""``egoimu audit --sync OUT``: the sync check from the shards alone, on real builds of the synthetic set (head
motion physically tied to the image motion): the shared build peaks at lag 0, a planted IMU offset is found."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from egoimu.cli import main as egoimu_main
from egoimu.pipeline.recordings import IMU_NOT_SPANNING

ONE_FRAME_MS = 1000.0 / 24


def _sync(out: Path, tmp_path: Path, *extra: str) -> tuple[int, dict[str, dict]]:
    report = tmp_path / "sync.json"
    rc = egoimu_main(["audit", "--sync", str(out), "--json", str(report), *extra])
    return rc, {v["video_id"]: v for v in json.loads(report.read_text())["videos"]}


def test_shared_build_is_aligned(built_epic, tmp_path, capsys) -> None:
    _, out = built_epic
    rc, videos = _sync(out, tmp_path)
    assert rc == 0, capsys.readouterr().out
    assert sorted(videos) == ["P01_101", "P02_101", "P03_101", "P04_101"]
    for vid, v in videos.items():
        assert v["r"] >= 0.8, (vid, v)
        assert abs(v["lag_ms"]) <= ONE_FRAME_MS and abs(v["lag_frames"]) <= 1.0, (vid, v)
        # found from the data: yaw-left (GyroX) moves content +u, pitch-up (GyroY) moves it +v (conventions.md)
        assert v["pairing"] == {"dx": "+GyroX", "dy": "+GyroY"}, (vid, v)
    assert "4 of 4 videos aligned" in capsys.readouterr().out


def test_planted_offset_is_found(synth_epic, tmp_path, capsys) -> None:
    """IMU files 250 ms late (``--imu-offset-ms 250``), built with a sync table of each video's true clock scale:
    P01 with offset 0 (so the shards keep the planted offset), P02 with the true offset (aligned). The assumed
    model is not used here: it fits its scale to the durations, which turns a start offset into a drift."""
    from egoimu.pipeline.build import main as build_main

    root, _ = synth_epic(participants=2, videos_per_participant=1, seconds=10.0, seed=7, imu_offset_ms=250.0)
    rows = ["video_id,offset_s,scale"]
    for vid, offset in (("P01_101", 0.0), ("P02_101", 0.25)):
        truth = np.load(root / "synth_truth" / f"{vid}.npz")
        assert float(truth["offset_s"]) == pytest.approx(0.25)
        rows.append(f"{vid},{offset},{float(truth['clock_scale'])!r}")
    table = tmp_path / "sync.csv"
    table.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    assert build_main([str(root), str(out), "--workers", "1", "--clips-per-shard", "8", "--quiet",
                       "--ssl-windows", "off", "--encoding", "jpeg", "--sync", str(table)]) == 0
    capsys.readouterr()
    rc, videos = _sync(out, tmp_path)
    text = capsys.readouterr().out
    assert rc == 1 and "not: P01_101" in text, text
    assert abs(videos["P01_101"]["lag_ms"] - 250.0) <= ONE_FRAME_MS, videos["P01_101"]
    assert abs(videos["P02_101"]["lag_frames"]) <= 1.0, videos["P02_101"]
    assert min(v["r"] for v in videos.values()) >= 0.8, videos


def _mixed_offsets(synth_epic, ends: dict[float, Path], dest: Path) -> tuple[Path, dict[str, float]]:
    """A root whose IMU files are 250 ms late (P01_101), 500 ms early (P02_101) and 500 ms late (P03_101): the
    +500 ms set with P01's IMU files and truth from the +250 ms set and P02's from the -500 ms set. The seed renders
    the same videos whatever the offset (asserted), so each file belongs to its video; the build reads nothing
    else of a set that depends on the offset."""
    import shutil

    shutil.copytree(ends[500.0], dest)
    planted = {"P01_101": 250.0, "P02_101": -500.0, "P03_101": 500.0}
    quarter, _ = synth_epic(participants=2, videos_per_participant=1, seconds=10.0, seed=7, imu_offset_ms=250.0)
    for vid, src in (("P01_101", quarter), ("P02_101", ends[-500.0])):
        p = vid[:3]
        assert (src / p / "videos" / f"{vid}.MP4").read_bytes() == (dest / p / "videos" / f"{vid}.MP4").read_bytes()
        for rel in (f"{p}/meta_data/{vid}-accl.csv", f"{p}/meta_data/{vid}-gyro.csv", f"synth_truth/{vid}.npz"):
            shutil.copyfile(src / rel, dest / rel)
    for vid, ms in planted.items():
        assert float(np.load(dest / "synth_truth" / f"{vid}.npz")["offset_s"]) == pytest.approx(ms / 1000), vid
    return dest, planted


def test_build_sync_auto_aligns_planted_offsets(synth_epic, epic_sync_ends, tmp_path, capsys) -> None:
    """IMU files 250 ms late (P01) and at both ends of the measured range, 500 ms early (P02) and late (P03), built
    with ``--sync assumed`` (the durations' model: the +250 ms shards stay off; at ±500 ms a 10 s recording's
    durations differ by 5 %, beyond a clock error, so it rejects P02 and P03) and ``--sync auto``
    (measured: every video written and aligned, the estimate recorded in recordings.csv and manifest.json, every
    IMU row within the goals of ``egoimu bench sync`` of the truth)."""
    from egoimu.manifests.schema import Manifest
    from egoimu.pipeline.build import main as build_main

    root, planted = _mixed_offsets(synth_epic, epic_sync_ends, tmp_path / "mixed")
    lags = {}
    for mode in ("assumed", "auto"):
        out = tmp_path / mode
        assert build_main([str(root), str(out), "--workers", "1", "--clips-per-shard", "8", "--quiet",
                           "--ssl-windows", "off", "--encoding", "jpeg", "--sync", mode]) == 0
        capsys.readouterr()
        rc, videos = _sync(out, tmp_path)
        assert min(v["r"] for v in videos.values()) >= 0.8, videos
        lags[mode] = {vid: v["lag_frames"] for vid, v in videos.items()}
        assert (rc == 0) == (mode == "auto"), (mode, capsys.readouterr().out)
    assert sorted(lags["assumed"]) == ["P01_101"], lags  # P02, P03 rejected
    assert all(abs(lag) > 1.0 for lag in lags["assumed"].values()), lags
    assert sorted(lags["auto"]) == sorted(planted) and all(abs(lag) <= 1.0 for lag in lags["auto"].values()), lags
    manifest = Manifest.load(tmp_path / "auto")
    recs = manifest.recordings.set_index("video_id").loc[sorted(planted)]
    assert (recs.sync_mode == "auto").all() and (recs.sync_fallback == "").all() and (recs.status == "ok").all(), recs
    error = (recs.sync_offset_ms - pd.Series(planted)).abs()
    assert (error <= 40.0).all(), recs.sync_offset_ms  # measured: 262, -494, 506
    assert ((recs.imu_offset_s * 1000 - recs.sync_offset_ms).abs() <= 1e-6).all(), recs  # the estimate is used
    assert (recs.sync_peak_r >= 0.9).all(), recs
    align = manifest.summary["imu_alignment_vs_truth_ms"]["videos"]
    assert all(align[v]["median"] <= 10.0 and align[v]["max"] <= 40.0 for v in planted), align
    summary = manifest.summary["sync"]
    assert summary["mode"] == "auto" and summary["used"] == summary["measured"] == 3, summary
    assumed = Manifest.load(tmp_path / "assumed").recordings.set_index("video_id").loc[sorted(planted)]
    assert (assumed.sync_mode == "assumed").all() and assumed.sync_offset_ms.isna().all(), assumed
    assert list(assumed.reason) == ["", IMU_NOT_SPANNING, IMU_NOT_SPANNING], assumed.reason


def test_usage_errors(tmp_path, capsys) -> None:
    assert egoimu_main(["audit", "--sync", str(tmp_path)]) == 2
    assert "no shards" in capsys.readouterr().err
    assert egoimu_main(["audit", "--sync", str(tmp_path), "--max-lag-s", "0"]) == 2
