"""A consistent non-default clip geometry (2 s at 16 fps: 32 frames) builds, trains and evaluates end to end,
through the console script's commands; the shards, the manifest and the run all carry that geometry."""

from __future__ import annotations

import json

import h5py
import pytest

from egoimu import cli
from egoimu.manifests.geometry import ClipGeometry
from egoimu.manifests.schema import read_summary, summary_geometry


@pytest.mark.slow
def test_16_fps_geometry_builds_trains_and_evaluates(epic_build_src, tmp_path, capsys):
    root, _ = epic_build_src
    config = tmp_path / "build.yaml"
    config.write_text("geometry: {window_s: 2, fps: 16}\n")
    out, run = tmp_path / "out", tmp_path / "run"
    assert cli.main(["build", str(root), str(out), "--config", str(config), "--workers", "1", "--quiet",
                     "--ssl-windows", "off"]) == 0
    g = ClipGeometry(fps=16)
    assert summary_geometry(read_summary(out / "manifest.json")) == g
    with h5py.File(next((out / "shards" / "train").glob("*.h5")), "r") as h5:
        assert h5["video"].shape[1:] == (32, 256, 256, 3) and h5.attrs["out_fps"] == 16
        assert h5["imu"].shape[1:] == (396, 6) and h5["spec"].shape[1:] == (6, 33, 50)
    assert cli.main(["audit", str(out)]) == 0

    assert cli.main(["train", str(out), "--run-dir", str(run), "--model", "small", "--steps", "2", "--device", "cpu",
                     "batch_size=4", "warmup_steps=1", "num_workers=0", "eval_every_epoch=0"]) == 0
    assert json.loads((run / "config.json").read_text())["geometry"] == g.to_dict()
    capsys.readouterr()
    assert cli.main(["eval", "corr", str(run), "--split", "test", "--num-workers", "0", "--n-boot", "0",
                     "--out-dir", str(tmp_path)]) == 0
    (result,) = tmp_path.glob("eval-corr-*.json")
    assert 0.0 <= json.loads(result.read_text())["metrics"]["roc_auc"]["value"] <= 1.0
