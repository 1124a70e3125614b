"""``build_vs_decode_floor``: a whole ``egoimu build`` against the least any build must do, decoding once.

Numerator: the wall time of a whole ``egoimu build`` (interpreter start, cluster, probe, shards, manifests;
2 workers, raw shards, ``--ssl-windows off``, ``--sync assumed``) of a set with one 1920x1080 50 fps H.264
video per entry of ``Sizes.floor_videos`` (``Sizes.floor_minutes`` each: 2 x 1 minute at full size), made
like the long set (:func:`egoimu.bench.long_data.long_1080p50_root`: rendered small, re-encoded at full size)
and replaying the real ``EPIC_100_uda_target_val.csv`` segments of P03_106 and P03_108 (20 and 19 in their
first minute: EPIC's density of ~19.5 a minute, 2 s clips, overlapping). Denominator, the decode floor: bare
ffmpeg decoding each video once whole with the video stage's own filters (``fps``, the bilinear short-side
scale, the centre crop: :func:`egoimu.bench.fig_decode.stage_filter`), rgb24 into a pipe that is read and
discarded, the videos run concurrently on as many processes as the build has workers, with the stage's
decoder threads. Floor and build alternate ``Sizes.repeats - 1`` times (at least once); each side's best
run counts.
Goal: <= 1.3. The JSON's ``floor`` holds both sides' seconds and CPU seconds and the best build's per-stage
profile (``stages_s``, from ``$EGOIMU_STAGE_TIMES``), so the gap can be placed.

Group ``build``, so in ``all`` (the issue asks for it there): at full size its data (2 x 3,000 1080p frames,
rendered at 480x270 and re-encoded) takes ~2-3 minutes to make once (cached in ``.bench/``), and each run is
two floors and two builds of 2 minutes of 1080p50 (``Sizes.repeats`` - 1 each, as ``dask`` does), ~1 minute
at load 2 (~1.5 at load 5-7) beside ``all``'s ~10 minutes. The 10-minute set of ``long`` would make every
run ~5 times longer.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from egoimu.bench.common import Sizes, build, interleaved, written_clips
from egoimu.bench.fig_decode import drain, ffmpeg_baseline_argv
from egoimu.bench.fig_sync_cost import BUILD_OPTIONS, BUILD_WORKERS
from egoimu.bench.long_data import long_1080p50_root


def floor_root(cache: Path, size: Sizes) -> tuple[Path, list[Path]]:
    """(root, its IMU videos' MP4 paths) of the cached floor set of a bench size."""
    root = long_1080p50_root(cache, size.floor_minutes, size.long_width, size.long_height, size.long_render_scale,
                             like_videos=size.floor_videos)
    return root, sorted(root.glob("P*/videos/P*_1*.MP4"))


def decode_floor(videos: list[Path], cfg, infos: list, processes: int) -> int:
    """Bare ffmpeg decoding every video of ``videos`` once whole (``cfg``: VideoConfig, ``infos``: their
    VideoInfo), at most ``processes`` at a time; returns the frames delivered (all videos)."""
    with ThreadPoolExecutor(processes) as pool:
        sizes = pool.map(lambda vi: drain(ffmpeg_baseline_argv(vi[0], None, cfg, vi[1]), str(vi[0])),
                         zip(videos, infos))
        return sum(sizes) // (cfg.geometry.frame_size ** 2 * 3)


def bench_build_vs_decode_floor(cache: Path, size: Sizes) -> dict:
    """``build_vs_decode_floor``: wall time of a whole build ÷ the decode floor of the same videos."""
    import shutil

    from egoimu.pipeline.video import VideoConfig, probe_video

    root, videos = floor_root(cache, size)
    cfg = VideoConfig()
    infos = [probe_video(v) for v in videos]
    out = cache / f"{size.name}-floor-build"
    builds: list[dict] = []
    clips = 0

    def one_build(_: object) -> int:
        nonlocal clips
        builds.append(build(root, out, *BUILD_OPTIONS, workers=BUILD_WORKERS))
        clips = written_clips(out)
        return clips

    try:
        res = interleaved({"floor": lambda _: decode_floor(videos, cfg, infos, BUILD_WORKERS), "build": one_build},
                          repeats=max(1, size.repeats - 1))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    best = min(builds, key=lambda b: b["seconds"])
    floor_s, build_s = res["floor"]["seconds"], best["seconds"]  # the build's own timing (command only)
    return {"build_vs_decode_floor": build_s / floor_s,
            "floor": {"videos": [f"{i.width}x{i.height} {i.codec} {i.fps} fps, {i.n_frames} frames" for i in infos],
                      "replays": list(size.floor_videos), "clips_written": clips, "frames_out": res["floor"]["units"],
                      "processes": BUILD_WORKERS, "decoder_threads": cfg.threads,
                      "floor_s": floor_s, "floor_runs_s": res["floor"]["passes"], "floor_cpu_s": res["floor"]["cpu_s"],
                      "build_s": build_s, "build_runs_s": [round(b["seconds"], 3) for b in builds],
                      "build_cpu_s": best["cpu_s"], "stages_s": best["stages"],
                      "build_options": [*BUILD_OPTIONS, "--ssl-windows", "off"], "build_workers": BUILD_WORKERS,
                      "root": str(root)}}
