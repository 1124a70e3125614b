"""``egoimu bench {decode,build,load,train,sync,all,long,gpu} [--json FILE]``: speed and memory as ratios to baselines.

Every figure is a ratio of two runs made here, one after the other (interleaved where it is a speed),
on synthetic data the command generates and caches (``--cache``, default ``.bench/``), so a shared,
noisy machine changes both sides alike. No figure is an absolute time, and no test asserts a speed.

Groups and figures (goal):
  decode  decode_vs_ffmpeg (>= 0.9)            egoimu's video stage ÷ bare ffmpeg, same windows, 1080p50
          merged_vs_per_clip (>= 1.2)          merged-window ÷ per-clip decoding, replayed EPIC timings
  build   dask_parallel_efficiency (>= 0.8)    egoimu build, 2 workers ÷ (2 × 1 worker)
          worker_rss_10min_vs_1min (<= 1.1)    worker peak RSS, 10-minute ÷ 1-minute video (456x256)
          jpeg_size_ratio (>= 8), jpeg_psnr_db (>= 35)   raw ÷ JPEG shard bytes, JPEG PSNR vs raw
          build_vs_decode_floor (<= 1.3)       a whole build (2 workers) ÷ bare ffmpeg decoding each video once
                                               whole on 2 processes; 2 x 1 minute of 1080p50 (fig_floor)
  load    loader_vs_raw_h5py (>= 0.9)          ClipStream + make_loader ÷ bare h5py chunk reads
          loader_vs_mp4_decode (>= 5)          the loader ÷ decoding the same clips from the MP4s (decord)
          loader_clips_per_s_per_core_raw, loader_clips_per_s_per_core_jpeg (capacities, no goal)   clips/s
                                               ONE DataLoader worker delivers from raw / JPEG shards (fig_load)
  train   trainer_rss_epoch_vs_50_steps (<= 1.1), data_wait_share (<= 0.05)   egoimu train --model small
  sync    sync_sweep_median_ms (<= 10), sync_sweep_max_ms (<= 40)   --sync auto's IMU row error against the
          synthetic truth over planted offsets -500..+500 ms (an accuracy, not a ratio; see fig_sync)
  long    sync_auto_cost (<= 0.15)             measure_sync (what --sync auto adds to a probe) ÷ a whole build,
                                               on one 10-minute 1080p50 video (egoimu.bench.long_data)

  gpu     gpu_clips_per_s (capacity)           the full model's training step on a device (default: CUDA if
                                               present) at batch 8/16/32, bf16 and fp32: clips/s, peak memory,
                                               MFU, and the loader's data wait on raw and JPEG shards (fig_gpu);
                                               --device cpu|cuda, --model full|small, --workers N

``all`` runs every group but ``long`` and ``gpu``: ``long``'s data takes minutes to make and its builds minutes
to run, ``gpu`` is for a machine with a GPU; ``egoimu bench long`` (or ``all long``) runs it. One measurement runs by
its name, e.g. ``egoimu bench build_vs_decode_floor``.
Capacities (:data:`CAPACITIES`) are absolute rates, reported beside the figures but given no goal.

The JSON holds every figure at the top level, ``goals``, ``met``, ``conditions`` (sizes, CPUs, load
averages, date) and each measurement's details (clip counts, every run's seconds).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

from egoimu.bench import fig_build, fig_decode, fig_floor, fig_load, fig_sync, fig_sync_cost, fig_train
from egoimu.bench.common import SIZES, load_average
from egoimu.manifests.clihelp import HelpFormatter, OneLineParser, write_json

#: measurement name -> function(cache, sizes) -> dict of figures and details
MEASUREMENTS: dict[str, Callable[..., dict]] = {
    "decode_vs_ffmpeg": fig_decode.bench_decode_vs_ffmpeg,
    "merged_vs_per_clip": fig_decode.bench_merged_vs_per_clip,
    "dask": fig_build.bench_dask_parallel_efficiency,
    "memory": fig_build.bench_memory,
    "storage": fig_build.bench_storage,
    "loader_vs_raw_h5py": fig_load.bench_loader_vs_raw_h5py,
    "loader_vs_mp4_decode": fig_load.bench_loader_vs_mp4_decode,
    "loader_per_core": fig_load.bench_loader_per_core,
    "trainer_rss": fig_train.bench_trainer_rss,
    "data_wait": fig_train.bench_data_wait,
    "sync_sweep": fig_sync.bench_sync_sweep,
    "sync_auto_cost": fig_sync_cost.bench_sync_auto_cost,
    "gpu": lambda *args, **kw: _bench_gpu(*args, **kw),
    "build_vs_decode_floor": fig_floor.bench_build_vs_decode_floor,
}
#: measurements that take the --device, --model and --workers options
DEVICE_MEASUREMENTS = ("gpu",)
GROUPS: dict[str, tuple[str, ...]] = {
    "decode": ("decode_vs_ffmpeg", "merged_vs_per_clip"),
    "build": ("dask", "memory", "storage", "build_vs_decode_floor"),
    "load": ("loader_vs_raw_h5py", "loader_vs_mp4_decode", "loader_per_core"),
    "train": ("trainer_rss", "data_wait"),
    "sync": ("sync_sweep",),
    "long": ("sync_auto_cost",),
    "gpu": ("gpu",),
}
#: groups that ``all`` leaves out (named explicitly to run)
OPT_IN_GROUPS = ("long", "gpu")
#: figure -> (comparison, goal)
GOALS: dict[str, tuple[str, float]] = {
    "decode_vs_ffmpeg": (">=", 0.9),
    "merged_vs_per_clip": (">=", 1.2),
    "dask_parallel_efficiency": (">=", 0.8),
    "worker_rss_10min_vs_1min": ("<=", 1.1),
    "jpeg_size_ratio": (">=", 8.0),
    "jpeg_psnr_db": (">=", 35.0),
    "loader_vs_raw_h5py": (">=", 0.9),
    "loader_vs_mp4_decode": (">=", 5.0),
    "trainer_rss_epoch_vs_50_steps": ("<=", 1.1),
    "data_wait_share": ("<=", 0.05),
    "sync_sweep_median_ms": ("<=", 10.0),
    "sync_sweep_max_ms": ("<=", 40.0),
    "sync_auto_cost": ("<=", 0.15),
    "build_vs_decode_floor": ("<=", 1.3),
}
#: figures that are absolute rates (clips/s), reported in the table and the JSON without a goal
CAPACITIES = ("loader_clips_per_s_per_core_raw", "loader_clips_per_s_per_core_jpeg", "gpu_clips_per_s")


def met(figure: str, value: float) -> bool:
    """Whether ``value`` reaches the figure's goal."""
    op, goal = GOALS[figure]
    return math.isfinite(value) and (value >= goal if op == ">=" else value <= goal)


def conditions(size_name: str) -> dict:
    """The machine and the run: CPUs, load, date, sizes, versions."""
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(), "load_average_start": load_average(), "platform": platform.platform(),
            "python": platform.python_version(), "size": size_name,
            "sizes": dataclasses.asdict(SIZES[size_name])}


def run(names: list[str], cache: Path, size_name: str, device_options: dict | None = None) -> dict:
    """Run the named measurements; returns the JSON document (figures at the top level). ``device_options``
    (device, model, workers) go to :data:`DEVICE_MEASUREMENTS`."""
    cache.mkdir(parents=True, exist_ok=True)
    results: dict = {"conditions": conditions(size_name), "seconds": {}}
    for name in names:
        t0 = time.perf_counter()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        extra = (device_options or {}) if name in DEVICE_MEASUREMENTS else {}
        results.update(MEASUREMENTS[name](cache.resolve(), SIZES[size_name], **extra))
        results["seconds"][name] = round(time.perf_counter() - t0, 1)
        results["conditions"].setdefault("load_average_after", {})[name] = load_average()
    results["goals"] = {k: f"{op} {goal:g}" for k, (op, goal) in GOALS.items() if k in results}
    results["met"] = {k: met(k, results[k]) for k in GOALS if k in results}
    return results


def table(results: dict) -> str:
    """Markdown table: figure, value, goal, met?"""
    lines = ["| figure | value | goal | met? |", "|---|---:|---|---|"]
    for fig, (op, goal) in GOALS.items():
        if fig in results:
            lines.append(f"| {fig} | {results[fig]:.3f} | {op} {goal:g} | {'yes' if results['met'][fig] else 'NO'} |")
    lines += [f"| {fig} | {results[fig]:.3f} | (capacity) | - |" for fig in CAPACITIES if fig in results]
    return "\n".join(lines)


def notes(results: dict) -> list[str]:
    """Lines of context under the table: storage per encoding, the Dask ceiling, CPU-time ratios."""
    lines = []
    for enc, r in results.get("storage", {}).items():
        lines.append(f"storage {enc}: {r['bytes_per_clip'] / 1e6:.2f} MB/clip ({r['size_ratio_vs_raw']:.2f}x smaller "
                     f"than raw), read {r['read_clips_per_s']:.1f} clips/s, PSNR {r['psnr_db']:.1f} dB")
    if "dask" in results:
        d = results["dask"]
        lines.append(f"dask: shard stage alone {d['shard_stage_efficiency']:.3f}; one worker keeps "
                     f"{d['cores_busy_1_worker']:.2f} cores busy, so at most {d['ceiling']:.3f} on this machine")
    if "sync_cost" in results:
        c = results["sync_cost"]
        lines.append(f"sync_cost: measure_sync {c['sync_s']:.2f} s (decode {c['decode_s']:.2f} s + estimate "
                     f"{c['estimate_s']:.2f} s; {c['windows']} windows, {c['kept']} kept, confidence "
                     f"{c['confidence']:.3f}, {'used' if c['used'] else 'not used: ' + c['reason']}) ÷ build "
                     f"{c['build_s']:.1f} s ({c['clips_written']} clips, {c['video']})")
    if "gpu" in results:
        g = results["gpu"]
        for key, r in g["step"].items():
            mfu = "n/a" if r.get("mfu") is None else f"{r['mfu']:.3f}"
            lines.append(f"gpu {g['device']} {g['model']} {key}: " + (r["error"] if "error" in r else
                         f"{r['clips_per_s']:.2f} clips/s, peak {r['peak_memory_mb']:.0f} MB, MFU {mfu}"))
        for key, r in g["data_wait"].items():
            lines.append(f"gpu data wait {key} ({r['workers']} workers): {r['data_wait_share']:.3f} of the step "
                         f"time, {r['loader_clips_per_s']:.2f} clips/s")
    if "floor" in results:
        f = results["floor"]
        stages = ", ".join(f"{k} {v:.2f} s" for k, v in f["stages_s"].items())
        lines.append(f"floor: build {f['build_s']:.1f} s ({f['clips_written']} clips; {stages}) ÷ decode floor "
                     f"{f['floor_s']:.1f} s ({f['frames_out']} frames out, {f['processes']} processes); CPU seconds "
                     f"{f['build_cpu_s']:.1f} vs {f['floor_cpu_s']:.1f}")
    for enc, r in results.get("loader_per_core", {}).items():
        lines.append(f"loader_per_core {enc}: {r['clips_per_s']:.1f} clips/s from one worker ({r['clips']} clips, "
                     f"batch {r['batch_size']}, {r['epochs']} epochs; worker start + first batch {r['startup_s']} s)")
    for key in ("decode", "merge", "loader_h5py", "loader_mp4"):
        if key in results:
            lines.append(f"{key}: CPU-time ratio {results[key]['cpu_ratio']:.3f} (same sides, CPU seconds per unit)")
    return lines


def selected(what: list[str]) -> list[str]:
    """The measurements the command-line words ``what`` (groups, ``all``, measurement names) name, in order."""
    default = [m for g, ms in GROUPS.items() if g not in OPT_IN_GROUPS for m in ms]
    names: list[str] = []
    for word in what:
        for name in (default if word == "all" else GROUPS.get(word, (word,))):
            if name not in names:
                names.append(name)
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    choices = [*GROUPS, "all", *MEASUREMENTS]
    p = OneLineParser(prog="egoimu bench", description=__doc__,
                                formatter_class=HelpFormatter)
    p.add_argument("what", nargs="*", default=["all"], choices=choices, metavar="GROUP",
                   help=f"groups: {', '.join(GROUPS)} or all (every group but {', '.join(OPT_IN_GROUPS)}); or "
                        f"single measurements: {', '.join(MEASUREMENTS)} (default: all)")
    p.add_argument("--json", metavar="FILE", help="write the results here (-: to stdout, the table then "
                                                  "goes to stderr)")
    p.add_argument("--cache", type=Path, default=Path(".bench"), help="generated data, reused (default: .bench)")
    p.add_argument("--size", choices=sorted(SIZES), default="full",
                   help="data sizes: full (the figures) or tiny (seconds-long smoke run)")
    p.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto",
                   help="gpu group: where the model runs; auto: cuda if available, else cpu")
    p.add_argument("--model", choices=["full", "small"], default="full",
                   help="gpu group: full (SlowFast-R50 + VGG16) or small (ours; CPU-sized code-path check)")
    p.add_argument("--workers", type=int, default=2, help="gpu group: DataLoader workers of the data wait")
    return p.parse_args(argv)


def _bench_gpu(cache: Path, size: object, **options: object) -> dict:
    """fig_gpu.bench_gpu, imported when run (it imports torch)."""
    from egoimu.bench import fig_gpu

    return fig_gpu.bench_gpu(cache, size, **options)  # type: ignore[arg-type]


def torch_cuda() -> bool:
    """Whether torch sees a CUDA device (imported here only when --device cuda is asked for)."""
    import torch

    return torch.cuda.is_available()


def main(argv: list[str] | None = None) -> int:
    """Run the chosen groups, print the table and the measurement details; ``--json FILE`` writes them."""
    args = parse_args(argv)
    if args.device == "cuda" and not torch_cuda():
        print("egoimu bench: error: --device cuda: torch here has no CUDA device", file=sys.stderr)
        return 2
    if args.workers < 0:
        print(f"egoimu bench: error: --workers must be >= 0, got {args.workers}", file=sys.stderr)
        return 2
    results = run(selected(args.what), args.cache, args.size,
                  {"device": args.device, "model": args.model, "workers": args.workers})
    text = sys.stderr if args.json == "-" else sys.stdout  # --json -: stdout holds the JSON alone
    print(table(results), file=text)
    print("\n".join(notes(results)), file=text)
    cond = results["conditions"]
    print(f"conditions: {cond['cpus']} CPUs, load averages {cond['load_average_start']} at the start; "
          f"sizes '{args.size}'; seconds per measurement {results['seconds']}", file=text)
    if args.json:
        write_json(args.json, results, sort_keys=True, default=str)
    return 0
