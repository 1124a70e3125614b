"""What every figure of ``egoimu bench`` shares: sizes, cached synthetic data, builds and timing.

Data is generated once under the cache folder (``--cache``) in a folder named after the size and the
generator config; a ``.complete`` marker holding that config says it is whole, so a changed config or an
interrupted run regenerates. Timings interleave the two sides of a ratio item by item (A, B, A, B, ...)
and keep each side's best run per item, so a burst of load from other processes hits both sides alike
and cannot make one side look faster than it can be; CPU seconds are recorded beside the wall times.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from egoimu.manifests.outputs import BENCH_MARKER

REPO = Path(__file__).resolve().parents[2]
#: The real EPIC-KITCHENS-100 annotation file whose segment timings the decode figures replay.
LIKE_CSV = REPO.parent / "shared" / "data" / "epic-kitchens-100" / "EPIC_100_uda_target_val.csv"


@dataclass(frozen=True)
class Sizes:
    """Data sizes of one bench run (recorded in the JSON under ``conditions.sizes``)."""

    name: str
    # decode group: one video like the EPIC-100 extension's (1920x1080, 50 fps, GOP 1 s)
    hd_width: int = 1920
    hd_height: int = 1080
    hd_seconds: float = 30.0
    decode_windows: int = 6  # isolated clip windows for decode_vs_ffmpeg
    repeats: int = 3  # interleaved runs per side of a speed ratio (best one counts)
    # build group: Dask efficiency on a like-CSV set at 456x256; its 2-worker build feeds the load group
    build_participants: int = 4
    build_seconds: float = 60.0
    clips_per_shard: int = 8
    storage_participants: int = 3
    storage_seconds: float = 30.0
    memory_seconds: tuple[float, float] = (60.0, 600.0)
    # load group
    mp4_clips: int = 48  # clips decoded from the MP4s for loader_vs_mp4_decode
    # train group: JPEG shards, one epoch of ``epoch_steps`` + a few steps of the next
    train_participants: int = 4
    train_seconds: float = 60.0
    ssl_stride_s: float = 0.25
    batch_size: int = 16
    early_steps: int = 50  # "after 50 steps"
    log_every: int = 10
    loader_workers: int = 2
    # sync group: planted IMU offsets (ms), videos (seeds) per offset, small frames
    sync_offsets_ms: tuple[int, ...] = tuple(range(-500, 501, 100))
    sync_videos: int = 3
    sync_seconds: float = 20.0
    sync_width: int = 228
    sync_height: int = 128
    # long group: one long 1080p50 video with EPIC-dense replayed segments (egoimu.bench.long_data)
    long_minutes: float = 10.0
    long_width: int = 1920
    long_height: int = 1080
    long_render_scale: int = 4  # rendered at (width, height) / this, scaled up by ffmpeg
    sync_cost_repeats: int = 3  # measure_sync runs: one before the build, the rest after; the best counts
    # build_vs_decode_floor: long_* frames, one video per real EPIC-100 video replayed (2 x 1 minute at full size)
    floor_videos: tuple[str, ...] = ("P03_106", "P03_108")  # 20 and 19 segments in their first minute
    floor_minutes: float = 1.0


FULL = Sizes(name="full")
#: Seconds-long data for tests and smoke runs (no figure from it means anything).
TINY = Sizes(name="tiny", hd_width=192, hd_height=108, hd_seconds=8.0, decode_windows=2, repeats=1,
             build_participants=2, build_seconds=6.0, clips_per_shard=4, storage_participants=2,
             storage_seconds=6.0, memory_seconds=(5.0, 10.0), mp4_clips=4, train_participants=2,
             train_seconds=6.0, ssl_stride_s=1.0, batch_size=2, early_steps=2, log_every=1,
             sync_offsets_ms=(-500, 500), sync_videos=1, sync_seconds=8.0,
             long_minutes=0.2, long_width=320, long_height=180, long_render_scale=2, sync_cost_repeats=2,
             floor_minutes=0.2)
SIZES = {s.name: s for s in (FULL, TINY)}


def cached_root(root: Path, stamp: dict, make: Callable[[Path], object]) -> Path:
    """``root``, made by ``make(root)`` unless its ``.complete`` marker holds ``stamp`` (JSON) already;
    an interrupted or differently configured folder is removed and made again."""
    marker = root / ".complete"
    text = json.dumps(stamp, sort_keys=True)
    if not marker.is_file() or marker.read_text() != text:
        shutil.rmtree(root, ignore_errors=True)
        make(root)
        marker.write_text(text)
    return root


def synth(cache: Path, name: str, **fields: object) -> Path:
    """A synthetic EPIC set (``SynthEpicConfig(**fields)``) under ``cache/name``, generated once; its root."""
    from egoimu.pipeline.synth.epic import SynthEpicConfig, generate_epic

    cfg = SynthEpicConfig(**fields)
    return cached_root(cache / name, dataclasses.asdict(cfg), lambda root: generate_epic(root, cfg, workers=2))


def like_fields() -> dict[str, object]:
    """``like_csv`` of the real annotation file when it is there (else the generator's own timings)."""
    return {"like_csv": str(LIKE_CSV)} if LIKE_CSV.is_file() else {}


def egoimu_argv(*args: str) -> list[str]:
    """Argument list running ``egoimu ARGS`` with this interpreter."""
    return [sys.executable, "-m", "egoimu", *args]


def run_checked(argv: list[str], what: str, timeout_s: float = 3600,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``argv`` (no shell); raise RuntimeError with the stderr tail if it fails."""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL,
                          env=env)
    if proc.returncode:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def build(root: Path, out: Path, *extra: str, workers: int = 2) -> dict:
    """``egoimu build ROOT OUT --workers N EXTRA`` into a fresh ``out``; labelled segments only (``--ssl-windows
    off``) unless EXTRA names ``--ssl-windows``, so that a figure's clip count does not follow the auto default.

    Returns ``seconds`` (wall time of the command), ``cpu_s`` (CPU seconds of it and its processes)
    and ``stages`` (seconds of each Dask stage and each timed section of the build's own process, from
    ``$EGOIMU_STAGE_TIMES``, and ``interpreter_imports_exit``: the wall time outside the build's ``main``).
    """
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    times = out.parent / f".{out.name}.stages.jsonl"
    times.unlink(missing_ok=True)
    c0, t0 = cpu_seconds(), time.perf_counter()
    windows = () if "--ssl-windows" in extra else ("--ssl-windows", "off")
    run_checked(egoimu_argv("build", str(root), str(out), "--workers", str(workers), "--quiet", *windows, *extra),
                f"egoimu build {root} -> {out}", env={**os.environ, "EGOIMU_STAGE_TIMES": str(times)})
    seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    stages = {r["stage"]: r["seconds"] for r in map(json.loads, times.read_text().splitlines())}
    times.unlink()
    if "main" in stages:  # the command's own process: interpreter start, imports and exit are what main is not
        stages["interpreter_imports_exit"] = seconds - stages.pop("main")
    return {"seconds": seconds, "cpu_s": cpu, "stages": stages}


def cached_build(root: Path, out: Path, *extra: str) -> Path:
    """``out`` built from ``root`` (with ``extra`` options) unless a finished build with them is there."""
    marker = out / BENCH_MARKER  # on the audit's list of what may lie in a build's output
    stamp = json.dumps([str(root), *extra])
    if not (out / "manifest.json").is_file() or not marker.is_file() or marker.read_text() != stamp:
        build(root, out, *extra)
        marker.write_text(stamp)
    return out


def written_clips(out: Path) -> int:
    """Clips a build wrote (rows of clips.csv with status ``written``)."""
    import pandas as pd

    clips = pd.read_csv(out / "clips.csv", usecols=["status"])
    return int((clips.status == "written").sum())


def cpu_seconds() -> float:
    """User + system CPU time of this process and of its reaped children (decoders, builds), seconds."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def interleaved(sides: dict[str, Callable[[Any], int]], items: Sequence[Any] = (None,),
                repeats: int = 3) -> dict[str, dict]:
    """Time each side on each item ``repeats`` times, alternating sides item by item (A, B, A, B, ...).

    Each call returns the units it processed (frames, clips). Per side and item the fastest of the
    repeats counts, so a burst of load from elsewhere that slows one run does not decide the ratio.
    Returns per side: ``units`` (one pass over the items), ``seconds`` (sum of the per-item best),
    ``rate`` (units/s), ``passes`` (every pass's total seconds) and ``cpu_s`` (CPU seconds of a pass,
    this process and its children, mean over the passes).
    """
    best: dict[str, list[float]] = {name: [math.inf] * len(items) for name in sides}
    units = {name: [0] * len(items) for name in sides}
    passes = {name: [0.0] * max(1, repeats) for name in sides}
    cpu = dict.fromkeys(sides, 0.0)
    for r in range(max(1, repeats)):
        for i, item in enumerate(items):
            for name, fn in sides.items():
                c0, t0 = cpu_seconds(), time.perf_counter()
                units[name][i] = fn(item)
                dt = time.perf_counter() - t0
                cpu[name] += cpu_seconds() - c0
                best[name][i] = min(best[name][i], dt)
                passes[name][r] += dt
    return {name: {"units": sum(units[name]), "seconds": sum(best[name]), "rate": sum(units[name]) / sum(best[name]),
                   "passes": [round(s, 4) for s in passes[name]], "cpu_s": cpu[name] / max(1, repeats)}
            for name in sides}


def timing_detail(res: dict[str, dict]) -> dict:
    """The JSON detail of an :func:`interleaved` result, plus ``cpu_ratio``: CPU seconds per unit of the
    second side ÷ of the first (what the speed ratio would be on idle cores if CPU were the limit)."""
    (a, ra), (b, rb) = list(res.items())[:2]
    out: dict = {name: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
                 for name, r in res.items()}
    out["cpu_ratio"] = (rb["cpu_s"] / max(rb["units"], 1)) / max(ra["cpu_s"] / max(ra["units"], 1), 1e-12)
    return out


def load_average() -> list[float] | None:
    """1/5/15-minute load averages (None where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None
