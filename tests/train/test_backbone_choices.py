"""The backbone choices of issue 15: the paper's plain VGG16 (``imu_batchnorm``) with the pooling that fits every
spectrogram the clip geometry allows, and the slow pathway's frames (``slow_pathway``: pytorchvideo's linspace or
egoimu's stride), chosen automatically from ``init_video`` and recorded in the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from egoimu.manifests.geometry import ClipGeometry, GeometryError
from egoimu.train import config as tc
from egoimu.train.checkpoint import init_slow_pathway
from egoimu.train.config import PRESETS, ConfigError, TrainConfig
from egoimu.train.eval.representations import load_representation
from egoimu.train.loop import main as train_main
from egoimu.train.model import build_model
from egoimu.train.models.slowfast import SlowFast, SlowFastR50, SlowFastSmall, parameter_count, slow_indices
from egoimu.train.models.vgg import VGG16, pooled_sizes

#: pytorchvideo's PackPathway / PySlowFast: torch.linspace(0, T - 1, T // alpha).long(), written out by hand.
LINSPACE = {48: [0, 4, 8, 12, 17, 21, 25, 29, 34, 38, 42, 47], 32: [0, 4, 8, 13, 17, 22, 26, 31], 16: [0, 5, 10, 15]}


# ------------------------------------------------------------------------------------------ VGG16 as printed


def test_the_paper_preset_builds_the_plain_vgg16_and_the_default_keeps_batchnorm():
    paper, default = build_model(PRESETS["paper"]), build_model(PRESETS["default"])
    assert isinstance(paper.imu.backbone, VGG16) and isinstance(default.imu.backbone, VGG16)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in paper.imu.backbone.modules())
    assert parameter_count(paper.imu.backbone) == 14_716_416  # VGG16 configuration D's 13 convs, 6 input channels
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in default.imu.backbone.modules()) == 13
    pools = [m for m in paper.imu.backbone.modules() if isinstance(m, torch.nn.MaxPool2d)]
    assert len(pools) == 5 and all(p.ceil_mode and p.kernel_size == p.stride == 2 for p in pools)
    small = build_model(TrainConfig(model="small", imu_batchnorm=False))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in small.imu.backbone.modules())


def _geometry(**fields) -> ClipGeometry | None:
    try:
        return ClipGeometry(**fields)
    except GeometryError:
        return None


#: Geometries at the ends of what the contract allows (and just past them): spectrogram sides 32..129 x 32..397.
EXTREMES = [dict(), dict(nfft=62, hop=12), dict(nfft=62, hop=13), dict(nfft=60, hop=12), dict(nfft=64, hop=13),
            dict(nfft=256, hop=1), dict(nfft=62, hop=1), dict(window_s=1.0, nfft=62, hop=6)]


@pytest.mark.parametrize("fields", EXTREMES, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "paper")
def test_the_plain_vgg16_fits_every_spectrogram_the_geometry_allows(fields):
    geometry = _geometry(**fields)
    assert geometry is not None
    sides = (geometry.spec_bins, geometry.spec_frames)
    allowed = not geometry.encoder_problems()
    assert allowed == (min(sides) >= 32), sides
    if not allowed:
        return
    model = VGG16(batch_norm=False).eval()
    with torch.no_grad():
        last = model.features(torch.randn(1, 6, *sides))
        out = model(torch.randn(2, 6, *sides))
    assert tuple(last.shape[2:]) == pooled_sizes(*sides)[-1] and min(last.shape[2:]) >= 1
    assert out.shape == (2, 512) and torch.isfinite(out).all()
    floor = sides
    for _ in range(5):  # floor pooling (torchvision's) would fit too: the rule is what it needs
        floor = (floor[0] // 2, floor[1] // 2)
    assert min(floor) >= 1


def test_the_paper_spectrogram_pools_to_2x2_keeping_every_row_and_column():
    assert pooled_sizes(33, 50) == [(33, 50), (17, 25), (9, 13), (5, 7), (3, 4), (2, 2)]
    assert ClipGeometry(nfft=62, hop=13).encoder_problems()  # 32 x 31: refused, one side under 32


# ---------------------------------------------------------------------------------------- slow pathway


@pytest.mark.parametrize("frames", [48, 32, 16])
def test_slow_indices_match_pytorchvideo_and_the_stride(frames):
    assert slow_indices(frames, 4, "linspace").tolist() == LINSPACE[frames]
    assert slow_indices(frames, 4, "linspace").tolist() == torch.linspace(0, frames - 1, frames // 4).long().tolist()
    assert slow_indices(frames, 4, "stride").tolist() == list(range(0, frames, 4))
    with pytest.raises(ValueError, match="slow_pathway"):
        slow_indices(frames, 4, "every_other")


def _reference_features(model: SlowFast, slow: torch.Tensor, fast: torch.Tensor) -> torch.Tensor:
    for stage in model.blocks[:5]:
        slow, fast = stage(slow, fast)
    return model.blocks[5](slow, fast)


@pytest.mark.parametrize("build,frames,size", [(SlowFastSmall, 16, 32), (SlowFastR50, 48, 32)], ids=["small", "full"])
def test_a_forward_feeds_the_slow_pathway_the_reference_frames(build, frames, size):
    torch.manual_seed(0)
    model = build(slow_pathway="linspace").eval()
    x = torch.randn(1, 3, frames, size, size)
    with torch.no_grad():
        ours = model.features(x)
        reference = _reference_features(model, x[:, :, LINSPACE[frames]].clone(), x)
        model.slow_pathway = "stride"
        strided = model.features(x)
        strided_reference = _reference_features(model, x[:, :, 0:frames:4].clone(), x)
    assert torch.equal(ours, reference) and torch.equal(strided, strided_reference)
    assert not torch.allclose(ours, strided)  # the two choices see other frames: the features differ


def test_slow_pathway_auto_follows_the_init_and_old_records_keep_the_stride(tmp_path: Path):
    assert TrainConfig().slow_pathway == "auto" and TrainConfig().resolved().slow_pathway == "stride"
    pyth = tmp_path / "pv.pyth"
    torch.save({"model_state": SlowFastSmall().state_dict()}, pyth)
    assert init_slow_pathway(str(pyth)) == "linspace"
    with_init = TrainConfig(model="small", init_video=str(pyth))
    assert with_init.resolved().slow_pathway == "auto"  # not resolved without reading the file
    assert with_init.resolved(init_slow_pathway).slow_pathway == "linspace"
    assert TrainConfig(init_video=str(pyth), slow_pathway="stride").resolved(init_slow_pathway).slow_pathway == "stride"
    with pytest.raises(ConfigError, match="resolve"):
        build_model(with_init)
    old = {k: v for k, v in TrainConfig().to_dict().items() if k not in ("slow_pathway", "imu_batchnorm")}
    assert TrainConfig.from_dict(old).slow_pathway == "stride" and TrainConfig.from_dict(old).imu_batchnorm
    for saved, expected in ((old, "stride"), ({"slow_pathway": "linspace"}, "linspace")):
        ckpt = tmp_path / f"egoimu-{expected}.pt"
        torch.save({"format": "egoimu.train/1", "config": saved}, ckpt)
        assert init_slow_pathway(str(ckpt)) == expected
    with pytest.raises(ConfigError, match="slow_pathway must be one of"):
        TrainConfig(slow_pathway="every_4th")
    small = TrainConfig(model="small", small_frames=10)
    assert tc.geometry_problems(small, ClipGeometry()) == [
        "small_frames = 10 must be divisible by SlowFast's alpha = 4"]


def test_a_pytorchvideo_init_trains_and_evaluates_with_linspace(built_epic, tmp_path: Path):
    """The trainer reads the init's convention, records it in config.json and the checkpoint, and builds the
    backbone with it; the evaluation of a pytorchvideo checkpoint does the same."""
    _, data = built_epic
    pyth = tmp_path / "pv.pyth"
    torch.save(SlowFastSmall().state_dict(), pyth)  # a pytorchvideo-format state_dict of the small model
    run = tmp_path / "run"
    assert train_main([str(data), "--run-dir", str(run), "--model", "small", "--steps", "1", "--init-video", str(pyth),
                       "batch_size=4", "num_workers=0", "eval_every_epoch=0"]) == 0
    assert json.loads((run / "config.json").read_text())["config"]["slow_pathway"] == "linspace"
    rep = load_representation(run, device="cpu")
    assert rep.cfg.slow_pathway == "linspace" and rep.video.backbone.slow_pathway == "linspace"
    rep = load_representation(checkpoint=pyth, model="small", device="cpu")
    assert rep.video.backbone.slow_pathway == "linspace"
    assert load_representation(random="small", device="cpu").video.backbone.slow_pathway == "stride"
