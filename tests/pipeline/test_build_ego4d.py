"""``egoimu synth ego4d --faults all`` + ``egoimu build --source ego4d``: every documented quirk ends as its expected
rejection or repair, counts add up, splits are subject-disjoint by wearer, the IMU is aligned with the generator's
truth, the audit passes, and the trainer runs on the build (real Dask, ffmpeg, HDF5, torch)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import h5py
import pandas as pd
import pytest

from egoimu.cli import main as egoimu_main
from egoimu.pipeline.build import main as build_main
from egoimu.pipeline.sources import ego4d
from egoimu.pipeline.synth.ego4d_faults import WRITTEN
from tests.conftest import EGO4D_FAULTY


@pytest.fixture(scope="module")
def built(synth_ego4d, tmp_path_factory) -> tuple[Path, Path, dict]:
    root, _ = synth_ego4d(**EGO4D_FAULTY)
    out = tmp_path_factory.mktemp("ego4d-build") / "out"
    assert build_main([str(root), str(out), "--source", "ego4d", "--workers", "2", "--quiet"]) == 0
    faults = {r["kind"]: r for r in json.loads((root / "synth_truth" / "faults.json").read_text())["faults"]}
    return root, out, faults


def _clips(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "clips.csv", keep_default_na=False)


def test_every_quirk_ends_as_expected_and_counts_add_up(built):
    root, out, faults = built
    clips, manifest = _clips(out), json.loads((out / "manifest.json").read_text())
    narrations = json.loads((root / ego4d.NARRATIONS).read_text())
    n_narrations = sum(len(v["narration_pass_1"]["narrations"]) for v in narrations.values())
    segments = clips[clips.kind == "segment"]
    assert len(segments) == n_narrations  # every narration is one row, written or rejected
    acc = manifest["accounting"]
    assert acc["input"] == len(clips) and acc["written"] + sum(acc["rejected_by_reason"].values()) == acc["input"]
    assert (clips.status == "written").sum() == acc["written"] > 0
    row_faults = {k: r for k, r in faults.items() if r["scope"] == "row"}
    named = {f"{ego4d.short_uuid(r['annotation_uid'])}_{r['index']}": k for k, r in row_faults.items()
             if "annotation_uid" in r}  # one narration each (its clip id), the rest name a whole unknown video
    for clip_id, kind in named.items():
        assert segments[segments.clip_id == clip_id].reason.tolist() == [faults[kind]["expected"]], kind
    ghost = faults["narration_unknown_video"]
    assert set(clips[clips.video_id == ego4d.compact_id(ghost["video_uid"])].reason) == {ghost["expected"]}
    for kind, rec in faults.items():
        mine = clips[(clips.video_id == ego4d.compact_id(rec["video_uid"])) & ~clips.clip_id.isin(named)]
        if rec["scope"] in ("video", "wearer"):
            want = "" if rec["expected"] == WRITTEN else rec["expected"]
            assert len(mine) and set(mine[mine.kind == "segment"].reason) == {want}, (kind, set(mine.reason))
        elif rec["scope"] == "window":  # the trimmed second: the clips over it rejected, the others written
            a, b = rec["time_s"]
            over = (mine.start_s.astype(float) < b) & (mine.end_s.astype(float) > a)
            assert over.any() and set(mine[over].reason) == {rec["expected"]}, kind
            assert set(mine[~over].reason) == {""}, kind
    units = manifest["source"]["ego4d"]["imu_units"]
    assert "accl: unit g " in units[ego4d.compact_id(faults["accl_in_g"]["video_uid"])]
    assert all("accl: unit m/s^2" in u for v, u in units.items()
               if v != ego4d.compact_id(faults["accl_in_g"]["video_uid"]))
    assert manifest["source"]["ego4d"]["videos_of_unknown_wearer"] == [faults["null_participant"]["video_uid"]]
    assert manifest["imu_cleaning"]["rows_reordered"] >= 3 and manifest["imu_cleaning"]["rows_dropped"] > 0


def test_splits_are_subject_disjoint_and_the_imu_aligned_with_the_truth(built, capsys):
    _, out, _ = built
    clips = _clips(out)
    written = clips[clips.status == "written"]
    per_wearer = defaultdict(set)
    for p, s in zip(written.participant_id, written.split):
        per_wearer[p].add(s)
    assert len(per_wearer) >= 3 and all(len(s) == 1 for s in per_wearer.values())
    assert set(written.split) == {"train", "validation", "test"}
    manifest = json.loads((out / "manifest.json").read_text())
    truth = manifest["imu_alignment_vs_truth_ms"]
    assert len(truth["videos"]) >= 2 and truth["max"] < 1e-6  # the canonical timeline is the generator's truth
    with h5py.File(next((out / "shards" / "train").glob("*.h5")), "r") as f:
        assert f["video"].shape[1:] == (48, 256, 256, 3) and f["imu"].shape[1:] == (396, 6)
    assert egoimu_main(["audit", "--sync", str(out)]) == 0, capsys.readouterr().out
    assert "aligned" in capsys.readouterr().out


def test_the_trainer_runs_on_an_ego4d_build(built, tmp_path):
    from egoimu.train.loop import main as train_main

    _, out, _ = built
    run = tmp_path / "run"
    assert train_main([str(out), "--run-dir", str(run), "--model", "small", "--steps", "2", "batch_size=4",
                       "num_workers=0"]) == 0
    assert (run / "last.pt").is_file()
    assert [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()
            if '"loss"' in line][-1] == 2
