"""Train figures from one ``egoimu train --model small`` run: memory over an epoch, and data wait.

The run reads JPEG shards (a raw set big enough for a 50-step epoch at batch 16 would need ~9 GB)
of a synthetic set whose train participants are tiled with overlapping unlabelled windows
(``--ssl-windows``), so one epoch has more than ``early_steps`` steps. It trains one epoch plus
``log_every`` steps, with the per-epoch validation on, 2 DataLoader workers, on the CPU.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

from egoimu.bench.common import Sizes, cached_build, egoimu_argv, synth

_RUNS: dict[tuple[str, Sizes], dict] = {}  # one training run per bench command serves both figures


def train_data(cache: Path, size: Sizes) -> Path:
    """The cached JPEG build: participants P01.. train, the last one validation."""
    n = size.train_participants + 1
    root = synth(cache, f"{size.name}-train-src", participants=n, videos_per_participant=1,
                 seconds=size.train_seconds, seed=51)
    split = cache / f"{size.name}-train-split.csv"
    split.write_text("participant_id,split\n" + "".join(
        f"P{p:02d},{'train' if p < n else 'validation'}\n" for p in range(1, n + 1)))
    return cached_build(root, cache / f"{size.name}-train-jpeg", "--encoding", "jpeg", "--split", str(split),
                        "--ssl-windows", f"{size.ssl_stride_s:g}")


def train_run(cache: Path, size: Sizes) -> dict:
    """Run (once per process) the training and return ``{"records", "steps_per_epoch", "steps", ...}``."""
    key = (str(cache), size)
    if key in _RUNS:
        return _RUNS[key]
    from egoimu.train.data import SplitIndex

    out = train_data(cache, size)
    per_epoch = SplitIndex.open(out, "train").n // size.batch_size
    if per_epoch <= size.early_steps:
        raise RuntimeError(f"{out}: {per_epoch} steps per epoch, need more than {size.early_steps}")
    steps = per_epoch + size.log_every
    run = cache / f"{size.name}-train-run"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    argv = egoimu_argv("train", str(out), "--run-dir", str(run), "--model", "small", "--steps", str(steps),
                       "--device", "cpu", f"batch_size={size.batch_size}", f"num_workers={size.loader_workers}",
                       f"log_every={size.log_every}", f"warmup_steps={min(steps, 500)}", "ckpt_every=0")
    samples = _sampled(argv, run)
    records = _records(run / "metrics.jsonl")
    _RUNS[key] = {"records": [r for r in records if "rss_mb" in r], "samples": samples, "steps_per_epoch": per_epoch,
                  "steps": steps, "train_clips": per_epoch * size.batch_size, "batch_size": size.batch_size,
                  "loader_workers": size.loader_workers, "encoding": "jpeg", "model": "small", "device": "cpu"}
    return _RUNS[key]


def _records(metrics: Path) -> list[dict]:
    """The records of a metrics.jsonl written so far (a line still being written is skipped)."""
    try:
        lines = metrics.read_text().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def tree_memory(pid: int) -> tuple[float, float]:
    """(PSS, RSS) in MiB of process ``pid`` and its descendants. PSS counts a page shared by n processes
    1/n in each, so forked DataLoader workers do not count the trainer's pages again (RSS sums do)."""
    import psutil

    pss = rss = 0
    try:
        procs = [psutil.Process(pid)]
        procs += procs[0].children(recursive=True)
    except psutil.Error:
        return 0.0, 0.0
    for proc in procs:
        try:
            info = proc.memory_full_info()
        except psutil.Error:
            continue
        pss, rss = pss + info.pss, rss + info.rss
    return pss / 2**20, rss / 2**20


def _sampled(argv: list[str], run: Path, every_s: float = 0.5) -> list[tuple[int, float, float]]:
    """Run the trainer, sampling its process tree's memory; returns ``(last logged step, PSS MiB, RSS MiB)``
    every ``every_s`` seconds."""
    samples: list[tuple[int, float, float]] = []
    with open(run / "bench-stderr.log", "w") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        try:
            while proc.poll() is None:
                step = max((r.get("step", 0) for r in _records(run / "metrics.jsonl") if "rss_mb" in r), default=0)
                samples.append((step, *tree_memory(proc.pid)))
                time.sleep(every_s)
            proc.wait(timeout=7200)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if proc.returncode:
        raise RuntimeError(f"egoimu train failed (exit {proc.returncode}):\n"
                           f"{(run / 'bench-stderr.log').read_text()[-3000:]}")
    return samples


def _conditions(run: dict) -> dict:
    return {k: v for k, v in run.items() if k not in ("records", "samples")}


def _memory_detail(values: list[tuple[int, float]], early: int, late: int) -> dict:
    """Peak and resident (first value at or after the step) at ``early`` and ``late`` of (step, MiB) pairs."""
    def peak(step: int) -> float:
        return max(v for s, v in values if s <= step)

    def at(step: int) -> float:  # (the last value when the run ended before a later one was taken)
        return next((v for s, v in values if s >= step), values[-1][1])

    return {"peak_early_mb": peak(early), "peak_after_epoch_mb": peak(late), "at_early_mb": at(early),
            "after_epoch_mb": at(late), "peak_ratio": peak(late) / peak(early), "resident_ratio": at(late) / at(early)}


def bench_trainer_rss(cache: Path, size: Sizes) -> dict:
    """``trainer_rss_epoch_vs_50_steps``: peak memory of the trainer's process tree (trainer + DataLoader
    workers, PSS sampled every 0.5 s) up to the first log record after a full epoch and its validation ÷
    up to the record at step 50. The details add the same ratios of the RSS the trainer logs in
    metrics.jsonl (``rss_mb``: the trainer; ``rss_total_mb``: with its workers, shared pages counted once
    per process) and of the sampled RSS sum."""
    run = train_run(cache, size)
    recs = run["records"]
    early = next(r["step"] for r in recs if r["step"] >= size.early_steps)
    late = next(r["step"] for r in recs if r["step"] > run["steps_per_epoch"])
    # a sample tagged s was taken after record s and before the next one: it belongs to the steps after s
    tagged = [(s + 1, pss, rss) for s, pss, rss in run["samples"]]
    detail = {"pss_sampled": _memory_detail([(s, p) for s, p, _ in tagged], early, late),
              "rss_sampled": _memory_detail([(s, r) for s, _, r in tagged], early, late),
              **{key: _memory_detail([(r["step"], r[key]) for r in recs], early, late)
                 for key in ("rss_mb", "rss_total_mb")}}
    return {"trainer_rss_epoch_vs_50_steps": detail["pss_sampled"]["peak_ratio"],
            "trainer_rss": {**_conditions(run), "early_step": early, "late_step": late, "samples": len(tagged),
                            **detail}}


def bench_data_wait(cache: Path, size: Sizes) -> dict:
    """``data_wait_share``: share of the run's step time spent waiting for the next batch (every logged
    window weighted by its length; worker start-ups at the first step and the epoch boundary included)."""
    run = train_run(cache, size)
    recs, prev, waited, total, steady = run["records"], 0, 0.0, 0.0, []
    for r in recs:
        seconds = (r["step"] - prev) * size.batch_size / r["clips_per_s"]
        waited += r["data_wait"] * seconds
        total += seconds
        if prev and not prev <= run["steps_per_epoch"] < r["step"]:
            steady.append(r["data_wait"])
        prev = r["step"]
    return {"data_wait_share": waited / total,
            "data_wait": {**_conditions(run), "seconds_logged": total,
                          "per_window": [round(r["data_wait"], 4) for r in recs],
                          "steady_state_mean": sum(steady) / len(steady) if steady else None}}
