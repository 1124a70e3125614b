"""torchrun environment helpers: process-group set-up, rank-0 guard, collectives that keep gradients.

Under ``torchrun --nproc_per_node=K ...`` the environment holds RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR and MASTER_PORT. Without them (or WORLD_SIZE=1) everything here is a no-op
single-process path: no process group, rank 0 of 1, barrier/cleanup do nothing, gathers return their input.
Backend: NCCL on CUDA, gloo on CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: rank in [0, world_size), GPU index on its node, device, backend."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str | None  # None: single process, no process group

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_rank0(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value.strip() else default
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def is_distributed() -> bool:
    """True when a process group is initialised (with any world size)."""
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_rank0() -> bool:
    """True on the process that writes logs, checkpoints and reports (rank 0, or the only process)."""
    return get_rank() == 0


def init_distributed(device: str | None = None, backend: str | None = None, timeout_s: float = 1800.0) -> DistInfo:
    """Initialise from torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK; MASTER_ADDR/PORT via env://).

    device: "cuda" or "cpu"; None -> CUDA when available. On CUDA the device is ``cuda:LOCAL_RANK`` and is
        made current. backend: None -> "nccl" on CUDA, "gloo" on CPU.
    WORLD_SIZE unset or 1: no process group is created (single-process path). Calling again once a group
    exists returns the current state without re-initialising.
    """
    world_size = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    if not 0 <= rank < max(world_size, 1):
        raise ValueError(f"RANK={rank} outside [0, WORLD_SIZE={world_size})")
    use_cuda = torch.cuda.is_available() if device is None else device.startswith("cuda")
    if use_cuda and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but CUDA is not available")
    dev = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if world_size <= 1:
        return DistInfo(0, 1, local_rank, dev, None)
    backend = backend or ("nccl" if use_cuda else "gloo")
    if not is_distributed():
        dist.init_process_group(
            backend=backend,
            init_method="env://",
            rank=rank,
            world_size=world_size,
            timeout=timedelta(seconds=timeout_s),
        )
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank, dev, dist.get_backend())


def barrier() -> None:
    """Wait for every rank (no-op single-process)."""
    if not is_distributed():
        return
    if dist.get_backend() == "nccl":
        dist.barrier(device_ids=[torch.cuda.current_device()])
    else:
        dist.barrier()


def cleanup() -> None:
    """Destroy the process group if there is one (call once at exit, on every rank)."""
    if is_distributed():
        dist.destroy_process_group()


def all_reduce_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean of `x` over ranks, detached (for logging). Single process: ``x.detach()``."""
    x = x.detach().clone()
    if get_world_size() > 1:
        dist.all_reduce(x, op=dist.ReduceOp.SUM)
        x /= get_world_size()
    return x


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's picklable ``obj`` in rank order (a collective: all ranks must call it). Single process:
    ``[obj]``."""
    if get_world_size() == 1:
        return [obj]
    out: list[Any] = [None] * get_world_size()
    dist.all_gather_object(out, obj)
    return out


class _AllGatherWithGrad(torch.autograd.Function):
    """Concatenate every rank's rows; backward sums the incoming gradients over ranks (every rank's loss
    may use every row) and hands each rank the slice of its own rows."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, sizes: list[int]) -> torch.Tensor:  # type: ignore[override]
        rank = dist.get_rank()
        ctx.start = sum(sizes[:rank])
        ctx.size = sizes[rank]
        longest = max(sizes)
        padded = x.contiguous()
        if x.shape[0] < longest:  # all_gather needs equal shapes
            padded = x.new_zeros((longest, *x.shape[1:]))
            padded[: x.shape[0]] = x
        parts = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(parts, padded)
        return torch.cat([part[:n] for part, n in zip(parts, sizes)], dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.start : ctx.start + ctx.size], None


def gather_sizes(n: int, device: torch.device) -> list[int]:
    """Every rank's local batch size (a collective: all ranks must call it). Single process: [n]."""
    if get_world_size() <= 1:
        return [n]
    local = torch.tensor([n], dtype=torch.long, device=device)
    sizes = [torch.zeros_like(local) for _ in range(get_world_size())]
    dist.all_gather(sizes, local)
    return [int(s.item()) for s in sizes]


def all_gather_with_grad(x: torch.Tensor, sizes: list[int] | None = None) -> tuple[torch.Tensor, list[int]]:
    """Gather rows from all ranks in rank order, differentiably.

    x: (n_r, ...) on this rank (any dtype; the same on every rank; on the backend's device).
    sizes: every rank's n_r if known (else gathered first; ranks may hold different counts).
    Returns (all rows (sum n_r, ...), sizes). This rank's rows sit at ``sum(sizes[:rank])``.
    Gradient: x receives the sum over ranks of d(loss_rank)/d(its rows), so that with per-rank losses
    L_r and DDP's gradient averaging, parameters get d(mean_r L_r)/d(theta) exactly.
    Single process: returns (x, [n]) unchanged.
    """
    if get_world_size() <= 1:
        return x, [x.shape[0]]
    if sizes is None:
        sizes = gather_sizes(x.shape[0], x.device)
    if len(sizes) != get_world_size() or sizes[get_rank()] != x.shape[0]:
        raise ValueError(f"sizes {sizes} do not fit rank {get_rank()} with {x.shape[0]} rows")
    return _AllGatherWithGrad.apply(x, sizes), sizes
