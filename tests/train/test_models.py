"""Encoders: SlowFast-R50 (pytorchvideo-compatible names and shapes), VGG16 for spectrograms, heads, registry."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from egoimu.train.loss import ContrastiveLoss
from egoimu.train.models.heads import Encoder, ProjectionHead
from egoimu.train.models.registry import BACKBONES, build_backbone, build_encoders
from egoimu.train.models.slowfast import (
    CheckpointError,
    SlowFastR50,
    SlowFastSmall,
    load_pytorchvideo_checkpoint,
    parameter_count,
)
from egoimu.train.models.vgg import VGG16, VGG16_CFG, VGGSmall

TSV = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "pytorchvideo_slowfast_r50_state_dict.tsv"
R50_PARAMS_WITH_HEAD = 34_566_488  # pytorchvideo slowfast_r50, 400 classes
R50_HEAD_PARAMS = 2304 * 400 + 400


def _reference_shapes() -> dict[str, tuple[int, ...]]:
    """name -> shape from pytorchvideo's slowfast_r50 state_dict listing (empty shape = scalar)."""
    if not TSV.is_file():
        raise FileNotFoundError(f"fixture missing: {TSV}")
    shapes = {}
    for line in TSV.read_text().splitlines():
        name, shape = line.split("\t")
        shapes[name] = tuple(int(s) for s in shape.split("x")) if shape else ()
    return shapes


@pytest.fixture(scope="module")
def r50_with_head() -> SlowFastR50:
    torch.manual_seed(0)
    model = SlowFastR50(num_classes=400)
    with torch.no_grad():  # non-default BN statistics, so that loading them is visible
        for name, buf in model.named_buffers():
            if name.endswith("running_mean"):
                buf.uniform_(-1, 1)
    return model


def _assert_same_backbone(src: torch.nn.Module, dst: torch.nn.Module) -> None:
    dst_state = dst.state_dict()
    for name, tensor in src.state_dict().items():
        if not name.startswith("blocks.6."):
            assert torch.equal(dst_state[name], tensor), name


# --------------------------------------------------------------------------------------------- SlowFast


def test_r50_state_dict_matches_pytorchvideo(r50_with_head: SlowFastR50):
    ref = _reference_shapes()
    assert len(ref) == 662
    ours = {name: tuple(t.shape) for name, t in r50_with_head.state_dict().items()}
    assert sorted(set(ref) - set(ours)) == [] and sorted(set(ours) - set(ref)) == []
    assert ours == ref
    assert list(ours) == list(ref)  # same registration order too
    assert parameter_count(r50_with_head) == R50_PARAMS_WITH_HEAD


def test_r50_without_head():
    model = SlowFastR50()
    assert model.out_dim == 2304
    assert not any(name.startswith("blocks.6") for name in model.state_dict())
    assert parameter_count(model) == R50_PARAMS_WITH_HEAD - R50_HEAD_PARAMS == 33_644_488


@pytest.mark.parametrize("wrapping", ["raw", "model_state", "raw_without_head"])
def test_checkpoint_loads_into_headless_model(r50_with_head: SlowFastR50, tmp_path: Path, wrapping: str):
    state = r50_with_head.state_dict()
    if wrapping == "raw_without_head":
        state = {k: v for k, v in state.items() if not k.startswith("blocks.6.")}
    payload = {"model_state": state, "epoch": 196} if wrapping == "model_state" else state
    path = tmp_path / "slowfast.pyth"
    torch.save(payload, path)
    model = SlowFastR50()
    report = load_pytorchvideo_checkpoint(model, path)
    _assert_same_backbone(r50_with_head, model)
    assert report.missing == [] and report.unexpected == [] and report.mismatched == []
    expected_dropped = [] if wrapping == "raw_without_head" else ["blocks.6.proj.bias", "blocks.6.proj.weight"]
    assert report.dropped_head == expected_dropped
    assert len(report.loaded) == 660


def test_r50_forward_tiny_input():
    model = SlowFastR50().eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 16, 64, 64))
    assert out.shape == (1, 2304) and out.dtype == torch.float32 and torch.isfinite(out).all()


def test_checkpoint_from_another_architecture_fails(tmp_path: Path):
    path = tmp_path / "small.pt"
    torch.save(SlowFastSmall(num_classes=10).state_dict(), path)
    with pytest.raises(CheckpointError) as err:
        load_pytorchvideo_checkpoint(SlowFastR50(), path)
    msg = str(err.value)
    assert "missing from the checkpoint" in msg and "shape mismatch" in msg
    assert "blocks.0.multipathway_blocks.0.conv.weight: (8, 3, 1, 7, 7) vs (64, 3, 1, 7, 7)" in msg
    assert "blocks.1.multipathway_blocks.0.res_blocks.1.branch2.conv_a.weight" in msg  # R50 has 3 blocks


def test_checkpoint_shape_mismatch_and_unexpected_keys(tmp_path: Path):
    src = SlowFastSmall()
    state = src.state_dict()
    key = "blocks.2.multipathway_blocks.1.res_blocks.0.branch2.conv_a.weight"
    state[key] = torch.zeros(4, 4, 1, 1, 1)
    state["blocks.9.extra.weight"] = torch.zeros(3)
    path = tmp_path / "bad.pt"
    torch.save({"model_state": state}, path)
    with pytest.raises(CheckpointError) as err:
        load_pytorchvideo_checkpoint(SlowFastSmall(), path)
    msg = str(err.value)
    assert f"{key}: (4, 4, 1, 1, 1) vs {tuple(src.state_dict()[key].shape)}" in msg
    assert "unexpected in the checkpoint (1)" in msg and "blocks.9.extra.weight" in msg
    # non-strict: everything else loads and the problems are reported
    model = SlowFastSmall()
    report = load_pytorchvideo_checkpoint(model, path, strict_backbone=False)
    assert report.unexpected == ["blocks.9.extra.weight"] and len(report.mismatched) == 1
    stem = "blocks.0.multipathway_blocks.0.conv.weight"
    assert torch.equal(model.state_dict()[stem], src.state_dict()[stem])


def test_checkpoint_head_handling_and_bn_counters(tmp_path: Path):
    src = SlowFastSmall(num_classes=400)
    state = {k: v for k, v in src.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "k400.pt"
    torch.save(state, path)
    # another class count: backbone loads, the 400-way head is skipped
    model = SlowFastSmall(num_classes=10)
    report = load_pytorchvideo_checkpoint(model, path)
    _assert_same_backbone(src, model)
    assert report.dropped_head == ["blocks.6.proj.bias", "blocks.6.proj.weight"]
    assert all(name.endswith("num_batches_tracked") for name in report.missing)
    # same class count: the head loads too
    same = SlowFastSmall(num_classes=400)
    load_pytorchvideo_checkpoint(same, path)
    assert torch.equal(same.blocks[6].proj.weight, src.blocks[6].proj.weight)
    # not a state_dict
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="not a state_dict"):
        load_pytorchvideo_checkpoint(SlowFastSmall(), tmp_path / "list.pt")


def test_slowfast_small_shapes_and_backward():
    model = SlowFastSmall()
    assert model.out_dim == 320 and parameter_count(model) == 216_482
    out = model(torch.randn(2, 3, 16, 32, 32))
    assert out.shape == (2, 320)
    out.square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():  # odd frame counts and sizes work (adaptive pooling, ceil(T / alpha) slow frames)
        assert model(torch.randn(1, 3, 48, 64, 64)).shape == (1, 320)
        assert model(torch.randn(1, 3, 13, 40, 56)).shape == (1, 320)
        assert SlowFastSmall(num_classes=7).eval()(torch.randn(1, 3, 8, 32, 32)).shape == (1, 7)
    with pytest.raises(ValueError):
        model(torch.randn(1, 1, 8, 32, 32))


# ------------------------------------------------------------------------------------------------- VGG


def _vgg_param_count(cfg, in_channels: int, batch_norm: bool) -> int:
    total, c_in = 0, in_channels
    for item in cfg:
        if item == "M":
            continue
        total += 3 * 3 * c_in * item + item + (2 * item if batch_norm else 0)
        c_in = item
    return total


def test_vgg16_parameter_count():
    assert _vgg_param_count(VGG16_CFG, 6, batch_norm=False) == 14_716_416
    assert parameter_count(VGG16(batch_norm=False)) == 14_716_416
    assert parameter_count(VGG16()) == 14_716_416 + 2 * 4224 == 14_724_864
    assert sum(1 for m in VGG16().modules() if isinstance(m, torch.nn.Conv2d)) == 13
    assert sum(1 for m in VGG16().modules() if isinstance(m, torch.nn.MaxPool2d)) == 5
    assert parameter_count(VGGSmall()) == 62_040


def test_vgg_shapes():
    model = VGG16().eval()
    with torch.no_grad():
        assert model(torch.randn(2, 6, 33, 50)).shape == (2, 512)
        assert model(torch.randn(1, 6, 5, 7)).shape == (1, 512)
        # ceil-mode pools: 33x50 -> 17x25 -> 9x13 -> 5x7 -> 3x4 -> 2x2 before the global average
        assert model.features(torch.randn(1, 6, 33, 50)).shape == (1, 512, 2, 2)
    small = VGGSmall()
    assert small(torch.randn(3, 6, 33, 50)).shape == (3, 64) and small.out_dim == 64
    with pytest.raises(ValueError):
        small(torch.randn(3, 3, 33, 50))


# ------------------------------------------------------------------------------------- heads, registry


@pytest.mark.parametrize("kind", ["mlp", "linear"])
def test_projection_head(kind: str):
    head = ProjectionHead(40, 16, kind=kind, hidden_dim=24)
    out = head(torch.randn(5, 40))
    assert out.shape == (5, 16) and out.dtype == torch.float32
    assert torch.allclose(out.norm(dim=1), torch.ones(5), atol=1e-6)
    with pytest.raises(ValueError):
        ProjectionHead(40, kind="conv")  # type: ignore[arg-type]


def test_build_small_encoders_end_to_end():
    torch.manual_seed(0)
    video_enc, imu_enc = build_encoders("small", embed_dim=32)
    assert isinstance(video_enc, Encoder) and isinstance(imu_enc, Encoder)
    assert isinstance(video_enc.backbone, SlowFastSmall) and isinstance(imu_enc.backbone, VGGSmall)
    video, spec = torch.randn(4, 3, 16, 32, 32), torch.randn(4, 6, 33, 50)
    v, m = video_enc(video), imu_enc(spec)
    assert v.shape == m.shape == (4, 32)
    assert torch.allclose(v.norm(dim=1), torch.ones(4), atol=1e-5)
    assert video_enc.features(video).shape == (4, 320) and imu_enc.features(spec).shape == (4, 64)
    loss = ContrastiveLoss()(v, m)
    loss.backward()
    assert torch.isfinite(loss) and video_enc.backbone.blocks[0].multipathway_blocks[0].conv.weight.grad is not None
    # autocast (bf16 on CPU; the same code runs under CUDA AMP): embeddings and loss come out float32
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        loss = ContrastiveLoss()(video_enc(video), imu_enc(spec))
    assert loss.dtype == torch.float32 and torch.isfinite(loss)


def test_build_full_encoders_and_checkpoint(tmp_path: Path):
    video_enc, imu_enc = build_encoders("full")
    assert video_enc.out_dim == 2304 and imu_enc.out_dim == 512 and video_enc.embed_dim == 128
    assert isinstance(video_enc.backbone, SlowFastR50) and isinstance(imu_enc.backbone, VGG16)
    assert parameter_count(video_enc.backbone) == 33_644_488
    assert parameter_count(imu_enc.backbone) == 14_724_864
    with pytest.raises(ValueError):
        build_encoders("huge")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        build_backbone("resnet")
    assert set(BACKBONES) == {"slowfast_r50", "slowfast_small", "vgg16", "vgg_small"}
    src = SlowFastSmall(num_classes=400)
    torch.save({"model_state": src.state_dict()}, tmp_path / "small.pyth")
    video_enc, _ = build_encoders("small", video_checkpoint=tmp_path / "small.pyth")
    _assert_same_backbone(src, video_enc.backbone)
