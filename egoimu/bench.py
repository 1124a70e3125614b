"""``egoimu bench``: speed and memory as ratios against a baseline measured in the same command.

Every figure is a ratio of two runs made here, one after the other, on data the command generates and
caches (``--cache``, default ``.bench/``), so a shared, noisy machine changes both sides alike. No
figure is an absolute time compared with a threshold in a test.

Figures so far:
- ``storage``: shard size, read speed and PSNR of the raw, lossless and JPEG video encodings.
- ``memory``: peak RSS of a worker building a 10-minute video ÷ a 1-minute video (streaming decode
  keeps it flat).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

FIGURES = ("storage", "memory")


def _synth(cache: Path, name: str, **fields) -> Path:
    """Generate (once) a synthetic EPIC set under ``cache/name`` and return its root."""
    from pipeline.synth.epic import SynthEpicConfig, generate_epic

    root = cache / name
    marker = root / ".complete"
    if not marker.exists():
        generate_epic(root, SynthEpicConfig(**fields), workers=2)
        marker.write_text("ok")
    return root


def _build(root: Path, out: Path, *extra: str) -> Path:
    from pipeline.build import main as build_main

    if not (out / "manifest.json").exists():
        rc = build_main([str(root), str(out), "--workers", "2", "--quiet", *([] if not out.exists() else
                                                                             ["--resume"]), *extra])
        if rc:
            raise RuntimeError(f"build of {root} into {out} failed ({rc})")
    return out


def bench_storage(cache: Path) -> dict:
    """Bytes per clip, clips/s read (JPEG decoded) and PSNR vs raw for each video encoding."""
    import h5py
    import simplejpeg

    from manifests.shardfmt import read_clip, split_jpeg_frames

    root = _synth(cache, "storage-src", participants=3, videos_per_participant=1, seconds=30.0, seed=21)
    table: dict[str, dict] = {}
    ref: dict[tuple[str, int], np.ndarray] = {}
    for enc in ("raw", "lossless", "jpeg"):
        out = _build(root, cache / f"storage-{enc}", "--encoding", enc, "--clips-per-shard", "32")
        shards = sorted((out / "shards").rglob("*.h5"))
        nbytes = sum(p.stat().st_size for p in shards)
        n, se, t0 = 0, [], time.perf_counter()
        for path in shards:
            with h5py.File(path, "r") as h5:
                for row in range(h5["imu"].shape[0]):
                    rec = read_clip(h5, row)
                    if enc == "jpeg":
                        frames = split_jpeg_frames(rec["video_jpeg"], rec["video_jpeg_offsets"])
                        video = np.stack([simplejpeg.decode_jpeg(f, colorspace="RGB") for f in frames])
                    else:
                        video = rec["video"]
                    key = (path.name, row)
                    if enc == "raw":
                        ref[key] = video
                    else:
                        se.append(np.mean((video.astype(np.float64) - ref[key]) ** 2))
                    n += 1
        seconds = time.perf_counter() - t0
        mse = float(np.mean(se)) if se else 0.0
        table[enc] = {"clips": n, "bytes_per_clip": nbytes / n, "read_clips_per_s": n / seconds,
                      "psnr_db": float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse)}
    raw = table["raw"]
    for row in table.values():
        row["size_ratio_vs_raw"] = raw["bytes_per_clip"] / row["bytes_per_clip"]
        row["read_speed_vs_raw"] = row["read_clips_per_s"] / raw["read_clips_per_s"]
    return {"storage": table, "jpeg_size_ratio": table["jpeg"]["size_ratio_vs_raw"],
            "jpeg_psnr_db": table["jpeg"]["psnr_db"]}


_RSS_SCRIPT = """
import json, resource, sys
from pathlib import Path
from pipeline.config import BuildConfig
from pipeline.plan import place_clips, rows_from_sources, shard_tasks, with_splits
from pipeline.recordings import RecordingTask, probe_recording
from pipeline.shard_writer import build_shard
from pipeline.sources.epic import find_recording, read_annotations
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


def bench_memory(cache: Path) -> dict:
    """Peak RSS of one worker process building every shard of a 10-min vs a 1-min video (456x256)."""
    res = {}
    for minutes in (1, 10):
        root = _synth(cache, f"memory-{minutes}min", participants=1, videos_per_participant=1,
                      seconds=60.0 * minutes, seed=31)
        out = cache / f"memory-{minutes}min-out"
        proc = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(root), str(out)], capture_output=True,
                              text=True, timeout=3600)
        if proc.returncode:
            raise RuntimeError(f"memory run failed:\n{proc.stderr[-3000:]}")
        res[f"{minutes}min"] = json.loads(proc.stdout.strip().splitlines()[-1])
    ratio = res["10min"]["maxrss_kb"] / res["1min"]["maxrss_kb"]
    return {"memory": res, "worker_rss_10min_vs_1min": ratio}


def main(argv: list[str] | None = None) -> int:
    """Run the chosen figures and print a table; ``--json FILE`` writes the figures."""
    p = argparse.ArgumentParser(prog="egoimu bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("figures", nargs="*", choices=[*FIGURES, "all"], default=["all"], metavar="FIGURE",
                   help=f"which figures: {', '.join(FIGURES)} or all (default)")
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--cache", type=Path, default=Path(".bench"), help="generated data (reused)")
    args = p.parse_args(argv)
    chosen = FIGURES if "all" in args.figures else tuple(dict.fromkeys(args.figures))
    args.cache.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": {"cpus": __import__("os").cpu_count()}}
    for name in chosen:
        t0 = time.perf_counter()
        print(f"[bench] {name} ...", file=sys.stderr)
        results.update(globals()[f"bench_{name}"](args.cache.resolve()))
        results.setdefault("seconds", {})[name] = round(time.perf_counter() - t0, 1)
    _print(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


def _print(results: dict) -> None:
    if "storage" in results:
        print("| encoding | bytes/clip | size vs raw | read clips/s | read speed vs raw | PSNR dB |")
        print("|---|---:|---:|---:|---:|---:|")
        for enc, r in results["storage"].items():
            print(f"| {enc} | {r['bytes_per_clip'] / 1e6:.2f} MB | {r['size_ratio_vs_raw']:.2f}x | "
                  f"{r['read_clips_per_s']:.1f} | {r['read_speed_vs_raw']:.2f} | {r['psnr_db']:.1f} |")
    if "memory" in results:
        m = results["memory"]
        print(f"worker peak RSS: 1-min video {m['1min']['maxrss_kb'] / 1024:.0f} MiB ({m['1min']['clips']} clips), "
              f"10-min video {m['10min']['maxrss_kb'] / 1024:.0f} MiB ({m['10min']['clips']} clips): "
              f"ratio {results['worker_rss_10min_vs_1min']:.3f}")
