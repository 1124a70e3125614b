"""``egoimu eval corr``'s metrics and result file: hand-made embeddings against the library functions, then a
tiny trained run end to end (overlapping test windows excluded), and Table 3's variant detection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from egoimu.train.config import ConfigError, TrainConfig
from egoimu.train.eval.corr import (
    _auc,
    _batch_auc,
    _shifted_auc,
    correspondence_report,
    main,
    mann_whitney_auc,
    roc_points,
    variant,
    variant_label,
)
from egoimu.train.eval.metrics import (
    correspondence_auc,
    correspondence_metrics,
    overlap_mask,
    pair_scores,
    shifted_negatives,
)
from egoimu.train.eval.results import read_result
from egoimu.train.loop import combined_config, parse_args
from egoimu.train.models.slowfast import SlowFastSmall

NAMES = ("roc_auc", "roc_auc_batch", "roc_auc_shifted", "v2i_recall@1", "v2i_recall@5", "v2i_mrr", "i2v_recall@1",
         "i2v_recall@5", "i2v_mrr")


def test_mann_whitney_equals_sklearn_with_ties():
    rng = np.random.default_rng(0)
    pos, neg = rng.integers(0, 5, 40).astype(float), rng.integers(0, 5, 300).astype(float)  # many ties
    y = np.r_[np.ones(40), np.zeros(300)]
    assert mann_whitney_auc(pos, neg) == pytest.approx(roc_auc_score(y, np.r_[pos, neg]), abs=1e-12)
    assert mann_whitney_auc([1.0], [0.0, 1.0]) == 0.75
    with pytest.raises(ValueError):
        mann_whitney_auc([], [1.0])


def clips_two_videos() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """12 clips in 2 videos, windows of 2 s every 1.5 s (each overlaps its neighbours); embeddings (12, 8)."""
    rng = np.random.default_rng(1)
    v = rng.normal(size=(12, 8))
    m = v + rng.normal(scale=1.2, size=(12, 8))
    vid = np.repeat(["a", "b"], 6)
    start = np.tile(np.arange(6) * 1.5, 2)
    return v, m, vid, start, start + 2.0


def test_report_values_are_the_library_functions_and_cis_hold_them():
    v, m, vid, start, end = clips_two_videos()
    metrics, extras = correspondence_report(v, m, vid, start, end, batch_size=4, seed=0, n_boot=100)
    scores = pair_scores(v, m)
    overlap = overlap_mask(vid, start, end)
    cm = correspondence_metrics(scores, exclude=overlap, batch_size=4, batch_seed=0)
    for name in NAMES:
        value, low, high = metrics[name]
        expected = shifted_negatives(scores, vid, start, end)["roc_auc"] if name == "roc_auc_shifted" else cm[name]
        assert value == pytest.approx(expected, abs=1e-12), name
        assert low is not None and low <= value + 1e-12 and value <= high + 1e-12, name
    assert metrics["roc_auc_all_pairs"] == pytest.approx((correspondence_auc(v, m), None, None))
    # each video: 6 windows, neighbours overlap: 5 pairs x 2 directions x 2 videos
    assert extras["n_excluded"] == int(overlap.sum()) == 20
    assert extras["n_pairs"] == 12 + 12 * 11 - 20 and extras["batch_size"] == 4
    assert extras["shifted"] == {"n_clips": 12, "n_negative": 2 * (30 - 10), "n_dropped": 0}
    curve = extras["roc_curve"]
    assert len(curve["fpr"]) == len(curve["tpr"]) <= 201
    assert (curve["fpr"][0], curve["tpr"][0], curve["fpr"][-1], curve["tpr"][-1]) == (0.0, 0.0, 1.0, 1.0)
    # the bootstrap's metric callables give the library's estimates on the full matrix
    assert _auc(scores, overlap) == pytest.approx(cm["roc_auc"], abs=1e-12)
    assert _batch_auc(4, 0)(scores, overlap) == pytest.approx(cm["roc_auc_batch"], abs=1e-12)
    same = vid[:, None] == vid[None, :]
    assert _shifted_auc(scores, ~same | overlap) == pytest.approx(metrics["roc_auc_shifted"][0], abs=1e-12)
    # no bootstrap: no intervals; one clip per video: no shifted negatives
    metrics, extras = correspondence_report(v, m, np.arange(12), start, end, batch_size=4, n_boot=0)
    assert metrics["roc_auc"][1:] == (None, None) and metrics["roc_auc_shifted"] == (None, None, None)
    assert extras["n_excluded"] == 0 and extras["shifted"] is None


def test_roc_points_thinned_keeps_the_ends():
    rng = np.random.default_rng(2)
    scores = rng.normal(size=(40, 40)) + 2 * np.eye(40)
    pts = roc_points(scores, np.zeros((40, 40), dtype=bool), max_points=7)
    assert len(pts["fpr"]) <= 7 and pts["fpr"][0] == 0.0 and pts["fpr"][-1] == pts["tpr"][-1] == 1.0
    assert np.all(np.diff(pts["fpr"]) >= 0) and np.all(np.diff(pts["tpr"]) >= 0)


@pytest.mark.slow
def test_corr_result_file(eval_tiny_run, tmp_path, capsys):
    data, run = eval_tiny_run
    summary = tmp_path / "s.json"
    assert main([str(run), "--split", "test", "--num-workers", "0", "--n-boot", "60", "--out-dir", str(tmp_path),
                 "--json", str(summary)]) == 0
    printed = capsys.readouterr().out
    path = tmp_path / "eval-corr-update-video-cnn-random-init.json"
    result = read_result(path)
    assert (result["evaluation"], result["table"], result["label"]) == ("corr", 3, "update video CNN (random init)")
    assert result["variant"] == {"video_cnn": "update", "pretrained_on": "none"}
    clips = pd.read_csv(Path(data) / "clips.csv")
    test = clips[(clips.split == "test") & (clips.status == "written")]
    n = len(test)
    overlap = overlap_mask(test.video_id.to_numpy(), test.start_s.to_numpy(), test.end_s.to_numpy())
    assert overlap.sum() > 0  # the shared build's test video has overlapping segment clips
    assert result["n_excluded"] == int(overlap.sum()) and result["n_pairs"] + result["n_excluded"] == n * n
    assert result["batch_size"] == 4 and result["conditions"]["n"] == n and result["conditions"]["step"] == 2
    for name in NAMES:
        m = result["metrics"][name]
        assert 0.0 <= m["value"] <= 1.0 and m["low"] <= m["value"] <= m["high"], name
    assert len(result["roc_curve"]["fpr"]) <= 201
    assert f"N = {n} clips" in printed and "B = 4" in printed and str(path) in printed
    short = json.loads(summary.read_text())
    assert short["roc_auc"] == result["metrics"]["roc_auc"]["value"] and short["n"] == n
    assert Path(short["result"]) == path


def test_variant_detection(eval_tiny_run, tmp_path, capsys):
    _, run = eval_tiny_run
    pv = tmp_path / "k.pyth"
    torch.save(SlowFastSmall().state_dict(), pv)
    supervised = tmp_path / "sup.pt"
    ckpt = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    torch.save({**ckpt, "config": {**ckpt["config"], "objective": "verb_video"}}, supervised)
    cases = {"": ("update", "none"), str(run / "last.pt"): ("freeze", "other"),
             str(supervised): ("update", "supervised"), str(tmp_path / "gone.pt"): ("update", "other")}
    for init, (cnn, pre) in cases.items():
        cfg = TrainConfig(model="small", init_video=init, freeze_video=cnn == "freeze")
        assert variant(cfg) == {"video_cnn": cnn, "pretrained_on": pre}, init
    assert "gone.pt" in capsys.readouterr().err
    # a pytorchvideo-format checkpoint: its provenance is what the user named it, never guessed from the file
    unnamed = variant(TrainConfig(model="small", init_video=str(pv), freeze_video=True))
    assert unnamed == {"video_cnn": "freeze", "pretrained_on": "other",
                       "provenance": "pytorchvideo checkpoint (unnamed)"}
    assert variant_label(unnamed) == "freeze video CNN (pytorchvideo checkpoint (unnamed) init)"
    for name, pre in (("kinetics400", "kinetics"), ("Kinetics-600", "kinetics"), ("ssv2", "other")):
        named = variant(TrainConfig(model="small", init_video=str(pv), init_video_name=name))
        assert named == {"video_cnn": "update", "pretrained_on": pre, "provenance": name}, name
    assert variant_label(named) == "update video CNN (ssv2 init)"
    with pytest.raises(ConfigError, match="init_video_name names the checkpoint of init_video"):
        TrainConfig(model="small", init_video_name="kinetics400")
    # egoimu train --init-video PATH --init-name NAME records it in the run's config (what variant reads back)
    args = parse_args(["DATA", "--run-dir", "R", "--init-video", str(pv), "--init-name", "kinetics400"])
    assert combined_config(args, None).init_video_name == "kinetics400"


@pytest.mark.slow
def test_corr_refuses_a_run_with_one_encoder(eval_verb_run, tmp_path, capsys):
    data, run = eval_verb_run
    assert main([str(run), "--num-workers", "0", "--n-boot", "0"]) == 2
    err = capsys.readouterr().err
    assert str(run / "last.pt") in err and "needs both the video and the head-motion encoder" in err
    assert main([str(run), "--data", str(data), "--checkpoint", str(tmp_path / "none.pt")]) == 2
    assert "none.pt: checkpoint not found" in capsys.readouterr().err
