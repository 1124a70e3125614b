"""Eq. 1 (symmetric InfoNCE over cosine similarities) and its distributed form.

The DDP test runs this file as a script in 2 processes (gloo on CPU, env:// like torchrun) and checks that
2 ranks x N/2 pairs give the loss and the (DDP-averaged) parameter gradients of 1 rank x N pairs.
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from egoimu.train import dist as tdist
from egoimu.train.loss import ContrastiveLoss, contrastive_loss

REPO = Path(__file__).resolve().parents[2]
WORLD = 2
N_PAIRS, D_IN, D_EMB = 8, 5, 4
SPLITS = {"equal": [4, 4], "unequal": [5, 3]}


def reference_eq1(v: torch.Tensor, m: torch.Tensor, tau: float) -> float:
    """Eq. 1 read with -log and [i = j], term by term in plain Python (float64)."""
    n = v.shape[0]
    sim = [[float(v[i] @ m[j] / (v[i].norm() * m[j].norm())) / tau for j in range(n)] for i in range(n)]
    total = 0.0
    for i in range(n):
        row = sum(math.exp(sim[i][k]) for k in range(n))
        col = sum(math.exp(sim[k][i]) for k in range(n))
        total += -math.log(math.exp(sim[i][i]) / row) - math.log(math.exp(sim[i][i]) / col)
    return total / (2 * n)


def test_hand_computed_identity_pairs():
    eye = torch.eye(2)
    # S = I: each direction -log(e / (e + 1)) = log(1 + e^-1)
    assert ContrastiveLoss()(eye, eye).item() == pytest.approx(math.log(1 + math.exp(-1)), abs=1e-6)


def test_hand_computed_asymmetric_and_cosine():
    a = 1 / math.sqrt(2)
    v = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    m = 3.0 * torch.tensor([[1.0, 1.0], [-1.0, 1.0]], dtype=torch.float64)  # scale is irrelevant (cosine)
    # S = [[a, -a], [a, a]]: row 0 and column 1 give log(1 + e^{-2a}), row 1 and column 0 give log 2
    expected = (math.log(1 + math.exp(-2 * a)) + math.log(2)) / 2
    assert ContrastiveLoss()(v, m).item() == pytest.approx(expected, abs=1e-12)
    assert ContrastiveLoss(temperature=0.5)(v, m).item() == pytest.approx(
        (math.log(1 + math.exp(-4 * a)) + math.log(2)) / 2, abs=1e-12
    )


@pytest.mark.parametrize("tau", [1.0, 0.1, 3.0])
def test_matches_termwise_reference(tau: float):
    g = torch.Generator().manual_seed(1)
    v, m = torch.randn(6, 5, generator=g, dtype=torch.float64), torch.randn(6, 5, generator=g, dtype=torch.float64)
    assert ContrastiveLoss(temperature=tau)(v, m).item() == pytest.approx(reference_eq1(v, m, tau), abs=1e-10)


def test_symmetric_in_the_two_modalities():
    g = torch.Generator().manual_seed(2)
    v, m = torch.randn(7, 3, generator=g), torch.randn(7, 3, generator=g)
    loss = ContrastiveLoss(temperature=0.3)
    assert loss(v, m).item() == pytest.approx(loss(m, v).item(), abs=1e-6)


def test_temperature_limits():
    n = 5
    g = torch.Generator().manual_seed(3)
    v = torch.randn(n, 16, generator=g, dtype=torch.float64)
    # matching pairs identical: tau -> 0 drives the loss to 0; tau -> inf flattens the softmax to log N
    assert ContrastiveLoss(temperature=1e-3)(v, v).item() < 1e-6
    assert ContrastiveLoss(temperature=1e6)(v, v).item() == pytest.approx(math.log(n), abs=1e-5)
    # all pairs mismatched (video i = head motion i+1): tau -> 0 drives the loss up
    shifted = torch.roll(v, 1, dims=0)
    assert ContrastiveLoss(temperature=1e-2)(v, shifted).item() > ContrastiveLoss()(v, shifted).item() > math.log(n)


def test_learnable_scale():
    loss = ContrastiveLoss(temperature=0.07, learnable=True)
    assert isinstance(loss.log_logit_scale, nn.Parameter)
    assert loss.logit_scale.item() == pytest.approx(1 / 0.07, rel=1e-6)
    v, m = torch.randn(4, 8), torch.randn(4, 8)
    assert loss(v, m).item() == pytest.approx(ContrastiveLoss(temperature=0.07)(v, m).item(), abs=1e-5)
    loss(v, m).backward()
    assert loss.log_logit_scale.grad is not None and loss.log_logit_scale.grad.abs().item() > 0
    with torch.no_grad():
        loss.log_logit_scale.fill_(math.log(1e4))
    assert loss.logit_scale.item() == pytest.approx(100.0)
    assert list(ContrastiveLoss().parameters()) == []
    with pytest.raises(ValueError):
        ContrastiveLoss(temperature=0.001, learnable=True)
    with pytest.raises(ValueError):
        ContrastiveLoss(temperature=0.0)


def test_dtypes_and_shapes():
    v = torch.randn(3, 4, dtype=torch.bfloat16)
    assert ContrastiveLoss()(v, v).dtype == torch.float32
    assert ContrastiveLoss()(v.double(), v.double()).dtype == torch.float64
    with pytest.raises(ValueError):
        contrastive_loss(torch.randn(3, 4), torch.randn(2, 4), 1.0)


def test_single_process_dist_helpers_are_noops():
    assert not tdist.is_distributed() and tdist.get_world_size() == 1 and tdist.is_rank0()
    x = torch.randn(3, 2, requires_grad=True)
    gathered, sizes = tdist.all_gather_with_grad(x)
    assert gathered is x and sizes == [3]
    tdist.barrier()
    tdist.cleanup()


# ------------------------------------------------------------------------------------------------- DDP


def _problem() -> tuple[torch.Tensor, torch.Tensor, nn.Module, nn.Module, ContrastiveLoss]:
    """Fixed inputs and freshly, deterministically initialised modules (no BatchNorm), float64."""
    g = torch.Generator().manual_seed(0)
    x_video = torch.randn(N_PAIRS, D_IN, generator=g, dtype=torch.float64)
    x_imu = torch.randn(N_PAIRS, D_IN, generator=g, dtype=torch.float64)
    video_proj = nn.Linear(D_IN, D_EMB, dtype=torch.float64)
    imu_proj = nn.Linear(D_IN, D_EMB, dtype=torch.float64)
    with torch.no_grad():
        for p in (*video_proj.parameters(), *imu_proj.parameters()):
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
    loss = ContrastiveLoss(temperature=0.5, learnable=True).double()
    return x_video, x_imu, video_proj, imu_proj, loss


def _loss_and_grads(rows: slice) -> tuple[torch.Tensor, list[torch.Tensor]]:
    x_video, x_imu, video_proj, imu_proj, loss_fn = _problem()
    loss = loss_fn(video_proj(x_video[rows]), imu_proj(x_imu[rows]))
    loss.backward()
    params = [*video_proj.parameters(), *imu_proj.parameters(), *loss_fn.parameters()]
    return loss.detach(), [p.grad.detach().clone() for p in params]


def _ddp_worker(out_dir: Path) -> None:
    """One rank: local rows only; gradients averaged over ranks as DDP does."""
    info = tdist.init_distributed(device="cpu")
    assert info.distributed and info.backend == "gloo" and tdist.get_world_size() == WORLD
    results = {}
    for case, sizes in SPLITS.items():
        start = sum(sizes[: info.rank])
        loss, grads = _loss_and_grads(slice(start, start + sizes[info.rank]))
        for grad in grads:
            torch.distributed.all_reduce(grad)
            grad /= info.world_size
        results[case] = {"loss_mean": tdist.all_reduce_mean(loss), "grads": grads}
    torch.save({"rank": info.rank, "is_rank0": tdist.is_rank0(), "results": results}, out_dir / f"rank{info.rank}.pt")
    tdist.barrier()
    tdist.cleanup()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ddp_two_ranks_equal_one_rank(tmp_path: Path):
    port = _free_port()
    procs = []
    for rank in range(WORLD):
        env = {
            **os.environ,
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(WORLD),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "CUDA_VISIBLE_DEVICES": "",
            "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        }
        cmd = [sys.executable, str(Path(__file__).resolve()), str(tmp_path)]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for proc in procs:
        output, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, output

    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    assert [r["is_rank0"] for r in ranks] == [True, False]
    ref_loss, ref_grads = _loss_and_grads(slice(0, N_PAIRS))
    for case in SPLITS:
        for r in ranks:
            got = r["results"][case]
            assert abs(got["loss_mean"].item() - ref_loss.item()) < 1e-6, case
            assert len(got["grads"]) == len(ref_grads)
            for g_ddp, g_ref in zip(got["grads"], ref_grads):
                assert torch.allclose(g_ddp, g_ref, rtol=0, atol=1e-6), (case, g_ddp, g_ref)
    # the check is sensitive: with per-rank negatives only, the mean loss would differ
    local_only = (_loss_and_grads(slice(0, 4))[0] + _loss_and_grads(slice(4, 8))[0]) / 2
    assert abs(local_only.item() - ref_loss.item()) > 1e-3


if __name__ == "__main__":
    _ddp_worker(Path(sys.argv[1]))
