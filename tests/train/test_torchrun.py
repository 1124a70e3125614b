"""``torchrun --nproc_per_node 2 -m egoimu.cli train ...`` on CPU (gloo): the one DDP code path end to end, run
from a folder holding a user's own ``train.py``, ``pipeline/`` and ``manifests/`` (they must shadow nothing)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_training(built_epic, tmp_path, user_folder):
    _, data = built_epic
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(free_port()), "-m", "egoimu.cli", "train", str(data), "--run-dir", str(run),
           "--model", "small", "--steps", "3", "--device", "cpu",
           "batch_size=2", "warmup_steps=1", "num_workers=0", "log_every=1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=user_folder, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]

    # rank 0 alone wrote: one checkpoint (+ last.pt), one config.json, one metrics stream
    assert sorted(p.name for p in run.glob("*.pt")) == ["ckpt-0000003.pt", "last.pt"]
    assert json.loads((run / "config.json").read_text())["world_size"] == 2
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3]
    assert [r["val_n"] for r in rows if "val_roc_auc" in r] == [4]  # 13 clips / (2 x 2) = 3 steps = 1 epoch
    assert proc.stdout.count("egoimu train: stopped at step 3") == 1
    ckpt = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    assert ckpt["world_size"] == 2 and len(ckpt["rng"]) == 2 and ckpt["step"] == 3
    assert not any(k.startswith("module.") for k in ckpt["model"])  # the unwrapped model's names
