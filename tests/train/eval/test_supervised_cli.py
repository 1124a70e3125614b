"""``egoimu eval supervised`` end to end: two tiny verb classifiers on the shared synthetic build."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from egoimu.train.eval.cli import main as eval_main
from egoimu.train.eval.results import read_result, result_name
from egoimu.train.eval.supervised_cli import LABEL
from egoimu.train.loop import main as train_main

TINY = ["--model", "small", "--steps", "2", "warmup_steps=1", "batch_size=4", "num_workers=0", "eval_every_epoch=0"]


@pytest.fixture(scope="module")
def classifier_runs(built_epic, tmp_path_factory) -> tuple[Path, Path, Path]:
    _, data = built_epic
    base = tmp_path_factory.mktemp("supervised")
    video, imu = base / "video", base / "imu"
    assert train_main([str(data), "--run-dir", str(video), *TINY, "objective=verb_video"]) == 0
    assert train_main([str(data), "--run-dir", str(imu), *TINY, "--objective", "verb_imu", "seed=1"]) == 0
    return Path(data), video, imu


@pytest.mark.slow
def test_eval_supervised_writes_tables_1_and_2(classifier_runs, capsys):
    data, video, imu = classifier_runs
    capsys.readouterr()
    assert eval_main(["supervised", str(video), str(imu), "--n-boot", "50"]) == 0
    out = capsys.readouterr().out
    assert "Table 1" in out and "Table 2" in out and "head motion only" in out and "mean class accuracy" in out

    path = video / result_name("supervised", LABEL)
    assert f"result: {path}" in out
    result = read_result(path)
    assert (result["evaluation"], result["table"]) == ("supervised", 1)
    clips = pd.read_csv(data / "clips.csv")
    test = clips[(clips.split == "test") & (clips.status == "written") & (clips.verb_class >= 0)]
    cond = result["conditions"]
    assert (cond["split"], cond["n"], cond["n_unlabelled"]) == ("test", len(test), 0)
    assert Path(cond["data"]) == data.resolve()
    assert (cond["video_run"], cond["imu_run"]) == (str(video.resolve()), str(imu.resolve()))
    assert (cond["video_step"], cond["imu_step"]) == (2, 2)
    assert (cond["video_seed"], cond["imu_seed"], cond["seed"]) == (0, 1, None)  # no common seed
    assert (cond["video_model"], cond["imu_model"], cond["model"]) == ("small", "small", "small")
    assert (cond["video_objective"], cond["imu_objective"]) == ("verb_video", "verb_imu")
    assert len(cond["video_config_sha256"]) == 64 and cond["video_config_sha256"] != cond["imu_config_sha256"]

    for side in ("video", "imu", "ensemble"):
        for metric in ("top1", "top5", "mean_class"):  # EPIC's verb metrics
            m = result["metrics"][f"{metric}_{side}"]
            assert 0.0 <= m["low"] <= m["value"] <= m["high"] <= 1.0
        assert result["metrics"][f"top5_{side}"]["value"] >= result["metrics"][f"top1_{side}"]["value"]

    counts = test.verb_class.value_counts()
    top = [r["verb_class"] for r in result["per_class"]]
    assert top == sorted(counts.index, key=lambda c: (-counts[c], c))[:5]
    assert [r["n"] for r in result["per_class"]] == [int(counts[c]) for c in top]
    assert all(0.0 <= r[side] <= 1.0 for r in result["per_class"] for side in ("video", "imu", "ensemble"))
    assert [r["verb_class"] for r in result["correct_by"]] == top
    for row, n in zip(result["correct_by"], (int(counts[c]) for c in top)):
        assert row["video_only"] + row["imu_only"] + row["both"] + row["neither"] == n
        assert isinstance(row["name"], str) and row["name"]
    assert sum(result["correct_by_all"].values()) == len(test)
    confusion = result["confusion"]
    assert sum(map(sum, confusion["matrix"])) == len(test)
    names = {r["verb_class"]: r["name"] for r in result["per_class"]}
    rows = dict(zip(confusion["labels"], confusion["matrix"]))
    assert all(sum(rows[names[c]]) == counts[c] for c in top)  # rows: the true classes

    # --out-dir, --label and --json (a short summary beside the one result file); the numbers are deterministic
    other, summary = video.parent / "elsewhere", video.parent / "summary.json"
    assert eval_main(["supervised", str(video), str(imu), "--n-boot", "50", "--data", str(data), "--out-dir",
                      str(other), "--label", "seed check", "--json", str(summary), "--num-workers", "2"]) == 0
    assert [p.name for p in other.iterdir()] == ["eval-supervised-seed-check.json"]
    again = read_result(other / "eval-supervised-seed-check.json")
    assert again["metrics"] == result["metrics"] and again["correct_by"] == result["correct_by"]
    short = json.loads(summary.read_text())
    assert short["top1_imu"] == result["metrics"]["top1_imu"]["value"] and short["n"] == len(test)
    assert short["result"] == str(other / "eval-supervised-seed-check.json")


@pytest.mark.slow
def test_eval_supervised_refuses_wrong_runs(classifier_runs, tmp_path, capsys):
    _, video, imu = classifier_runs
    assert eval_main(["supervised", str(imu), str(video), "--n-boot", "5"]) == 2
    err = capsys.readouterr().err
    assert str(imu / "last.pt") in err and "objective='verb_imu'" in err and "objective='verb_video' run" in err
    assert eval_main(["supervised", str(video), str(tmp_path), "--n-boot", "5"]) == 2
    assert f"IMU_RUN {tmp_path} is not a training run (no config.json, no last.pt)" in capsys.readouterr().err
    assert eval_main(["supervised", str(tmp_path), str(imu)]) == 2
    assert f"VIDEO_RUN {tmp_path} is not a training run (no config.json, no last.pt)" in capsys.readouterr().err
    assert not list(tmp_path.glob("eval-*.json"))
