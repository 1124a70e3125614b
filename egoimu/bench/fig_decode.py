"""Decode figures: egoimu's video stage against bare ffmpeg, and merged against per-clip decoding.

Both run on one synthetic video shaped like the EPIC-KITCHENS-100 extension's (1920x1080 H.264, 50 fps,
keyframe every 50 frames = 1 s, GoPro-like, AAC track) whose segments replay the timings of the real
``EPIC_100_uda_target_val.csv`` (``egoimu synth epic --like``).
"""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

from egoimu.bench.common import Sizes, interleaved, like_fields, synth, timing_detail


def hd_video(cache: Path, size: Sizes) -> tuple[Path, Path]:
    """(dataset root, MP4 path) of the cached EPIC-extension-like video."""
    root = synth(cache, f"{size.name}-hd", participants=1, videos_per_participant=1, seconds=size.hd_seconds,
                 width=size.hd_width, height=size.hd_height, fps="50", seed=41, **like_fields())
    videos = sorted(p for p in root.glob("P*/videos/P*_1*.MP4"))
    return root, videos[0]


def spaced_windows(n_frames: int, fps: Fraction, n: int, window_s: int = 2, gap_s: float = 1.5) -> list[Fraction]:
    """Up to ``n`` clip starts on the 1/24 s grid, spread over the video and at least ``window_s + gap_s``
    apart (farther than the merge gap: each window is its own decode run, as in the ffmpeg baseline)."""
    from egoimu.pipeline.video import snap_to_grid

    usable = float(Fraction(n_frames) / fps) - window_s - 0.5
    n = max(1, min(n, int(usable // (window_s + gap_s)) + 1))
    stride = usable / max(n - 1, 1) if n > 1 else 0.0
    return [snap_to_grid(0.25 + k * stride) for k in range(n)]


def stage_filter(cfg, info) -> str:
    """The ffmpeg filter chain of the video stage's work on ``info``'s video (``cfg``: VideoConfig): ``fps``
    frame selection at the clip rate, then the stage's own bilinear short-side scale and centre crop, rgb24."""
    from egoimu.pipeline._video_child import scale_crop_filter
    from egoimu.pipeline.video import resize_geometry

    side = cfg.geometry.frame_size
    rw, rh, cx, cy = resize_geometry(info.width, info.height, cfg.resize_short_side, side)
    return f"fps={cfg.geometry.fps},{scale_crop_filter((rw, rh), (cx, cy, side))}"


def ffmpeg_baseline_argv(path: Path, start_s: Fraction | None, cfg, info) -> list[str]:
    """Bare ffmpeg doing the same work for one window (``start_s``, s; ``cfg.geometry.frames`` frames out) or,
    with ``start_s`` None, for the whole video: decode, :func:`stage_filter`, rgb24 on a pipe.
    ``cfg``/``info``: VideoConfig/VideoInfo."""
    from egoimu.pipeline.ffmpeg_bin import ffmpeg_exe

    threads = str(cfg.threads)
    seek = [] if start_s is None else ["-ss", f"{float(start_s):.6f}"]
    frames = [] if start_s is None else ["-frames:v", str(cfg.geometry.frames)]
    return [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-threads", threads, *seek,
            "-i", str(path), "-map", "0:V:0", "-an", "-sn", "-dn", "-filter_threads", threads,
            "-vf", stage_filter(cfg, info), *frames, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]


def drain(argv: list[str], what: str) -> int:
    """Run ``argv``, reading and discarding its stdout; returns the bytes read. RuntimeError if it fails."""
    buf = bytearray(1 << 20)
    total = 0
    with subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL) as proc:
        while n := proc.stdout.readinto(buf):
            total += n
    if proc.returncode:
        raise RuntimeError(f"baseline ffmpeg failed on {what} (exit {proc.returncode})")
    return total


def run_ffmpeg_baseline(path: Path, starts: list[Fraction], cfg, info) -> int:
    """Run the baseline for every window, reading and discarding its output; returns frames delivered."""
    total = sum(drain(ffmpeg_baseline_argv(path, start, cfg, info), f"{path} at {start} s") for start in starts)
    return total // (cfg.geometry.frame_size ** 2 * 3)


def _frames(decoded) -> int:
    """Frames delivered by a decode_clips iterator (it must deliver every clip)."""
    n = 0
    for _, frames in decoded:
        n += len(frames)
    return n


def bench_decode_vs_ffmpeg(cache: Path, size: Sizes) -> dict:
    """``decode_vs_ffmpeg``: frames/s of ``decode_clips`` on isolated windows ÷ bare ffmpeg on the same."""
    from egoimu.pipeline.video import VideoConfig, decode_clips, probe_video

    _, path = hd_video(cache, size)
    cfg = VideoConfig()
    info = probe_video(path)
    starts = spaced_windows(info.n_frames, info.fps, size.decode_windows)
    res = interleaved({"egoimu": lambda s: _frames(decode_clips(path, [s], cfg, info)),
                       "ffmpeg": lambda s: run_ffmpeg_baseline(path, [s], cfg, info)}, starts, size.repeats)
    if res["egoimu"]["units"] != res["ffmpeg"]["units"]:
        raise RuntimeError(f"frame counts differ: egoimu {res['egoimu']['units']}, ffmpeg {res['ffmpeg']['units']}")
    return {"decode_vs_ffmpeg": res["egoimu"]["rate"] / res["ffmpeg"]["rate"],
            "decode": {"video": f"{info.width}x{info.height} {info.codec} {info.fps} fps, {info.n_frames} frames",
                       "windows": len(starts), "frames": res["egoimu"]["units"], "decoder_threads": cfg.threads,
                       **timing_detail(res)}}


def segment_windows(root: Path, video: Path, info) -> list[Fraction]:
    """Clip starts the build places for the video's annotated segments (centred, snapped, clamped)."""
    from egoimu.pipeline.clips import ClipConfig, segment_clip_start
    from egoimu.pipeline.sources.epic import read_annotations

    segments, _ = read_annotations(root / "EPIC_100_train.csv")
    starts = [segment_clip_start(s.start_s, s.stop_s, info.n_frames, info.fps, ClipConfig())
              for s in segments if s.video_id == video.stem]
    return sorted(s for s in starts if isinstance(s, Fraction))


def overlap_share(starts: list[Fraction], window_s: int = 2) -> float:
    """Share of clip windows ``[s, s + window_s)`` that overlap at least one other window."""
    ordered = sorted(starts)
    hit = [False] * len(ordered)
    for i in range(1, len(ordered)):
        if ordered[i] - ordered[i - 1] < window_s:
            hit[i] = hit[i - 1] = True
    return sum(hit) / len(ordered) if ordered else 0.0


def bench_merged_vs_per_clip(cache: Path, size: Sizes) -> dict:
    """``merged_vs_per_clip``: clips/s of merged-window decoding ÷ one decode per clip, on replayed timings."""
    from egoimu.pipeline.video import VideoConfig, decode_clips, decode_clips_per_clip, probe_video

    root, path = hd_video(cache, size)
    cfg = VideoConfig()
    info = probe_video(path)
    starts = segment_windows(root, path, info)
    if not starts:
        raise RuntimeError(f"{root}: no clip windows for {path.stem}")
    n = cfg.geometry.frames
    res = interleaved({"merged": lambda _: _frames(decode_clips(path, starts, cfg, info)) // n,
                       "per_clip": lambda _: _frames(decode_clips_per_clip(path, starts, cfg, info)) // n},
                      repeats=size.repeats)
    share = overlap_share(starts)
    return {"merged_vs_per_clip": res["merged"]["rate"] / res["per_clip"]["rate"], "merged_overlap_share": share,
            "merge": {"video": f"{info.width}x{info.height} {info.fps} fps, keyframe every {round(info.fps)} frames",
                      "timings": like_fields().get("like_csv", "generator's own segments"),
                      "clips": len(starts), "overlap_share": share, "merge_gap_s": cfg.merge_gap_s,
                      **timing_detail(res)}}
