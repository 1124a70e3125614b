"""TrainConfig's value checks: a value out of range, inf or nan stops ``egoimu train`` before any work with one
line (exit 2), whether it comes from a key=value word or a config file; the accepted seed range works in torch and
numpy."""

from __future__ import annotations

import pytest
import torch

from egoimu.train.augment import seeded_rng
from egoimu.train.config import MAX_SEED, TrainConfig
from egoimu.train.loop import main

TWENTY_DIGITS = "12345678901234567890"  # > 2**63 - 1; torch.manual_seed raised a RuntimeError on it


@pytest.mark.parametrize("word, expected", [
    ("lr=inf", "lr must be a finite number (not inf or nan), got inf"),
    ("lr=nan", "lr must be a finite number (not inf or nan), got nan"),
    ("lr=0", "lr must be > 0, got 0.0"),
    ("temperature=0", "temperature must be > 0, got 0.0"),  # was a ZeroDivisionError traceback
    ("temperature=inf", "temperature must be a finite number (not inf or nan), got inf"),
    ("temperature=0.001", "learnable temperature starts at 1/temperature = 1000 > 100 (temperature must be >= 0.01)"),
    (f"seed={TWENTY_DIGITS}", f"seed must be an integer in 0..{MAX_SEED} (2**63 - 1), got {TWENTY_DIGITS}"),
    ("seed=-1", f"seed must be an integer in 0..{MAX_SEED} (2**63 - 1), got -1"),
    ("hflip=nan", "hflip must be a finite number (not inf or nan), got nan"),
    ("grad_clip=inf", "grad_clip must be a finite number (not inf or nan), got inf"),
    ("weight_decay=-0.1", "weight_decay must be >= 0, got -0.1"),
    ("min_lr_ratio=nan", "min_lr_ratio must be a finite number (not inf or nan), got nan"),
    ("steps=99999999999999999999", "steps must be an integer in -2**63..2**63 - 1, got 99999999999999999999"),
])
def test_bad_values_stop_with_one_line(tmp_path, capsys, word, expected):
    run = tmp_path / "run"
    assert main([str(tmp_path / "data"), "--run-dir", str(run), "--model", "small", word]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"egoimu train: error: command line: {expected}"], err
    assert not run.exists()


def test_a_config_file_is_held_to_the_same_rules(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("lr: .inf\n")
    assert main([str(tmp_path / "data"), "--run-dir", str(tmp_path / "run"), "--config", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"egoimu train: error: {path} + command line: lr must be a finite number (not inf or nan), got inf"]


def test_the_largest_seed_works_in_torch_and_numpy():
    cfg = TrainConfig().with_overrides([f"seed={MAX_SEED}"])
    torch.manual_seed(cfg.seed)
    assert 0 <= seeded_rng(1, cfg.seed, 0).random() < 1
