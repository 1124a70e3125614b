"""Build figures: Dask parallel efficiency, storage (encodings) and worker memory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from egoimu.bench.common import Sizes, build, cached_build, like_fields, synth, written_clips


def build_source(cache: Path, size: Sizes) -> Path:
    """Synthetic set for the build and load figures: replayed EPIC timings, 456x256, 50 fps."""
    return synth(cache, f"{size.name}-build-src", participants=size.build_participants, videos_per_participant=1,
                 seconds=size.build_seconds, seed=7, **like_fields())


def bench_dask_parallel_efficiency(cache: Path, size: Sizes) -> dict:
    """``dask_parallel_efficiency``: clips/s of ``egoimu build`` with 2 workers ÷ (2 × with 1 worker).

    Whole commands (interpreter start, cluster, probe, shards, manifests), raw encoding, one decoder
    thread per worker (the default), runs alternated; the best run of each side counts. The details
    add the same ratio for the shard stage alone and ``ceiling``: cpus ÷ (2 × the cores one worker's
    build keeps busy), the most the ratio can be on this machine.
    """
    root = build_source(cache, size)
    out = cache / f"{size.name}-build-timing"
    extra = ("--clips-per-shard", str(size.clips_per_shard))
    runs: dict[int, list[dict]] = {1: [], 2: []}
    clips = 0
    try:
        for _ in range(max(1, size.repeats - 1)):
            for workers in (1, 2):
                runs[workers].append(build(root, out, *extra, workers=workers))
                clips = written_clips(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    best = {w: min(r, key=lambda x: x["seconds"]) for w, r in runs.items()}
    stage = {w: min(x["stages"]["shards"] for x in r) for w, r in runs.items()}
    busy = best[1]["cpu_s"] / best[1]["seconds"]
    return {"dask_parallel_efficiency": best[1]["seconds"] / (2 * best[2]["seconds"]),
            "dask": {"clips": clips, "clips_per_shard": size.clips_per_shard, "decoder_threads_per_worker": 1,
                     "clips_per_s": {w: clips / b["seconds"] for w, b in best.items()},
                     "shard_stage_efficiency": stage[1] / (2 * stage[2]), "cores_busy_1_worker": busy,
                     "ceiling": min(1.0, (os.cpu_count() or 1) / (2 * busy)),
                     "runs": {w: [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in x.items()} for x in r]
                              for w, r in runs.items()}}}


def _decoded_video(rec: dict, encoding: str) -> np.ndarray:
    """The clip's frames (48, S, S, 3) uint8 from a ``read_clip`` record."""
    if encoding != "jpeg":
        return rec["video"]
    import simplejpeg

    from egoimu.manifests.shardfmt import split_jpeg_frames

    frames = split_jpeg_frames(rec["video_jpeg"], rec["video_jpeg_offsets"])
    return np.stack([simplejpeg.decode_jpeg(f, colorspace="RGB") for f in frames])


def bench_storage(cache: Path, size: Sizes) -> dict:
    """Bytes per clip, clips/s read (JPEG decoded) and PSNR vs raw for each video encoding."""
    import h5py

    from egoimu.manifests.shardfmt import read_clip

    root = synth(cache, f"{size.name}-storage-src", participants=size.storage_participants,
                 videos_per_participant=1, seconds=size.storage_seconds, seed=21)
    table: dict[str, dict] = {}
    ref: dict[tuple[str, int], np.ndarray] = {}
    for enc in ("raw", "lossless", "jpeg"):
        out = cached_build(root, cache / f"{size.name}-storage-{enc}", "--encoding", enc, "--clips-per-shard", "32")
        shards = sorted((out / "shards").rglob("*.h5"))
        nbytes = sum(p.stat().st_size for p in shards)
        n, se, t0 = 0, [], time.perf_counter()
        for path in shards:
            with h5py.File(path, "r") as h5:
                for row in range(h5["imu"].shape[0]):
                    video = _decoded_video(read_clip(h5, row), enc)
                    key = (path.name, row)
                    if enc == "raw":
                        ref[key] = video
                    else:
                        se.append(np.mean((video.astype(np.float64) - ref[key]) ** 2))
                    n += 1
        seconds = time.perf_counter() - t0
        mse = float(np.mean(se)) if se else 0.0
        table[enc] = {"clips": n, "bytes_per_clip": nbytes / n, "read_clips_per_s": n / seconds,
                      "psnr_db": float("inf") if mse == 0 else float(10 * np.log10(255 ** 2 / mse))}
    raw = table["raw"]
    for row in table.values():
        row["size_ratio_vs_raw"] = raw["bytes_per_clip"] / row["bytes_per_clip"]
        row["read_speed_vs_raw"] = row["read_clips_per_s"] / raw["read_clips_per_s"]
    return {"storage": table, "jpeg_size_ratio": table["jpeg"]["size_ratio_vs_raw"],
            "jpeg_psnr_db": table["jpeg"]["psnr_db"]}


_RSS_SCRIPT = """
import json, resource, sys
from pathlib import Path
from egoimu.pipeline.config import BuildConfig
from egoimu.pipeline.plan import place_clips, rows_from_sources, shard_tasks, with_splits
from egoimu.pipeline.recordings import RecordingTask, probe_recording
from egoimu.pipeline.shard_writer import build_shard
from egoimu.pipeline.sources.epic import find_recording, read_annotations
root, out = Path(sys.argv[1]), Path(sys.argv[2])
cfg = BuildConfig()
segs, rej = read_annotations(root / "EPIC_100_train.csv")
rows = rows_from_sources(segs, rej)
vid = sorted({r.video_id for r in rows})[0]
f = find_recording(root, vid)
rec = probe_recording(RecordingTask(vid, f.participant_id, f.video, f.accl, f.gyro), str(root), cfg.video, cfg.imu)
rows = [r for r in rows if r.video_id == vid]
rows = with_splits(place_clips(rows, {vid: rec}, cfg.clip, {}), {f.participant_id: "train"})
n = 0
for task in shard_tasks(rows, {vid: rec}, cfg):
    n += build_shard(task, str(root), str(out), cfg, "bench").n_clips
print(json.dumps({"clips": n, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def bench_memory(cache: Path, size: Sizes) -> dict:
    """``worker_rss_10min_vs_1min``: peak RSS of one worker process (the Dask workers' environment)
    probing and building every shard of a long vs a short video (456x256; 10 vs 1 minute at full size)."""
    from egoimu.pipeline.graph import WORKER_ENV

    res = {}
    for seconds in size.memory_seconds:
        minutes = f"{seconds / 60:g}min"
        root = synth(cache, f"{size.name}-memory-{minutes}", participants=1, videos_per_participant=1,
                     seconds=seconds, seed=31)
        out = cache / f"{size.name}-memory-{minutes}-out"
        shutil.rmtree(out, ignore_errors=True)
        proc = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(root), str(out)], capture_output=True,
                              text=True, timeout=3600, env={**os.environ, **WORKER_ENV})
        shutil.rmtree(out, ignore_errors=True)
        if proc.returncode:
            raise RuntimeError(f"memory run failed:\n{proc.stderr[-3000:]}")
        res[minutes] = {"seconds": seconds, **json.loads(proc.stdout.strip().splitlines()[-1])}
    short, long = (res[f"{s / 60:g}min"] for s in size.memory_seconds)
    return {"memory": res, "worker_rss_10min_vs_1min": long["maxrss_kb"] / short["maxrss_kb"]}
