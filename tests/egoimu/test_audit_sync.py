"""``egoimu audit --sync OUT``: the sync check from the shards alone, on real builds of the synthetic set (head
motion physically tied to the image motion): the shared build peaks at lag 0, a planted IMU offset is found."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from egoimu.cli import main as egoimu_main

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
                       "--encoding", "jpeg", "--sync", str(table)]) == 0
    capsys.readouterr()
    rc, videos = _sync(out, tmp_path)
    text = capsys.readouterr().out
    assert rc == 1 and "not: P01_101" in text, text
    assert abs(videos["P01_101"]["lag_ms"] - 250.0) <= ONE_FRAME_MS, videos["P01_101"]
    assert abs(videos["P02_101"]["lag_frames"]) <= 1.0, videos["P02_101"]
    assert min(v["r"] for v in videos.values()) >= 0.8, videos


def test_build_sync_auto_aligns_a_planted_offset(synth_epic, tmp_path, capsys) -> None:
    """The same IMU files 250 ms late, built with ``--sync assumed`` (the durations' model: the shards stay off)
    and ``--sync auto`` (measured: every video aligned, the estimate recorded in recordings.csv and
    manifest.json)."""
    from egoimu.manifests.schema import Manifest
    from egoimu.pipeline.build import main as build_main

    root, _ = synth_epic(participants=2, videos_per_participant=1, seconds=10.0, seed=7, imu_offset_ms=250.0)
    lags = {}
    for mode in ("assumed", "auto"):
        out = tmp_path / mode
        assert build_main([str(root), str(out), "--workers", "1", "--clips-per-shard", "8", "--quiet",
                           "--encoding", "jpeg", "--sync", mode]) == 0
        capsys.readouterr()
        rc, videos = _sync(out, tmp_path)
        assert sorted(videos) == ["P01_101", "P02_101"] and min(v["r"] for v in videos.values()) >= 0.8, videos
        lags[mode] = {vid: v["lag_frames"] for vid, v in videos.items()}
        assert (rc == 0) == (mode == "auto"), (mode, capsys.readouterr().out)
    assert all(abs(lag) > 1.0 for lag in lags["assumed"].values()), lags
    assert all(abs(lag) <= 1.0 for lag in lags["auto"].values()), lags
    manifest = Manifest.load(tmp_path / "auto")
    recs = manifest.recordings.set_index("video_id").loc[["P01_101", "P02_101"]]
    assert (recs.sync_mode == "auto").all() and (recs.sync_fallback == "").all(), recs
    assert ((recs.sync_offset_ms - 250.0).abs() <= 40.0).all(), recs.sync_offset_ms  # measured: 256, 266
    assert ((recs.imu_offset_s * 1000 - recs.sync_offset_ms).abs() <= 1e-6).all(), recs  # the estimate is used
    assert (recs.sync_peak_r >= 0.9).all(), recs
    summary = manifest.summary["sync"]
    assert summary["mode"] == "auto" and summary["used"] == summary["measured"] == 2, summary
    assumed = Manifest.load(tmp_path / "assumed").recordings.set_index("video_id").loc[["P01_101", "P02_101"]]
    assert (assumed.sync_mode == "assumed").all() and assumed.sync_offset_ms.isna().all(), assumed


def test_usage_errors(tmp_path, capsys) -> None:
    assert egoimu_main(["audit", "--sync", str(tmp_path)]) == 2
    assert "no shards" in capsys.readouterr().err
    assert egoimu_main(["audit", "--sync", str(tmp_path), "--max-lag-s", "0"]) == 2
