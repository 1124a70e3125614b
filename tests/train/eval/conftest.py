"""Fixtures of the evaluation-command tests (embed, corr, probe): tiny trained runs shared by them."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY = ["--model", "small", "--steps", "2", "warmup_steps=1", "batch_size=4", "num_workers=0", "eval_every_epoch=0"]


def _train(data: Path, run: Path, *extra: str) -> Path:
    from egoimu.train.loop import main as train_main

    assert train_main([str(data), "--run-dir", str(run), *TINY, *extra]) == 0
    return run


@pytest.fixture(scope="session")
def eval_tiny_run(built_epic, tmp_path_factory) -> tuple[Path, Path]:
    """(data, run): 2 contrastive steps of the small model (batch 4) on the shared build."""
    _, data = built_epic
    return data, _train(data, tmp_path_factory.mktemp("eval-run") / "ssl")


@pytest.fixture(scope="session")
def eval_verb_run(built_epic, tmp_path_factory) -> tuple[Path, Path]:
    """(data, run): the same with objective verb_video (a video encoder and a classifier, no head-motion side)."""
    _, data = built_epic
    return data, _train(data, tmp_path_factory.mktemp("eval-run") / "sup", "objective=verb_video")
