"""``sync_auto_cost``: the time ``egoimu build --sync auto`` adds to a build, as a share of the build.

Numerator: :func:`egoimu.pipeline.sync_estimate.measure_sync` — the call the probe task makes for a recording
under ``--sync auto`` (decoding its windows, then the estimate) — on the long set's video
(:mod:`egoimu.bench.long_data`; 10 minutes of 1920x1080 50 fps H.264 at full size), with the probe's own
inputs (the gyroscope read and timed, the assumed model) and in the Dask workers' environment (one thread
for numeric libraries; the decoder's threads as configured), in a process of its own. Runs before and after
the build; the fastest counts. Denominator: the wall time of a whole ``egoimu build`` of the same root
(2 workers, raw shards, ``--sync assumed``). Goal: <= 0.15.

:func:`main` (``python -c "from egoimu.bench.fig_sync_cost import main; main()" ROOT VIDEO_ID RUNS``) prints the
JSON of :func:`time_sync`.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from egoimu.bench.common import Sizes, build, written_clips
from egoimu.bench.long_data import long_root

BUILD_OPTIONS = ("--encoding", "raw", "--sync", "assumed")
BUILD_WORKERS = 2


def time_sync(root: Path, video_id: str, runs: int) -> dict:
    """``measure_sync`` on ``video_id`` of ``root`` as the probe calls it, ``runs`` times (``seconds``: each
    run's wall time), then once split into its two steps (``decode_s``: decoding the windows, ``estimate_s``);
    with the estimate's outcome (windows, kept, used, confidence, peak r, the reason when not used)."""
    from egoimu.pipeline.config import BuildConfig
    from egoimu.pipeline.imu_source import CSV, imu_config, read_imu
    from egoimu.pipeline.imu_timing import prepare_stream, sync_for_video
    from egoimu.pipeline.sources.epic import find_recording
    from egoimu.pipeline.sync_estimate import auto_windows, decode_windows, estimate_offset, measure_sync, window_starts
    from egoimu.pipeline.video import probe_video

    cfg = BuildConfig()
    files = find_recording(root, video_id)
    vpath = root / files.video
    info = probe_video(vpath, timeout_s=cfg.video.timeout_s)
    duration = info.n_frames / float(info.fps)
    gyro = prepare_stream(read_imu(root / files.gyro, "gyro"), imu_config(CSV, cfg.imu))
    assumed = sync_for_video(video_id, {"gyro": gyro}, duration, None, cfg.imu)["gyro"]
    seconds, cpu, est = [], [], None
    for _ in range(max(1, runs)):
        c0, t0 = _cpu(), time.perf_counter()
        est = measure_sync(vpath, info, gyro, assumed, cfg.video)
        seconds.append(time.perf_counter() - t0)
        cpu.append([b - a for a, b in zip(c0, _cpu())])
    g = cfg.geometry
    t0 = time.perf_counter()
    windows = decode_windows(vpath, info, window_starts(duration, auto_windows(duration), g), cfg.video)
    t1 = time.perf_counter()
    split = estimate_offset(windows, gyro, assumed, out_fps=g.fps)
    t2 = time.perf_counter()
    if split != est:
        raise RuntimeError(f"{vpath}: measure_sync and its two steps disagree: {est} vs {split}")
    return {"video": f"{info.width}x{info.height} {info.codec} {info.fps} fps, {info.n_frames} frames "
                     f"({duration:.1f} s)",
            "seconds": seconds, "cpu_s": [sum(c) for c in cpu], "decoder_cpu_s": [c[1] for c in cpu],
            "decode_s": t1 - t0, "estimate_s": t2 - t1,
            "windows": est.windows, "windows_planned": auto_windows(duration), "kept": est.kept, "used": est.used,
            "confidence": est.confidence, "peak_r": est.peak_r, "reason": est.reason,
            "offset_change_ms": round(est.offset_change_s * 1000.0, 3), "scale_change": est.scale_change}


def _cpu() -> tuple[float, float]:
    """(CPU seconds of this process, of its reaped children: the decoders)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def run_time_sync(root: Path, video_id: str, runs: int) -> dict:
    """:func:`time_sync` in a fresh process with the Dask workers' environment."""
    from egoimu.pipeline.graph import WORKER_ENV

    proc = subprocess.run([sys.executable, "-c", "from egoimu.bench.fig_sync_cost import main; main()",
                           str(root), video_id, str(runs)],
                          capture_output=True, text=True, timeout=3600, stdin=subprocess.DEVNULL,
                          env={**os.environ, **WORKER_ENV})
    if proc.returncode:
        raise RuntimeError(f"sync timing failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_sync_auto_cost(cache: Path, size: Sizes) -> dict:
    """``sync_auto_cost``: best :func:`time_sync` run ÷ the wall time of a whole build of the long set."""
    root, video_id = long_root(cache, size)
    out = cache / f"{size.name}-sync-cost-build"
    runs = max(2, size.sync_cost_repeats)
    try:
        before = run_time_sync(root, video_id, 1)
        built = build(root, out, *BUILD_OPTIONS, workers=BUILD_WORKERS)
        clips = written_clips(out)
        after = run_time_sync(root, video_id, runs - 1)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    seconds, cpu = before["seconds"] + after["seconds"], before["cpu_s"] + after["cpu_s"]
    best = min(range(len(seconds)), key=seconds.__getitem__)
    decoder_cpu = (before["decoder_cpu_s"] + after["decoder_cpu_s"])[best]
    detail = {k: v for k, v in after.items() if k not in ("seconds", "cpu_s", "decoder_cpu_s")}
    return {"sync_auto_cost": seconds[best] / built["seconds"],
            "sync_cost": {**detail, "sync_s": seconds[best], "sync_runs_s": [round(s, 3) for s in seconds],
                          "sync_cpu_s": cpu[best], "sync_decoder_cpu_s": decoder_cpu,
                          "cpu_ratio": cpu[best] / built["cpu_s"],
                          "build_s": built["seconds"], "build_cpu_s": built["cpu_s"],
                          "build_stages_s": built["stages"], "build_options": [*BUILD_OPTIONS],
                          "build_workers": BUILD_WORKERS, "clips_written": clips,
                          "root": str(root), "video_id": video_id}}


def main(argv: list[str] | None = None) -> int:
    """Arguments ``ROOT VIDEO_ID RUNS`` (``argv``, else the command line's): print :func:`time_sync`'s JSON."""
    root, video_id, runs = (argv if argv is not None else sys.argv[1:])
    print(json.dumps(time_sync(Path(root), video_id, int(runs))))
    return 0
