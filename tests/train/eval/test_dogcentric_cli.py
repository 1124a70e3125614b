"""``egoimu eval dogcentric`` end to end on a small synthetic DogCentric build (``egoimu synth dogcentric`` +
``egoimu build --source dogcentric``), and the Table 5 statistic its bootstrap resamples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from egoimu.train.eval.dogcentric import DOGS, HEAD_MOTION_ACTIVITIES
from egoimu.train.eval.dogcentric_cli import main, table5_accuracy
from egoimu.train.eval.probe_cli import main as probe_main
from egoimu.train.eval.results import read_result
from egoimu.train.models.slowfast import SlowFastSmall


def test_table5_accuracy_is_the_mean_over_pairings_of_fold_means():
    correct = np.array([[1, 0], [0, 1], [1, 1], [1, 0], [0, 0]], dtype=float)
    fold = np.array([[0, 0], [0, 1], [1, 1], [1, 0], [1, 1]])
    # pairing 0: fold 0 {1, 0} -> 0.5, fold 1 {1, 1, 0} -> 2/3; pairing 1: fold 0 {0, 0} -> 0, fold 1 {1, 1, 0}
    assert table5_accuracy(correct, fold) == pytest.approx(((0.5 + 2 / 3) / 2 + (0 + 2 / 3) / 2) / 2)
    with pytest.raises(ValueError, match="no clips"):
        table5_accuracy(correct[:1], fold[:1])


@pytest.fixture(scope="module")
def dog_build(tmp_path_factory) -> Path:
    """One clip per dog and head-motion activity (16) plus 6 others, 160x120, built video-only."""
    from egoimu.pipeline.build import main as build_main
    from egoimu.pipeline.synth.cli import main as synth_main

    base = tmp_path_factory.mktemp("dogs")
    assert synth_main(["dogcentric", str(base / "dogs"), "--clips-per-activity", "1", "--seed", "5", "--quiet",
                       "--resolution", "160x120", "--seconds", "2", "3"]) == 0
    assert build_main([str(base / "dogs"), str(base / "out"), "--source", "dogcentric", "--workers", "2",
                       "--quiet"]) == 0
    return base / "out"


@pytest.mark.slow
def test_dogcentric_three_pairings_and_a_valid_file(dog_build, tmp_path, capsys):
    clips = pd.read_csv(dog_build / "clips.csv")
    written = clips[clips.status == "written"]
    assert set(written.split) == {"test"} and set(written.participant_id) == set(DOGS)  # what the command reads
    common = ["--data", str(dog_build), "--out-dir", str(tmp_path), "--cache", str(tmp_path / "cache"),
              "--num-workers", "0", "--n-boot", "300"]
    assert main(["--random", "small", *common]) == 0
    printed = capsys.readouterr().out
    assert "16 clips of 4 dogs" in printed and printed.count(" | ") == 3
    result = read_result(tmp_path / "eval-dogcentric-random.json")
    assert (result["evaluation"], result["table"], result["representation"]) == ("dogcentric", 5, "random")
    pairings = result["pairings"]
    assert len(pairings) == 3 and {p["dogs"][0][0] for p in pairings} == {"Hime"}
    assert {frozenset(p["dogs"][0]) | frozenset(p["dogs"][1]) for p in pairings} == {frozenset(DOGS)}
    means = [p["mean"] for p in pairings]
    top1 = result["metrics"]["top1"]
    assert top1["value"] == pytest.approx(np.mean(means)) and top1["low"] <= top1["value"] <= top1["high"]
    assert result["spread"] == pytest.approx({"std": np.std(means), "min": min(means), "max": max(means)})
    assert all(f["n_test"] == 8 and f["n_train"] == 8 for p in pairings for f in p["folds"])
    assert set(result["per_class"]) == set(HEAD_MOTION_ACTIVITIES)
    assert result["confusion"]["labels"] == list(HEAD_MOTION_ACTIVITIES)
    assert sum(map(sum, result["confusion"]["matrix"])) == 3 * 16  # every clip tested once per pairing
    assert result["counts"] == {d: {a: 1 for a in HEAD_MOTION_ACTIVITIES} for d in DOGS}
    assert result["conditions"]["n"] == 16 and result["conditions"]["split"] == "test"
    assert len(result["C_per_fold"]) == 6 and result["C"] is None

    # a pytorchvideo-format checkpoint: "kinetics" only when the user names it so (--init-name), whatever its
    # head; else "checkpoint" with provenance "pytorchvideo checkpoint (unnamed)"; fixed C
    for heads, init_name, name in ((400, [], "checkpoint"), (None, ["--init-name", "kinetics400"], "kinetics")):
        pv = tmp_path / f"sf-{heads}.pyth"
        torch.save({"model_state": SlowFastSmall(num_classes=heads).state_dict()}, pv)
        assert main(["--checkpoint", str(pv), *init_name, "--model", "small", "--C", "1", *common]) == 0
        result = read_result(tmp_path / f"eval-dogcentric-{name}.json")
        assert result["representation"] == name and result["C"] == 1.0 and set(result["C_per_fold"]) == {1.0}
        assert result["conditions"]["checkpoint"] == str(pv.resolve())
        assert result["conditions"]["provenance"] == (init_name[-1] if init_name else "pytorchvideo checkpoint "
                                                                                      "(unnamed)")


def test_dogcentric_bad_inputs(dog_build, built_epic, tmp_path, capsys):
    _, epic = built_epic
    common = ["--random", "small", "--out-dir", str(tmp_path), "--num-workers", "0"]
    assert probe_main([*common, "--data", str(dog_build)]) == 2  # no train split in a DogCentric build
    err = capsys.readouterr().err
    assert str(dog_build / "clips.csv") in err and "'train' has no written clips" in err
    assert main([*common, "--data", str(epic), "--n-boot", "10"]) == 2  # an EPIC build: no dogs
    assert "need clips of the four dogs" in capsys.readouterr().err
    assert main([*common, "--data", str(dog_build), "--split", "validation"]) == 2
    assert "'validation' has no written clips" in capsys.readouterr().err
    assert main([*common, "--data", str(dog_build), "--init-name", "kinetics400"]) == 2  # names no checkpoint
    assert "--init-name names a pytorchvideo --checkpoint; none was given" in capsys.readouterr().err
