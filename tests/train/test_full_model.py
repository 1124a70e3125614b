"""The paper's model end to end on the CPU: ``egoimu train --model full`` — SlowFast-R50 + VGG16 at their real
sizes, on the shared build's 48 x 256² clips — for two steps at batch 2 (the first, a checkpoint, the second
resumed from it) and ``egoimu eval corr`` on the run, all through the ``egoimu`` dispatcher.

The slowest test of the suite: one training step of the full model at batch 2 is ~40 CPU-seconds (forward and
backward through SlowFast-R50 on two 48 x 256² clips), a checkpoint is 600 MB (weights and AdamW's moments).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from egoimu.cli import main as egoimu_main
from egoimu.train.config import TrainConfig
from egoimu.train.eval.metrics import overlap_mask

FULL = ["--model", "full", "--steps", "2", "warmup_steps=1", "batch_size=2", "num_workers=0", "log_every=1",
        "ckpt_every=0", "eval_every_epoch=0"]
#: pytorchvideo's slowfast_r50 without its 400-way head: parameters and state_dict entries.
SLOWFAST_R50_PARAMS, SLOWFAST_R50_ENTRIES = 33_644_488, 660


def _load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def _params(state: dict, prefix: str, ndim: int | None = None) -> list[torch.Tensor]:
    """The learned tensors under ``prefix`` (no BatchNorm statistics), only those of ``ndim`` dimensions if given."""
    skip = ("running_mean", "running_var", "num_batches_tracked")
    return [v for k, v in state.items() if k.startswith(prefix) and not k.endswith(skip)
            and (ndim is None or v.ndim == ndim)]


@pytest.mark.slow
def test_full_model_trains_checkpoints_resumes_and_evaluates(built_epic, tmp_path):
    _, data = built_epic
    run, results = tmp_path / "full", tmp_path / "results"
    try:
        assert egoimu_main(["train", str(data), "--run-dir", str(run), *FULL, "--stop-at", "1"]) == 0
        first = _load(run / "ckpt-0000001.pt")
        cfg = TrainConfig.from_dict(first["config"])
        assert (cfg.model, cfg.batch_size, first["step"]) == ("full", 2, 1)
        assert (first["geometry"]["fps"] * first["geometry"]["window_s"], first["geometry"]["frame_size"]) == (48, 256)
        state = first["model"]
        # the real sizes, nothing shrunk: SlowFast-R50 (53 Conv3d a pathway and 4 lateral fusions) and VGG16's 13
        # conv layers (14.7 M parameters)
        assert sum(v.numel() for v in _params(state, "video.backbone.")) == SLOWFAST_R50_PARAMS
        assert sum(k.startswith("video.backbone.") for k in state) == SLOWFAST_R50_ENTRIES
        assert len(_params(state, "video.backbone.", ndim=5)) == 2 * 53 + 4
        assert len(_params(state, "imu.backbone.", ndim=4)) == 13
        assert 14_700_000 < sum(v.numel() for v in _params(state, "imu.backbone.")) < 14_800_000

        assert egoimu_main(["train", str(data), "--run-dir", str(run), "--resume", "num_workers=0"]) == 0
        last = _load(run / "last.pt")
        assert last["step"] == 2 and sorted(p.name for p in run.glob("*.pt")) == [
            "ckpt-0000001.pt", "ckpt-0000002.pt", "last.pt"]
        assert int(last["optimizer"]["state"][0]["step"]) == 2  # AdamW continued from step 1's moments
        moved = [k for k in last["model"] if last["model"][k].is_floating_point()
                 and not torch.equal(last["model"][k], state[k])]
        assert any(k.startswith("video.backbone.") for k in moved) and any(k.startswith("imu.") for k in moved)
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        assert [r["step"] for r in rows if "loss" in r] == [1, 2]
        assert all(math.isfinite(r["loss"]) and math.isfinite(r["grad_norm"]) for r in rows if "loss" in r)

        summary = tmp_path / "corr.json"
        assert egoimu_main(["eval", "corr", str(run), "--split", "validation", "--num-workers", "0", "--n-boot",
                            "20", "--out-dir", str(results), "--json", str(summary)]) == 0
        got = json.loads(summary.read_text())
        clips = pd.read_csv(Path(data) / "clips.csv")
        clips = clips[(clips.split == "validation") & (clips.status == "written")]
        overlaps = overlap_mask(clips.video_id.to_numpy(), clips.start_s.to_numpy(), clips.end_s.to_numpy())
        assert (got["model"], got["step"], got["n"], got["n_excluded"]) == ("full", 2, len(clips), overlaps.sum())
        assert 0.0 <= got["roc_auc"] <= 1.0 and 0.0 <= got["roc_auc_all_pairs"] <= 1.0
        assert Path(got["result"]).is_file()
    finally:
        for path in run.glob("*.pt"):  # 600 MB each: not left in pytest's kept temporary folders
            path.unlink()
