"""The supervised verb objectives (verb_video, verb_imu): the module, its config and real training runs.

The module fixture trains one tiny run per objective on the shared synthetic build (small model, batch 4,
6 steps = 2 epochs of the 13 train clips, validation after each epoch).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from egoimu.train.checkpoint import init_video_weights, read_checkpoint
from egoimu.train.config import ConfigError, TrainConfig
from egoimu.train.data import DataError, SplitIndex
from egoimu.train.loop import main, make_optimizer
from egoimu.train.model import ContrastivePair, build_model
from egoimu.train.models.classifier import VerbClassifier, verb_loss, verb_top1
from egoimu.train.models.heads import Encoder
from egoimu.train.models.registry import build_encoder
from egoimu.train.validate import check_verb_labels

SMALL = ["--model", "small", "batch_size=4", "log_every=1", "warmup_steps=2", "ckpt_every=0", "num_workers=0"]


def _batch(n: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    return torch.randn(n, 3, 16, 32, 32), torch.randn(n, 6, 33, 50)


# ---------------------------------------------------------------------------------------------- module


@pytest.mark.parametrize("objective,side", [("verb_video", "video"), ("verb_imu", "imu")])
def test_verb_model_attributes_and_shapes(objective: str, side: str):
    cfg = TrainConfig(model="small", objective=objective, num_verbs=7)
    model = build_model(cfg)
    assert isinstance(model, VerbClassifier) and model.side == side
    encoder, other = (model.video, model.imu) if side == "video" else (model.imu, model.video)
    assert isinstance(encoder, Encoder) and encoder.head is None and other is None
    assert model.classifier.in_features == encoder.out_dim and model.classifier.out_features == 7
    prefixes = {k.split(".")[0] for k in model.state_dict()}
    assert prefixes == {side, "classifier"}
    video, spec = _batch()
    assert model.logits(video, spec).shape == (4, 7)
    assert encoder.features(video if side == "video" else spec).shape == (4, encoder.out_dim)
    loss = model(video, spec, torch.tensor([0, 3, -1, 6]))
    assert loss.ndim == 0 and math.isfinite(loss.item())


def test_build_encoder_one_side_without_head():
    encoder = build_encoder("small", "imu", head=None)
    assert encoder.head is None and encoder.out_dim == encoder.embed_dim == 64
    assert encoder(torch.randn(2, 6, 33, 50)).shape == (2, 64)
    assert build_encoder("small", "video", 16).embed_dim == 16
    with pytest.raises(ValueError, match="unknown encoder side"):
        build_encoder("small", "audio")  # type: ignore[arg-type]


def test_verb_loss_is_cross_entropy_over_labelled_clips():
    torch.manual_seed(0)
    logits = torch.randn(5, 4)
    verb = torch.tensor([2, -1, 0, -1, 3])
    keep = verb >= 0
    assert torch.allclose(verb_loss(logits, verb), F.cross_entropy(logits[keep], verb[keep]))
    assert torch.allclose(verb_loss(logits.bfloat16(), verb).float(),
                          F.cross_entropy(logits.bfloat16().float()[keep], verb[keep]))


def test_batch_without_labels_gives_zero_loss_that_backprops():
    model = build_model(TrainConfig(model="small", objective="verb_imu", num_verbs=5))
    video, spec = _batch()
    loss = model(video, spec, torch.full((4,), -1))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() and not g.any() for g in grads)


def test_imu_classifier_fits_a_fixed_batch():
    """A few Adam steps on one labelled batch: the loss goes down (the objective trains)."""
    torch.manual_seed(0)
    model = build_model(TrainConfig(model="small", objective="verb_imu", num_verbs=5))
    video, spec = _batch(6)
    verb = torch.tensor([0, 1, 2, 3, 4, -1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(8):
        loss = model(video, spec, verb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.25 * losses[0]


def test_verb_top1():
    logits = torch.tensor([[0.0, 1.0], [2.0, 1.0], [0.0, 3.0], [5.0, 0.0]])
    assert verb_top1(logits, torch.tensor([1, 1, -1, 0])) == (pytest.approx(2 / 3), 3)
    top1, n = verb_top1(logits, torch.full((4,), -1))
    assert math.isnan(top1) and n == 0


def test_contrastive_pair_ignores_verb():
    model = build_model(TrainConfig(model="small"))
    assert isinstance(model, ContrastivePair)
    model.eval()
    video, spec = _batch()
    with torch.no_grad():
        assert torch.equal(model(video, spec, torch.tensor([1, 2, 3, -1])), model(video, spec))


def test_freeze_video_leaves_only_the_classifier_to_learn():
    cfg = TrainConfig(model="small", objective="verb_video", freeze_video=True)
    model = build_model(cfg)
    trained = {id(p) for g in make_optimizer(model, cfg, torch.device("cpu")).param_groups for p in g["params"]}
    assert trained == {id(p) for p in model.classifier.parameters()}


def test_config_objective_values_and_hash():
    cfg = TrainConfig()
    assert cfg.objective == "contrastive" and cfg.num_verbs == 97
    verb = cfg.with_overrides(["objective=verb_video", "num_verbs=10"])
    assert (verb.objective, verb.num_verbs) == ("verb_video", 10) and verb.sha256() != cfg.sha256()
    assert verb.replace({"num_verbs": 11}).sha256() != verb.sha256()
    with pytest.raises(ConfigError, match="objective must be one of"):
        cfg.with_overrides(["objective=verbs"])
    with pytest.raises(ConfigError, match="num_verbs must be >= 2"):
        cfg.replace({"num_verbs": 1})
    with pytest.raises(ConfigError, match="'verb_imu' does not have"):
        cfg.replace({"objective": "verb_imu", "freeze_video": True})


# ---------------------------------------------------------------------------------------- real training


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def verb_runs(built_epic, tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    _, data = built_epic
    base = tmp_path_factory.mktemp("verb_runs")
    runs = {}
    for objective in ("verb_video", "verb_imu"):
        runs[objective] = base / objective
        assert main([str(data), "--run-dir", str(runs[objective]), *SMALL, "--steps", "6", "--objective",
                     objective]) == 0
    return Path(data), runs


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["verb_video", "verb_imu"])
def test_verb_runs_train_log_val_top1_and_checkpoint(verb_runs, objective: str):
    data, runs = verb_runs
    run = runs[objective]
    ckpt = read_checkpoint(run / "last.pt")
    cfg = TrainConfig.from_dict(ckpt["config"])
    assert cfg.objective == objective and ckpt["step"] == 6
    assert json.loads((run / "config.json").read_text())["config"]["objective"] == objective
    side = "video" if objective == "verb_video" else "imu"
    assert {k.split(".")[0] for k in ckpt["model"]} == {side, "classifier"}

    steps = [r for r in records(run) if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4, 5, 6]
    assert all(math.isfinite(r["loss"]) and r["loss"] > 0 for r in steps)
    assert not any("logit_scale" in r for r in steps)
    clips = pd.read_csv(data / "clips.csv")
    n_val = int(((clips.split == "validation") & (clips.status == "written") & (clips.verb_class >= 0)).sum())
    vals = [r for r in records(run) if "val_top1" in r]
    assert [(r["step"], r["val_n"]) for r in vals] == [(3, n_val), (6, n_val)]
    assert all(0.0 <= r["val_top1"] <= 1.0 for r in vals)
    assert not any("val_roc_auc" in r for r in records(run))

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tb"))
    events.Reload()
    assert {"val/val_top1", "train/loss"} <= set(events.Tags()["scalars"])
    assert "train/logit_scale" not in events.Tags()["scalars"]


@pytest.mark.slow
def test_verb_video_checkpoint_initialises_a_contrastive_video_cnn(verb_runs):
    _, runs = verb_runs
    model = build_model(TrainConfig(model="small"))
    note = init_video_weights(model, str(runs["verb_video"] / "last.pt"))
    assert "egoimu checkpoint" in note
    state = read_checkpoint(runs["verb_video"] / "last.pt")["model"]
    for key, value in model.video.backbone.state_dict().items():
        assert torch.equal(value, state[f"video.backbone.{key}"]), key


def _unlabelled(index: SplitIndex) -> SplitIndex:
    index.clips = index.clips.assign(verb_class=-1)
    return index


def test_split_without_labels_is_refused(built_epic, tmp_path, monkeypatch, capsys):
    _, data = built_epic
    train_index = SplitIndex.open(data, "train")
    assert check_verb_labels(train_index, 97) == int((train_index.clips.verb_class >= 0).sum()) > 0
    with pytest.raises(DataError, match="split 'train' has no labelled clip"):
        check_verb_labels(_unlabelled(SplitIndex.open(data, "train")), 97)
    with pytest.raises(DataError, match="num_verbs=2 outputs"):
        check_verb_labels(SplitIndex.open(data, "train"), 2)

    # through the trainer: a train split of unlabelled windows only (as --ssl-windows shards would hold)
    opened = SplitIndex.open
    monkeypatch.setattr(SplitIndex, "open", classmethod(
        lambda cls, root, split: _unlabelled(opened(root, split)) if split == "train" else opened(root, split)))
    run = tmp_path / "run"
    assert main([str(data), "--run-dir", str(run), *SMALL, "--steps", "2", "--objective", "verb_imu"]) == 2
    assert "split 'train' has no labelled clip" in capsys.readouterr().err
    assert not run.exists()


def test_verb_objectives_train_on_labelled_clips_only(built_epic):
    """--ssl-windows builds mix unlabelled windows into train: the classifier's stream holds only labelled clips."""
    _, data = built_epic
    index = SplitIndex.open(data, "train")
    index.clips = index.clips.assign(verb_class=[-1 if i % 3 == 0 else v for i, v in enumerate(index.clips.verb_class)])
    sub = index.labelled()
    expected = index.clips[index.clips.verb_class >= 0]
    assert sub.n == len(expected) < index.n
    assert list(sub.clips.clip_id) == list(expected.clip_id)  # manifest order kept
    assert (sub.clips.verb_class >= 0).all() and sub.norm == index.norm
    assert sub.manifest_sha256 == index.manifest_sha256
