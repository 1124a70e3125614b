"""The correspondence ROC-AUC: hand-made embeddings against scikit-learn, embed_split, ``egoimu eval corr``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from egoimu.train.config import TrainConfig
from egoimu.train.encode import embed_split
from egoimu.train.eval.cli import main as eval_main
from egoimu.train.eval.metrics import correspondence_auc
from egoimu.train.loop import main as train_main
from egoimu.train.model import build_model


def test_perfect_and_inverted_matching():
    eye = np.eye(3)
    assert correspondence_auc(eye, eye) == 1.0
    assert correspondence_auc(eye, -eye) == 0.0  # positives -1, negatives 0


def test_hand_computed_with_a_tie():
    # scores S = [[1, 1/sqrt2], [0, 1/sqrt2]]: positives 1 and 1/sqrt2, negatives 1/sqrt2 and 0;
    # of the 4 (positive, negative) pairs 3 are ordered right and one ties: AUC = 3.5 / 4
    v = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    m = torch.tensor([[2.0, 0.0], [1.0, 1.0]])  # row scale does not matter (cosine)
    assert correspondence_auc(v, m) == pytest.approx(0.875, abs=1e-12)


def test_matches_sklearn_on_explicit_pairs():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(7, 5))
    m = v + rng.normal(scale=1.5, size=(7, 5))
    labels, scores = [], []
    for i in range(7):
        for j in range(7):
            labels.append(int(i == j))
            scores.append(float(v[i] @ m[j] / (np.linalg.norm(v[i]) * np.linalg.norm(m[j]))))
    assert correspondence_auc(v, m) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert correspondence_auc(torch.from_numpy(3 * v).float(), torch.from_numpy(m)) == pytest.approx(
        roc_auc_score(labels, scores), abs=1e-6)


def test_bad_shapes():
    with pytest.raises(ValueError, match="at least 2 clips"):
        correspondence_auc(np.ones((1, 3)), np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"must both be \(N, D\)"):
        correspondence_auc(np.ones((3, 2)), np.ones((3, 4)))


def test_embed_split_every_clip_in_manifest_order_and_modes_restored(built_epic):
    _, data = built_epic
    cfg = TrainConfig(model="small", batch_size=3, num_workers=0)  # 4 validation clips: batches of 3 and 1
    torch.manual_seed(0)
    model = build_model(cfg)
    model.train()
    video, imu, ids, verbs = embed_split(model.video, model.imu, data, "validation", cfg, torch.device("cpu"))
    clips = pd.read_csv(Path(data) / "clips.csv")
    expected = clips[(clips.split == "validation") & (clips.status == "written")]
    assert ids == expected.clip_id.tolist()
    assert verbs.tolist() == expected.verb_class.tolist()
    assert video.shape == imu.shape == (len(ids), cfg.embed_dim) and video.dtype == torch.float32
    assert torch.allclose(video.norm(dim=1), torch.ones(len(ids)), atol=1e-5)
    assert all(m.training for m in model.modules())
    auc = correspondence_auc(video, imu)
    assert 0.0 <= auc <= 1.0 and math.isfinite(auc)


@pytest.mark.slow
def test_eval_corr_command(built_epic, tmp_path, capsys):
    _, data = built_epic
    run = tmp_path / "run"
    assert train_main([str(data), "--run-dir", str(run), "--model", "small", "--steps", "2", "warmup_steps=1",
                       "batch_size=4", "num_workers=0", "eval_every_epoch=0"]) == 0
    capsys.readouterr()
    out = tmp_path / "corr.json"
    assert eval_main(["corr", str(run), "--split", "test", "--json", str(out), "--n-boot", "20"]) == 0
    assert "correspondence on test" in capsys.readouterr().out
    result = json.loads(out.read_text())
    n_test = json.loads((Path(data) / "manifest.json").read_text())["counts"]["test"]["clips"]
    assert result["n"] == n_test and result["n_pairs"] + result["n_excluded"] == n_test ** 2
    assert 0.0 <= result["roc_auc_low"] <= result["roc_auc"] <= result["roc_auc_high"] <= 1.0
    assert Path(result["result"]).parent == run  # the result file goes to RUN by default
    assert (result["split"], result["step"], result["model"]) == ("test", 2, "small")
    assert Path(result["data"]) == Path(data).resolve()

    # --data and --checkpoint given explicitly: the same number
    out2 = tmp_path / "corr2.json"
    assert eval_main(["corr", str(run), "--data", str(data), "--checkpoint", str(run / "ckpt-0000002.pt"),
                      "--json", str(out2), "--num-workers", "2", "--n-boot", "0"]) == 0
    assert json.loads(out2.read_text())["roc_auc"] == result["roc_auc"]


def test_eval_corr_errors(tmp_path, capsys):
    assert eval_main(["corr", str(tmp_path)]) == 2
    assert f"RUN {tmp_path} is not a training run (no config.json, no last.pt)" in capsys.readouterr().err
    (tmp_path / "config.json").write_text("{}")  # a run that never saved a checkpoint
    assert eval_main(["corr", str(tmp_path), "--data", str(tmp_path)]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    assert eval_main(["nope"]) == 2
    assert eval_main(["--help"]) == 0 and "corr" in capsys.readouterr().out
