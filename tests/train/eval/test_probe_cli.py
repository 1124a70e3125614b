"""``egoimu eval probe`` end to end on the shared build (random init, a tiny contrastive and a tiny verb_video run),
and its confusion-matrix helper."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from egoimu.train.eval.probe_cli import main
from egoimu.train.eval.results import class_names, read_result
from egoimu.train.eval.supervised import named_confusion


def test_named_confusion_top_classes_and_other():
    y = np.array([0, 0, 0, 1, 1, 2, 3])
    pred = np.array([0, 1, 9, 1, 0, 2, 2])
    got = named_confusion(y, pred, {0: "take", 1: "put"}, top=2)
    assert got["labels"] == ["take", "put", "other"]
    assert got["matrix"] == [[1, 1, 1], [1, 1, 0], [0, 0, 2]]
    assert sum(map(sum, got["matrix"])) == len(y)
    exact = named_confusion(["a", "b"], ["b", "b"], order=["b", "a"])
    assert exact == {"labels": ["b", "a"], "matrix": [[1, 0], [1, 0]]}


@pytest.mark.slow
def test_probe_random_and_runs_give_valid_result_files(eval_tiny_run, eval_verb_run, tmp_path, capsys):
    (data, ssl), (_, sup) = eval_tiny_run, eval_verb_run
    out, cache = tmp_path / "results", tmp_path / "cache"
    common = ["--data", str(data), "--out-dir", str(out), "--cache", str(cache), "--num-workers", "0",
              "--n-boot", "200"]
    assert main(["--random", "small", "--seed", "1", *common, "--json", str(tmp_path / "r.json")]) == 0
    assert main([str(ssl), *common]) == 0
    assert main([str(sup), *common, "--label", "verb video"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("test top-1") == 3
    clips = pd.read_csv(Path(data) / "clips.csv")
    labelled = clips[(clips.status == "written") & (clips.verb_class >= 0)]
    n = labelled.split.value_counts()
    names = class_names(data)
    for file, rep in (("eval-probe-random.json", "random"), ("eval-probe-self-supervised.json", "self-supervised"),
                      ("eval-probe-verb-video.json", "supervised")):
        result = read_result(out / file)
        assert (result["evaluation"], result["table"], result["representation"]) == ("probe", 4, rep)
        top1 = result["metrics"]["top1"]
        assert 0.0 <= top1["low"] <= top1["value"] <= top1["high"] <= 1.0
        assert (result["n_train"], result["n_val"], result["n_test"]) == (n["train"], n["validation"], n["test"])
        test = labelled[labelled.split == "test"]
        assert set(result["per_class"]) == {names[c] for c in test.verb_class}
        assert sum(map(sum, result["confusion"]["matrix"])) == len(test)
        assert len(result["confusion"]["labels"]) <= 11
        correct = sum(result["per_class"][k] * result["per_class_n"][k] for k in result["per_class"])
        assert correct == pytest.approx(top1["value"] * len(test))
        top5, mean_class = result["metrics"]["top5"], result["metrics"]["mean_class"]
        assert top1["value"] <= top5["value"] and top5["low"] <= top5["value"] <= top5["high"]
        assert mean_class["value"] == pytest.approx(np.mean(list(result["per_class"].values())))
        assert result["C"] in (0.01, 0.1, 1.0, 10.0, 100.0) and set(result["val_accuracy"]) == {
            "0.01", "0.1", "1.0", "10.0", "100.0"}
        assert result["conditions"]["feature_dim"] == 320
    assert read_result(out / "eval-probe-random.json")["conditions"]["seed"] == 1
    assert read_result(out / "eval-probe-self-supervised.json")["conditions"]["step"] == 2
    assert len(list(cache.glob("*.h5"))) == 9  # 3 representations x 3 splits
    summary = json.loads((tmp_path / "r.json").read_text())
    assert summary["representation"] == "random" and summary["top1"] == read_result(
        out / "eval-probe-random.json")["metrics"]["top1"]["value"]

    # reused features: the same numbers again, with the default label from --representation
    assert main([str(ssl), *common, "--representation", "checkpoint"]) == 0
    again = read_result(out / "eval-probe-checkpoint.json")
    assert again["metrics"] == read_result(out / "eval-probe-self-supervised.json")["metrics"]
    assert len(list(cache.glob("*.h5"))) == 9


def test_probe_bad_inputs(built_epic, tmp_path, capsys):
    _, data = built_epic
    assert main([str(tmp_path), "--data", str(data)]) == 2
    assert f"RUN {tmp_path} is not a training run (no config.json, no last.pt)" in capsys.readouterr().err
    assert main(["--random", "small", "--data", str(data), "--Cs", "0", "--out-dir", str(tmp_path)]) == 2
    assert "--Cs must be > 0" in capsys.readouterr().err
