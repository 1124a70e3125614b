"""``egoimu train`` end to end on the shared synthetic build (small model, CPU), and its config.

One module fixture trains the runs the tests share: ``whole`` (6 steps in one go, 2 loader workers) and
``split`` (the same schedule stopped at step 3 — an epoch boundary —, resumed to --stop-at 4 — mid-epoch —
and resumed to the end, with 0, 2 and 0 workers). The train split has 13 clips, so batch_size 4 gives
3 steps per epoch and a validation ROC-AUC after steps 3 and 6.
"""

from __future__ import annotations

import ast
import contextlib
import errno
import inspect
import json
import os
import resource
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import torch

from egoimu.manifests.geometry import ClipGeometry
from egoimu.train import config as tc
from egoimu.train.checkpoint import CKPT_FORMAT
from egoimu.train.config import PRESETS, ConfigError, TrainConfig
from egoimu.train.eval.corr import main as corr_main
from egoimu.train.eval.metrics import overlap_mask
from egoimu.train.loop import lr_factor, main, make_optimizer, parse_args, resolve_config
from egoimu.train.model import build_model
from egoimu.train.models.slowfast import SlowFastSmall
from egoimu.train.report.collect import find_runs

SMALL = ["--model", "small", "batch_size=4", "log_every=1", "warmup_steps=2", "ckpt_every=0"]
TIMING = ("clips_per_s", "data_wait", "rss_mb", "rss_total_mb")  # measured, not deterministic


def train(data: Path, run: Path, *extra: str) -> int:
    return main([str(data), "--run-dir", str(run), *SMALL, *extra])


def records(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in lines]


@pytest.fixture(scope="module")
def runs(built_epic, tmp_path_factory) -> tuple[Path, Path, Path]:
    _, data = built_epic
    base = tmp_path_factory.mktemp("runs")
    whole, split = base / "whole", base / "split"
    assert train(data, whole, "--steps", "6", "num_workers=2") == 0
    assert train(data, split, "--steps", "6", "--stop-at", "3", "num_workers=0") == 0
    assert train(data, split, "--resume", "--stop-at", "4", "num_workers=2") == 0
    assert train(data, split, "--resume", "num_workers=0") == 0
    return data, whole, split


@pytest.mark.slow
def test_run_writes_checkpoint_metrics_config_and_tensorboard(runs):
    data, whole, _ = runs
    assert sorted(p.name for p in whole.glob("*.pt")) == ["ckpt-0000006.pt", "last.pt"]
    assert (whole / "last.pt").read_bytes() == (whole / "ckpt-0000006.pt").read_bytes()
    assert not list(whole.glob(".*tmp*"))
    record = json.loads((whole / "config.json").read_text())
    cfg = TrainConfig.from_dict(record["config"])
    assert cfg.model == "small" and cfg.steps == 6 and cfg.batch_size == 4
    assert record["config_sha256"] == cfg.sha256()
    assert Path(record["data_root"]) == Path(data).resolve()
    steps = [r for r in records(whole) if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4, 5, 6]
    assert all(r["lr"] > 0 and r["loss"] > 0 for r in steps)
    raw = [json.loads(line) for line in (whole / "metrics.jsonl").read_text().splitlines()]
    assert all(r["clips_per_s"] > 0 and 0 <= r["data_wait"] <= 1 for r in raw if "loss" in r)
    vals = [r for r in records(whole) if "val_roc_auc" in r]
    assert [(r["step"], r["val_n"]) for r in vals] == [(3, 4), (6, 4)]
    assert all(0.0 <= r["val_roc_auc"] <= 1.0 and 0.0 <= r["val_roc_auc_all_pairs"] <= 1.0 for r in vals)
    assert list((whole / "tb").glob("events.out.tfevents.*"))

    ckpt = torch.load(whole / "last.pt", map_location="cpu", weights_only=True)
    assert ckpt["format"] == CKPT_FORMAT and ckpt["step"] == 6
    assert (ckpt["epoch"], ckpt["batches_done"]) == (2, 0)  # 6 steps = 2 epochs of 3: next is epoch 2's first
    assert ckpt["config"] == cfg.to_dict() and ckpt["world_size"] == 1 and len(ckpt["rng"]) == 1
    assert ckpt["manifest_sha256"] == record["manifest_sha256"]
    assert {"model", "optimizer", "scheduler"} <= set(ckpt)
    assert any(k.startswith("video.backbone.") for k in ckpt["model"])


@pytest.mark.slow
def test_resume_is_exact(runs):
    """Stop at 3 (epoch end) and 4 (mid-epoch), resume with other worker counts: same losses, validation
    AUCs and final weights, bit for bit, as the uninterrupted run."""
    _, whole, split = runs
    assert records(split) == records(whole)
    assert sorted(p.name for p in split.glob("*.pt")) == ["ckpt-0000003.pt", "ckpt-0000004.pt",
                                                          "ckpt-0000006.pt", "last.pt"]
    a = torch.load(whole / "last.pt", map_location="cpu", weights_only=True)
    b = torch.load(split / "last.pt", map_location="cpu", weights_only=True)
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    for pa, pb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert a["scheduler"] == b["scheduler"]


@pytest.mark.slow
def test_validation_and_eval_corr_report_the_same_headline(runs, tmp_path):
    """The last epoch's validation (step 6, the weights of last.pt) and ``egoimu eval corr --split validation`` on
    the run: the same headline (overlapping same-video pairs excluded) and all-pairs ROC-AUC, from one function."""
    data, whole, _ = runs
    (val,) = [r for r in records(whole) if r["step"] == 6 and "val_roc_auc" in r]
    summary = tmp_path / "corr.json"
    assert corr_main([str(whole), "--split", "validation", "--num-workers", "0", "--n-boot", "0", "--out-dir",
                      str(tmp_path), "--json", str(summary)]) == 0
    got = json.loads(summary.read_text())
    clips = pd.read_csv(Path(data) / "clips.csv")
    clips = clips[(clips.split == "validation") & (clips.status == "written")]
    overlaps = int(overlap_mask(clips.video_id.to_numpy(), clips.start_s.to_numpy(), clips.end_s.to_numpy()).sum())
    assert overlaps > 0  # the shared build's validation video has overlapping segment clips
    assert (got["n"], got["n_excluded"]) == (val["val_n"], val["val_n_excluded"]) == (len(clips), overlaps)
    assert got["roc_auc"] == pytest.approx(val["val_roc_auc"], abs=1e-12)
    assert got["roc_auc_all_pairs"] == pytest.approx(val["val_roc_auc_all_pairs"], abs=1e-12)


@pytest.mark.slow
def test_resume_of_a_run_logged_before_the_headline(runs, tmp_path):
    """A run whose metrics.jsonl predates the headline (its ``val_roc_auc`` counted all pairs, nothing beside it)
    resumes, and the report reads that epoch's number as ``val_roc_auc_all_pairs``; the new epoch logs both."""
    data, whole, split = runs
    run = tmp_path / "runs" / "old"
    shutil.copytree(split, run)
    shutil.copyfile(split / "ckpt-0000003.pt", run / "last.pt")
    old = []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["step"] <= 3:
            if "val_roc_auc" in row:  # as validation wrote it then
                row = {"step": 3, "epoch": 0, "val_roc_auc": row["val_roc_auc_all_pairs"], "val_n": row["val_n"]}
            old.append(row)
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old))
    assert train(data, run, "--resume", "num_workers=0") == 0
    (found,) = find_runs([tmp_path / "runs"])
    vals = {r["step"]: r for r in records(whole) if "val_roc_auc" in r}
    assert found.curve("val_roc_auc") == ([6], [vals[6]["val_roc_auc"]])
    assert found.curve("val_roc_auc_all_pairs") == ([3, 6], [vals[3]["val_roc_auc_all_pairs"],
                                                             vals[6]["val_roc_auc_all_pairs"]])


@pytest.mark.slow
def test_nonfinite_loss_stops_with_step_and_clips(built_epic, tmp_path, capsys):
    _, data = built_epic
    rc = train(data, tmp_path / "run", "--steps", "4", "lr=1e30", "warmup_steps=0", "num_workers=0",
               "eval_every_epoch=0")
    assert rc == 1
    err = capsys.readouterr().err
    assert "non-finite loss nan at step 2" in err
    last = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 2 and len(last["clip_ids"]) == 4
    clips = pd.read_csv(Path(data) / "clips.csv")
    assert set(last["clip_ids"]) <= set(clips[clips.split == "train"].clip_id)
    assert all(c in err for c in last["clip_ids"])
    assert not list((tmp_path / "run").glob("*.pt"))


@contextlib.contextmanager
def _file_size_limit(nbytes: int) -> Iterator[None]:
    """This process may write no file past ``nbytes``: a write beyond fails with EFBIG, as a full disk fails with
    ENOSPC (SIGXFSZ ignored meanwhile, so the write returns the error instead of killing the process)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


@pytest.mark.slow
def test_unwritable_checkpoint_is_one_line_and_resume_removes_leftovers(built_epic, tmp_path, capsys):
    """A checkpoint that cannot be written (a full disk; here the file-size limit) stops the run with one line naming
    the file and the OS's reason, not torch's "enforce fail ... unexpected pos" RuntimeError, and leaves no partial
    file; a start removes, and names, the temporary files an interrupted run left, and nothing else."""
    _, data = built_epic
    run = tmp_path / "run"
    common = ["--steps", "2", "warmup_steps=1", "num_workers=0", "eval_every_epoch=0"]
    assert train(data, run, *common, "--stop-at", "1") == 0
    leftovers = [".ckpt-0000002.pt.4242-0123abcd.tmp", ".ckpt-0000002.pt.tmp-4242", ".last.pt.77-89abcdef.tmp"]
    for name in leftovers:
        (run / name).write_bytes(b"\0" * 4096)
    others = [".ckpt-0000002.pt.tmp", ".notes.swp", "notes.tmp"]  # not names egoimu writes
    for name in others:
        (run / name).write_text("mine")
    last = (run / "last.pt").read_bytes()
    capsys.readouterr()
    with _file_size_limit(1 << 20):  # below a checkpoint (7.5 MB), above config.json, metrics and events
        rc = train(data, run, *common, "--resume")
    err = capsys.readouterr().err
    assert rc == 2
    assert f"removed 3 temporary file(s) an interrupted run left in {run}: {', '.join(sorted(leftovers))}" in err
    assert err.splitlines()[-1] == (f"egoimu train: error: cannot write the checkpoint of step 2 to "
                                    f"{run / 'ckpt-0000002.pt'}: {os.strerror(errno.EFBIG)} (errno {errno.EFBIG}); "
                                    f"free space in {run} or choose another --run-dir, then --resume")
    assert "Traceback" not in err and "enforce fail" not in err
    assert sorted(p.name for p in run.iterdir()) == sorted(
        ["ckpt-0000001.pt", "last.pt", "config.json", "metrics.jsonl", "tb", *others])
    assert (run / "last.pt").read_bytes() == last and all((run / n).read_text() == "mine" for n in others)
    assert train(data, run, *common, "--resume") == 0
    assert torch.load(run / "last.pt", map_location="cpu", weights_only=True)["step"] == 2


@pytest.mark.slow
def test_freeze_video_keeps_a_pytorchvideo_init_bit_for_bit(runs, tmp_path):
    """Paper Table 3's setting: a pretrained video CNN, frozen (weights and BatchNorm statistics)."""
    data, _, _ = runs
    torch.manual_seed(1)
    source = SlowFastSmall(num_classes=10)  # a pytorchvideo-style checkpoint with a classifier
    for module in source.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
    path = tmp_path / "pretrained.pyth"
    torch.save({"model_state": source.state_dict()}, path)
    run = tmp_path / "run"
    assert train(data, run, "--steps", "2", "--freeze-video", "--init-video", str(path), "num_workers=0",
                 "eval_every_epoch=0") == 0
    ckpt = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    for key, value in source.state_dict().items():
        if not key.startswith("blocks.6."):
            assert torch.equal(ckpt["model"][f"video.backbone.{key}"], value), key
    torch.manual_seed(0)
    fresh = build_model(TrainConfig.from_dict(ckpt["config"])).state_dict()
    for prefix in ("imu.backbone.", "imu.head.", "video.head."):  # these learn
        assert any(not torch.equal(v, ckpt["model"][k]) for k, v in fresh.items() if k.startswith(prefix)), prefix


def test_checkpoint_of_another_architecture_is_a_clear_error(runs, tmp_path, capsys):
    data, whole, _ = runs
    rc = main([str(data), "--run-dir", str(tmp_path / "full"), "--model", "full", "--steps", "2", "warmup_steps=0",
               "batch_size=4", "--init-video", str(whole / "last.pt")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "does not fit" in err and "model='small'" in err and "shape mismatch" in err
    assert not (tmp_path / "full").exists()


def test_unreadable_init_checkpoint(runs, tmp_path, capsys):
    data, _, _ = runs
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    assert train(data, tmp_path / "run", "--steps", "2", "--init-video", str(junk)) == 2
    assert "not a readable checkpoint" in capsys.readouterr().err


def test_resume_refuses_other_settings_and_fresh_run_refuses_existing_run(runs, capsys):
    data, whole, _ = runs
    before = (whole / "metrics.jsonl").read_bytes()
    assert train(data, whole, "--resume", "lr=0.1") == 2
    assert f"lr: run {TrainConfig().lr} vs now 0.1" in capsys.readouterr().err
    assert train(data, whole, "--steps", "6") == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (whole / "metrics.jsonl").read_bytes() == before


def test_bad_data_root_fails_before_training(tmp_path, capsys):
    assert train(tmp_path / "nowhere", tmp_path / "run", "--steps", "2") == 2
    assert f"DATA {tmp_path / 'nowhere'} does not exist: pass the folder an `egoimu build ROOT OUT` wrote" in \
        capsys.readouterr().err
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------------------------------- config


def test_presets_paper_values():
    paper, default = PRESETS["paper"], PRESETS["default"]
    assert paper.model == "full" and not {"fps", "frames", "frame_size", "nfft"} & set(paper.to_dict())
    assert paper.temperature == 1.0 and not paper.learnable_temperature
    assert default.temperature == 0.1 and default.learnable_temperature
    assert paper.accl_dc and not default.accl_dc  # the paper feeds the whole spectrogram
    assert not paper.imu_batchnorm and default.imu_batchnorm  # the paper's plain VGG16
    assert {k for k in paper.diff(default)} == {"temperature", "learnable_temperature", "accl_dc", "small_motion",
                                                "imu_batchnorm"}


def test_every_field_says_paper_or_ours():
    lines = inspect.getsource(tc).splitlines()
    tree = ast.parse(inspect.getsource(tc))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "TrainConfig")
    fields = [n for n in cls.body if isinstance(n, ast.AnnAssign)]
    assert len(fields) == len(TrainConfig.__dataclass_fields__)
    for node in fields:
        comment = lines[node.lineno - 1].partition("#")[2]
        assert comment.strip().startswith(("paper", "ours")), lines[node.lineno - 1]


def test_overrides_types_and_errors():
    cfg = TrainConfig().with_overrides(["lr=1e-3", "steps=50", "warmup_steps=5", "learnable_temperature=yes",
                                        "model=small", "init_video=/x.pt"])
    assert (cfg.lr, cfg.steps, cfg.learnable_temperature, cfg.model, cfg.init_video) == (1e-3, 50, True, "small",
                                                                                         "/x.pt")
    with pytest.raises(ConfigError, match="unknown config key 'lrr'; did you mean 'lr'"):
        TrainConfig().with_overrides(["lrr=1"])
    with pytest.raises(ConfigError, match="steps='1.5' is not a valid int"):
        TrainConfig().with_overrides(["steps=1.5"])
    with pytest.raises(ConfigError, match="not key=value"):
        TrainConfig().with_overrides(["lr"])
    with pytest.raises(ConfigError, match="model must be one of"):
        TrainConfig().with_overrides(["model=huge"])
    with pytest.raises(ConfigError, match="warmup_steps"):
        TrainConfig().with_overrides(["steps=10", "warmup_steps=11"])
    assert TrainConfig().with_overrides(["steps=10"]).warmup() == 0  # the default warm-up follows the schedule
    with pytest.raises(ConfigError, match="batch_size must be int, got bool"):
        TrainConfig().replace({"batch_size": True})
    assert TrainConfig().replace({"lr": 1}).lr == 1.0  # int widens to float


def test_config_file_sha_and_round_trip(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: small\ntemperature: 1\n")
    changes = tc.checked(tc.read_config_file(path), str(path))
    cfg = TrainConfig().replace(changes)
    assert cfg.model == "small" and cfg.temperature == 1.0
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    record = tmp_path / "config.json"
    record.write_text(tc.config_record(cfg, data_root="/d"))
    assert tc.read_config_file(record) == cfg.to_dict()  # a run's config.json works as --config
    assert cfg.replace({"num_workers": 7, "log_every": 3}).sha256() == cfg.sha256()  # runtime keys not hashed
    assert cfg.replace({"lr": cfg.lr * 2}).sha256() != cfg.sha256()
    path.write_text("lr: fast\n")
    with pytest.raises(ConfigError, match="lr must be float"):
        tc.checked(tc.read_config_file(path), str(path))


def test_sources_apply_in_order_preset_file_flags_words(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: small\nsteps: 100\nwarmup_steps: 10\nlr: 0.01\n")
    args = parse_args(["DATA", "lr=0.02", "--run-dir", "R", "--preset", "paper", "--config", str(path),
                       "--steps", "50", "--freeze-video", "hflip=0.5"])
    cfg = resolve_config(args, None)
    assert (cfg.temperature, cfg.model, cfg.steps, cfg.warmup_steps) == (1.0, "small", 50, 10)
    assert (cfg.lr, cfg.freeze_video, cfg.hflip) == (0.02, True, 0.5)


def test_optimizer_decays_weights_only_and_skips_frozen_video():
    cfg = TrainConfig(model="small", learnable_temperature=True)
    model = build_model(cfg)
    decay, no_decay = make_optimizer(model, cfg, torch.device("cpu")).param_groups
    assert decay["weight_decay"] == cfg.weight_decay and no_decay["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decay["params"]) and all(p.ndim < 2 for p in no_decay["params"])
    assert any(p is model.criterion.log_logit_scale for p in no_decay["params"])
    frozen = build_model(cfg.replace({"freeze_video": True}))
    groups = make_optimizer(frozen, cfg, torch.device("cpu")).param_groups
    trained = {id(p) for group in groups for p in group["params"]}
    assert not any(id(p) in trained for p in frozen.video.backbone.parameters())
    assert all(id(p) in trained for p in frozen.video.head.parameters())


def test_lr_schedule_warmup_then_cosine():
    cfg = TrainConfig(steps=10, warmup_steps=3, min_lr_ratio=0.1)
    factors = [lr_factor(s, cfg) for s in range(10)]
    assert factors[:3] == [0.25, 0.5, 0.75]
    assert factors[3] == 1.0 and factors[-1] > 0.1 and lr_factor(10, cfg) == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(factors[3:], factors[4:]))


def test_geometry_problems_name_the_fields():
    assert tc.geometry_problems(TrainConfig(), ClipGeometry()) == []
    assert tc.geometry_problems(TrainConfig(), ClipGeometry(fps=16)) == []  # 32 frames
    (alpha,) = tc.geometry_problems(TrainConfig(), ClipGeometry(fps=15))  # 30 frames
    assert "frames = geometry.window_s x geometry.fps = 2.0 x 15 = 30" in alpha and "alpha = 4" in alpha
    small = TrainConfig(model="small", small_frames=16)
    assert tc.geometry_problems(small, ClipGeometry(fps=4)) == ["small_frames = 16 > the build's 8 frames a clip"]


def test_a_geometry_key_points_to_the_build():
    with pytest.raises(ConfigError, match="'fps' is not a training setting: the clip geometry is the build's"):
        TrainConfig().with_overrides(["fps=30"])
    with pytest.raises(ConfigError, match="unknown config key 'lrr'; did you mean 'lr'"):
        TrainConfig().with_overrides(["lrr=1"])
