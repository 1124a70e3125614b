"""Learning, measured: contrastive training of the small model on a small synthetic build tells the matching (video,
head motion) pairs of participants it never saw from the non-matching ones, far better than chance (ROC-AUC 0.5).

The procedure is a user's, through the ``egoimu`` dispatcher: ``egoimu synth epic`` 12 participants x 1 video x 40 s
at 228 x 128 (seed :data:`SEED`; a quarter of the default pixels, to synthesise and decode); ``egoimu build`` with its
defaults — so ``--ssl-windows auto`` tiles unlabelled windows every 0.5 s over the train videos — except a 64² frame
size (the small model pools its input to 64² anyway: 16x fewer bytes to write and read than 256²) and a split file
of 9 train / 1 validation / 2 test participants; ``egoimu train --model small --steps`` :data:`STEPS` with the
default preset; ``egoimu eval corr --split test``, whose headline ROC-AUC excludes the overlapping same-video pairs.
Why this shape (measured): the number of kitchens in train matters most. With 3 train participants x 40 s the model
memorises its three kitchens (seed 101: test ROC-AUC 0.63 at 120 steps, 0.59 at 200); with 6, 120 steps gave 0.59-0.73
over seeds 101-105 (0.73 on 101); with 9 and 160 steps, :data:`MEASURED`.

The threshold is measured, not guessed: :data:`MEASURED` holds this procedure's test ROC-AUC on data seeds 101-105
(README "Learning, tested and by default"); the test asserts the worst of them minus :data:`MARGIN` on seed 101.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from egoimu.cli import main as egoimu_main
from egoimu.manifests.schema import Manifest

SEED = 101
STEPS = 160
SPLIT = ("participant_id,split\n" + "".join(f"P{i:02d},train\n" for i in range(1, 10))
         + "P10,validation\nP11,test\nP12,test\n")
#: Test ROC-AUC (headline) of this procedure on data seeds 101..105 (measured here, 2026-12-07).
MEASURED = {101: 0.832, 102: 0.825, 103: 0.801, 104: 0.732, 105: 0.618}
#: The same after one step (an untrained model: chance): 0.507, 0.505, 0.510, 0.507, 0.496. The threshold, 0.588,
#: lies between the best untrained (0.510) and the worst trained (0.618) value.
MARGIN = 0.03
THRESHOLD = min(MEASURED.values()) - MARGIN


@pytest.fixture(scope="module")
def learning_build(tmp_path_factory) -> Path:
    """The build of the module's synthetic set (defaults but a 64² frame size and the 3/1/2 split file)."""
    base = tmp_path_factory.mktemp("learning")
    assert egoimu_main(["synth", "epic", str(base / "src"), "--participants", "12", "--videos-per-participant", "1",
                        "--seconds", "40", "--resolution", "228x128", "--seed", str(SEED)]) == 0
    (base / "split.csv").write_text(SPLIT)
    (base / "build.yaml").write_text("geometry: {frame_size: 64}\n")
    assert egoimu_main(["build", str(base / "src"), str(base / "out"), "--config", str(base / "build.yaml"),
                        "--split", str(base / "split.csv"), "--workers", "2", "--quiet"]) == 0
    return base / "out"


def test_auto_windows_top_up_the_small_train_split(learning_build):
    """360 s of train video with ~120 labelled segments: auto picks the densest stride and the build says so."""
    m = Manifest.load(learning_build)
    windows = m.summary["ssl_windows"]
    assert (windows["requested"], windows["stride_s"]) == ("auto", 0.5)
    assert windows["train_video_s"] == pytest.approx(360.0, abs=1.0)
    written = m.clips[m.clips.status == "written"]
    assert windows["written"] == (written.kind == "window").sum() > 600
    assert set(written[written.kind == "window"].split) == {"train"}
    assert egoimu_main(["audit", str(learning_build)]) == 0


@pytest.mark.slow
def test_contrastive_training_beats_chance_on_held_out_participants(learning_build, tmp_path):
    run = tmp_path / "run"
    assert egoimu_main(["train", str(learning_build), "--run-dir", str(run), "--model", "small", "--steps",
                        str(STEPS), "eval_every_epoch=0"]) == 0
    assert egoimu_main(["eval", "corr", str(run), "--split", "test", "--n-boot", "20",
                        "--json", str(tmp_path / "test.json")]) == 0
    got = json.loads((tmp_path / "test.json").read_text())
    assert got["n"] >= 20 and got["step"] == STEPS  # seed 101: 20 test clips
    assert got["roc_auc"] >= THRESHOLD, (got["roc_auc"], THRESHOLD, MEASURED)
