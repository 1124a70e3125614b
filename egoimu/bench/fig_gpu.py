"""``egoimu bench gpu``: the training step of the model on a device, and the data wait of its loader.

Step (the trainer's own code: :func:`egoimu.train.model.build_model`, :func:`egoimu.train.loop.make_optimizer`,
:func:`egoimu.train.inputs.model_inputs` and ``autocast``, eq. 1's contrastive loss), on random clips of the
paper's geometry (48 x 256² frames, spectrograms 6 x 33 x 50), at batch 8, 16 and 32 (``--size tiny``: batch 2,
two timed steps; the data wait one step), in bf16 autocast and in fp32: ``clips_per_s``; ``peak_memory_mb`` (CUDA:
``torch.cuda.max_memory_allocated``; CPU: the process's peak RSS so far, ``ru_maxrss``); ``flops_per_step``
(forward + backward, counted once with ``torch.utils.flop_counter.FlopCounterMode``); ``mfu`` = FLOPs per second
÷ the device's peak from :data:`PEAK_TFLOPS` by device name — bf16 dense for bf16 autocast, TF32 dense for fp32
(the trainer enables TF32 for matmuls and cuDNN convolutions on CUDA) — null on CPU or an unknown device.

Data wait (``data_wait``): the same step at the first batch size (bf16 on CUDA, fp32 on CPU), fed by the
trainer's loader (:class:`~egoimu.train.data.ClipStream`, ``--workers`` workers) from synthetic shards written
here with numpy + h5py (:mod:`egoimu.bench.gpu_data`): raw, JPEG decoded in the workers (simplejpeg) and, where
torchvision decodes on the device, JPEG decoded there (``jpeg_decode`` device). ``data_wait_share`` = seconds
blocked on the loader (plus the device decode) ÷ the steps' wall time, ``loader_clips_per_s`` = clips ÷ that wall
time.

``--model small`` (ours, CPU-sized) replaces the full model: the tests run ``--device cpu --size tiny --model
small``, which checks the code path, not the numbers (the full model takes ~40 CPU-s a step at batch 2 here).
"""

from __future__ import annotations

import resource
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from egoimu.bench.common import Sizes

#: peak dense TFLOP/s (bf16, tf32) by a substring of torch.cuda.get_device_name; first match wins
PEAK_TFLOPS: tuple[tuple[str, float, float], ...] = (
    ("H200", 989.0, 494.7),  # same compute as H100 SXM
    ("H100 PCIe", 756.0, 378.0),
    ("H100", 989.0, 494.7),  # SXM ("NVIDIA H100 80GB HBM3")
    ("A100", 312.0, 156.0),
)


def peak_flops(device: torch.device, precision: str) -> float | None:
    """The device's peak dense FLOP/s for ``precision`` (bf16 or fp32 = TF32); None on CPU or unknown GPUs."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, bf16, tf32 in PEAK_TFLOPS:
        if key in name:
            return (bf16 if precision == "bf16" else tf32) * 1e12
    return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def random_batch(batch: int, device: torch.device, seed: int = 0) -> dict[str, Any]:
    """A loader-shaped batch of random clips of the paper's geometry: video uint8 (B, 48, 256, 256, 3) (one random
    frame per clip, repeated), spec
    float32 (B, 6, 33, 50), verb_class int64 (B,)."""
    from egoimu.manifests.geometry import ClipGeometry

    g = ClipGeometry()
    gen = torch.Generator().manual_seed(seed)
    frame = torch.randint(0, 256, (batch, 1, g.frame_size, g.frame_size, 3), dtype=torch.uint8, generator=gen)
    return {"video": frame.expand(-1, g.frames, -1, -1, -1).contiguous(),  # the cost does not depend on the pixels
            "spec": torch.randn(batch, 6, g.spec_bins, g.spec_frames, generator=gen),
            "verb_class": torch.zeros(batch, dtype=torch.int64)}


class Stepper:
    """One model + optimiser on ``device``; :meth:`step` runs one training step of a loader batch."""

    def __init__(self, model_name: str, batch: int, precision: str, device: torch.device) -> None:
        from egoimu.train.config import TrainConfig
        from egoimu.train.loop import make_optimizer
        from egoimu.train.model import build_model

        self.cfg = TrainConfig(model=model_name, batch_size=batch, amp="bf16" if precision == "bf16" else "off")
        self.device = device
        torch.manual_seed(0)
        self.model = build_model(self.cfg).to(device).train()
        self.optimizer = make_optimizer(self.model, self.cfg, device)
        if device.type == "cuda":  # as the trainer (train/loop.py open_model)
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
            torch.backends.cudnn.benchmark = True

    def step(self, batch: dict[str, Any]) -> float:
        """Forward (eq. 1), backward, AdamW step; returns the loss (synchronises)."""
        from egoimu.train.inputs import autocast, model_inputs

        video, spec = model_inputs(batch, self.cfg, self.device)
        with autocast(self.cfg, self.device):
            loss = self.model(video, spec, None)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def flops(self, batch: dict[str, Any]) -> int:
        """FLOPs of one step's forward and backward (FlopCounterMode; the optimiser's are left out)."""
        from torch.utils.flop_counter import FlopCounterMode

        counter = FlopCounterMode(display=False)
        with counter:
            self.step(batch)
        return int(counter.get_total_flops())


def measure_step(model_name: str, batch: int, precision: str, device: torch.device, warmup: int,
                 steps: int) -> dict[str, Any]:
    """clips/s, peak memory, FLOPs per step and MFU of ``steps`` timed steps after ``warmup`` (+ the counted
    one); {"error": "out of memory"} when the batch does not fit."""
    try:
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        stepper = Stepper(model_name, batch, precision, device)
        data = random_batch(batch, device)
        flops = stepper.flops(data)
        for _ in range(warmup):
            stepper.step(data)
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            stepper.step(data)
        _sync(device)
        seconds = time.perf_counter() - t0
    except torch.OutOfMemoryError:
        return {"error": "out of memory"}
    peak = peak_flops(device, precision)
    return {"clips_per_s": batch * steps / seconds, "step_s": seconds / steps, "flops_per_step": flops,
            "peak_memory_mb": round(_peak_memory_mb(device), 1),
            "mfu": flops * steps / seconds / peak if peak else None, "peak_tflops": peak / 1e12 if peak else None}


def _timed_next(batches: Iterator[dict[str, Any]], device: torch.device, decode: str) -> dict[str, Any]:
    batch = next(batches)
    if decode == "device":
        from egoimu.train.jpeg_device import device_video

        batch = {**batch, "video": device_video(batch, device)}
        _sync(device)
    return batch


def measure_data_wait(index: Any, decode: str, stepper: Stepper, workers: int, steps: int) -> dict[str, Any]:
    """``steps`` training steps fed by the loader over ``index``: seconds waiting for batches (+ device decode)
    ÷ wall seconds, and clips/s. ``decode``: cpu (workers) or device (``jpeg_bytes`` batches)."""
    from egoimu.train.data import ClipStream, DataConfig, make_loader

    cfg = DataConfig(batch_size=stepper.cfg.batch_size, num_workers=workers, seed=0, hflip=0.5,
                     jpeg_bytes=decode == "device")
    stream = ClipStream(index, cfg, train=True)
    steps = min(steps, stream.batches_per_epoch())
    batches = iter(make_loader(stream, cfg))
    stepper.step(_timed_next(batches, stepper.device, decode))  # the workers' start-up is not the steady state
    wait, t0 = 0.0, time.perf_counter()
    for _ in range(steps - 1):
        w0 = time.perf_counter()
        batch = _timed_next(batches, stepper.device, decode)
        wait += time.perf_counter() - w0
        stepper.step(batch)
    _sync(stepper.device)
    wall = time.perf_counter() - t0
    del batches
    return {"data_wait_share": wait / wall, "loader_clips_per_s": (steps - 1) * stepper.cfg.batch_size / wall,
            "steps": steps - 1, "workers": workers}


def bench_gpu(cache: Path, size: Sizes, device: str = "auto", model: str = "full", workers: int = 2) -> dict:
    """The figures of the module doc; ``size.name`` tiny: batch 2 and few steps."""
    from egoimu.bench.gpu_data import jpeg_encoder, write_split
    from egoimu.manifests.geometry import ClipGeometry
    from egoimu.train.jpeg_device import device_decode_available

    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    tiny = size.name == "tiny"
    batches, warmup, steps = ((2,), 0, 2) if tiny else ((8, 16, 32), 3, 10)  # the FLOP-counted step warms up too
    step = {f"{prec}_b{b}": measure_step(model, b, prec, dev, warmup, steps)
            for prec in ("bf16", "fp32") for b in batches}
    prec = "bf16" if dev.type == "cuda" else "fp32"
    stepper = Stepper(model, batches[0], prec, dev)
    n_clips, wait_steps = (2 * batches[0], 2) if tiny else (24 * batches[0], 20)
    sources = [("raw", "cpu")]
    if jpeg_encoder() is not None:
        sources.append(("jpeg", "cpu"))
        if device_decode_available(dev):
            sources.append(("jpeg", "device"))
    wait = {}
    root = cache / "gpu_shards"
    shutil.rmtree(root, ignore_errors=True)
    for encoding in dict(sources):
        index = write_split(root / encoding, encoding, n_clips, ClipGeometry())
        for enc, decode in sources:
            if enc == encoding:
                wait[f"{enc}_{decode}_decode" if enc == "jpeg" else enc] = measure_data_wait(
                    index, decode, stepper, workers, wait_steps)
    shutil.rmtree(root, ignore_errors=True)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    best = max((r["clips_per_s"] for r in step.values() if "clips_per_s" in r), default=float("nan"))
    return {"gpu_clips_per_s": best, "gpu": {"device": name, "model": model, "size": size.name, "step": step,
                                             "data_wait": wait, "precision_of_data_wait": prec,
                                             "device_jpeg_decode": any(d == "device" for _, d in sources)}}
