"""``egoimu synth dogcentric OUT``: a DogCentric-Activity-style dataset (video only, no IMU).

Layout (see /work/shared/data/README.md): one folder per activity, clips named
``<Activity>_<Dog>_<recording>_<startFrame>_<endFrame>.avi``; a clip holds frames
[startFrame, endFrame) of its recording. ``--layout public`` names the look folders ``Left``/``Right``,
``--layout raw`` names them ``Look_at_Left``/``Look_at_Right``; ``--glitches`` adds the raw release's
``Turn_Right/`` duplicate, ``Thumbs.db``, ``info.txt`` and one ``Shake__Ku_...`` file name.

Each clip is rendered from a camera on a dog's back (low viewpoint) in an outdoor, street, indoor or
car scene, and its camera motion follows the activity: Walk moves forward with a gait bob, Shake
oscillates in roll, LookLeft/LookRight yaw left/right and back, Car vibrates, Drink/Feed/Sniff pitch
down, Pet/Ball (Play) mix. Axes and signs follow docs/conventions.md: yaw left moves content right
(+u), pitch up moves content down (+v), a clockwise roll rotates content counter-clockwise.
``OUT/synth_truth.json`` holds the config, its sha256 and every clip's activity, dog and motion
parameters. Same config and seed -> byte-identical files (on one machine and ffmpeg build).

This module plans, encodes and writes the clips; the scenes and the renderer are in
:mod:`egoimu.pipeline.synth.dog_scene`, the camera motion per activity in :mod:`egoimu.pipeline.synth.dog_motion`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import multiprocessing
import os
import shutil
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from egoimu.manifests.clihelp import HelpFormatter, OneLineParser, out_folder_problem
from egoimu.manifests.files import atomic_write
from egoimu.pipeline.ffmpeg_bin import ffmpeg_exe
from egoimu.pipeline.sources.dogcentric import ACTIVITIES, DOGS, HEAD_MOTION_ACTIVITIES
from egoimu.pipeline.synth import scene
from egoimu.pipeline.synth.dog_motion import ACTIVITY_SIGNALS, motion
from egoimu.pipeline.synth.dog_scene import SCENES, make_scene, render_frame
from egoimu.pipeline.synth.encode import FrameWriter
from egoimu.pipeline.synth.truth import sha256_text

# Activity (= file prefix) -> folder, where the folder is named otherwise (README: DogCentric).
FOLDERS = {"public": {"LookLeft": "Left", "LookRight": "Right", "Ball": "Play"},
           "raw": {"LookLeft": "Look_at_Left", "LookRight": "Look_at_Right", "Ball": "Play"}}


@dataclass(frozen=True)
class SynthDogConfig:
    seed: int = 0  # ours
    # ours: K clips per dog for each of the paper's four activities; each of the other six gets K in all
    clips_per_activity: int = 2
    width: int = 320  # ours (even)
    height: int = 240  # ours (even)
    fps: int = 30  # ours
    min_seconds: float = 2.0  # ours: clip length range
    max_seconds: float = 6.0  # ours
    layout: str = "public"  # ours: "public" (Left/Right folders) or "raw" (Look_at_Left/Look_at_Right)
    glitches: bool = False  # ours: the raw release's glitches (Turn_Right/, Thumbs.db, info.txt, Shake__)
    codec: str = "mpeg4"  # ours: "mpeg4" (XVID tag) or "mjpeg", in .avi
    quality: int = 4  # ours: ffmpeg -q:v
    render_scale: int = 2  # ours: frames rendered at 1/render_scale of the size; ffmpeg upscales (bicubic)
    hfov_deg: float = 90.0  # ours: horizontal field of view of the back-mounted camera
    camera_height_m: tuple[float, float] = (0.35, 0.55)  # ours: camera height above the ground, range

    def __post_init__(self) -> None:
        if self.layout not in ("public", "raw"):
            raise ValueError(f"layout must be 'public' or 'raw', not {self.layout!r}")
        if self.codec not in ("mpeg4", "mjpeg"):
            raise ValueError(f"codec must be 'mpeg4' or 'mjpeg', not {self.codec!r}")
        if self.width % 2 or self.height % 2 or min(self.width, self.height) < 16:
            raise ValueError(f"resolution must be even and at least 16x16, not {self.width}x{self.height}")
        if self.render_scale < 1 or self.width % self.render_scale or self.height % self.render_scale:
            raise ValueError(f"render_scale {self.render_scale} must divide {self.width}x{self.height}")
        if self.clips_per_activity < 1 or self.fps < 1 or not 0 < self.min_seconds <= self.max_seconds:
            raise ValueError("need clips_per_activity >= 1, fps >= 1 and 0 < min_seconds <= max_seconds")

    @property
    def focal_px(self) -> float:
        """Focal length in pixels (pinhole, as the EPIC generator's camera)."""
        return scene.focal_px(self.width, self.hfov_deg)

    def folder(self, activity: str) -> str:
        """The folder of ``activity`` (a file prefix) in this layout."""
        return FOLDERS[self.layout].get(activity, activity)


def config_sha256(cfg: SynthDogConfig) -> str:
    """sha256 of the config's canonical JSON."""
    return sha256_text(json.dumps(dataclasses.asdict(cfg), sort_keys=True))


# ----------------------------------------------------------------------------- clips, encoding, dataset
def plan_clips(cfg: SynthDogConfig) -> list[dict]:
    """The clips to write, in order: activity, dog, recording, start/end frame (end exclusive), name."""
    rng = np.random.default_rng([cfg.seed, 0])
    cursor: dict[tuple[str, int], int] = {}
    clips = []
    for ai, act in enumerate(ACTIVITIES):
        K = cfg.clips_per_activity
        if act in HEAD_MOTION_ACTIVITIES:
            dogs = [d for d in DOGS for _ in range(K)]
        else:  # dogs in turn
            dogs = [DOGS[(ai + k) % len(DOGS)] for k in range(K)]
        for dog in dogs:
            n = int(round(rng.uniform(cfg.min_seconds, cfg.max_seconds) * cfg.fps))
            if cfg.min_seconds * cfg.fps <= round(n, -1) <= cfg.max_seconds * cfg.fps:
                n = int(round(n, -1))  # multiples of 10 frames, as in the real file names
            rec = int(rng.integers(1, 13))
            start = cursor.setdefault((dog, rec), int(rng.integers(0, 100)) * 10)
            start += int(rng.integers(1, 60)) * 10  # a gap after the previous clip of the recording
            cursor[(dog, rec)] = start + n
            sep = "__" if cfg.glitches and act == "Shake" and dog == "Ku" and not any(
                c["name"].startswith("Shake__") for c in clips) else "_"
            name = f"{act}{sep}{dog}_{rec}_{start}_{start + n}.avi"
            clips.append({"activity": act, "folder": cfg.folder(act), "dog": dog, "recording": rec,
                          "start_frame": start, "end_frame": start + n, "n_frames": n, "name": name,
                          "paper_subset": act in HEAD_MOTION_ACTIVITIES})
    return clips


def avi_args(out: Path, cfg: SynthDogConfig) -> list[str]:
    """ffmpeg argument list: uint8 (H/render_scale, W/render_scale, 3) RGB frames on stdin -> ``out``
    (.avi, H x W, bicubic upscale), bit-exact and single-threaded."""
    codec = ["-c:v", "mpeg4", "-vtag", "XVID", "-g", str(cfg.fps), "-bf", "0", "-pix_fmt", "yuv420p"] \
        if cfg.codec == "mpeg4" else ["-c:v", "mjpeg", "-pix_fmt", "yuvj420p"]
    w, h = cfg.width // cfg.render_scale, cfg.height // cfg.render_scale
    sws = "bicubic+accurate_rnd+bitexact"
    return [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-threads", "1",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(cfg.fps), "-i", "pipe:0",
            "-an", "-vf", f"scale={cfg.width}:{cfg.height}:flags={sws}", "-sws_flags", sws,
            "-filter_threads", "1",
            *codec, "-q:v", str(cfg.quality), "-threads", "1",
            "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1", "-f", "avi", str(out)]


def encode_avi(frames: Iterator[np.ndarray], path: Path, cfg: SynthDogConfig) -> None:
    """Encode the frames (see :func:`avi_args`) into ``path``, atomically (the synthetic EPIC generator's
    :class:`~egoimu.pipeline.synth.encode.FrameWriter` pipes them to ffmpeg)."""
    def write(tmp: Path) -> None:
        with FrameWriter(avi_args(tmp, cfg)) as writer:
            for frame in frames:
                writer.write(frame)

    atomic_write(path, write)


def _render_clip(clip: dict, cfg: SynthDogConfig, index: int) -> tuple[Iterator[np.ndarray], dict]:
    """The clip's frames (lazy; uint8 (H/render_scale, W/render_scale, 3)) and its motion parameters."""
    rng = np.random.default_rng([cfg.seed, 1, index])
    kind = "car" if clip["activity"] == "Car" else str(rng.choice(SCENES[:3]))
    f = cfg.focal_px / cfg.render_scale
    W, H = cfg.width // cfg.render_scale, cfg.height // cfg.render_scale
    scene = make_scene(kind, rng, f)
    height = float(rng.uniform(*cfg.camera_height_m)) * (0.6 if kind == "car" else 1.0)
    pose, params, scene["props"] = motion(clip["activity"], clip["n_frames"], cfg.fps, rng, height)
    v, u = np.mgrid[0:H, 0:W].astype(np.float32)
    u, v = u - (W - 1) / 2, v - (H - 1) / 2
    gain, tint = rng.uniform(0.85, 1.15), rng.uniform(0.93, 1.07, 3)
    vignette = 1 - 0.35 * (np.hypot(u, v) / np.hypot(W, H) * 2) ** 2
    scene["shade"] = (vignette.reshape(-1, 1) * gain * tint).astype(np.float32)
    frames = (render_frame(scene, {k: float(a[i]) for k, a in pose.items()}, u, v, f)
              for i in range(clip["n_frames"]))
    return frames, {"scene": kind, **params}


def _round(obj):
    """Floats rounded to 6 digits, numpy scalars to python, recursively (stable JSON)."""
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_round(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return round(float(obj), 6)
    return obj.item() if isinstance(obj, np.generic) else obj


THUMBS_DB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)  # an OLE header, as Windows writes


def _write_clip(job: tuple[Path, SynthDogConfig, int, dict]) -> dict:
    """Render and encode one clip; returns its truth record (worker entry point)."""
    out, cfg, index, clip = job
    (out / clip["folder"]).mkdir(exist_ok=True)
    frames, params = _render_clip(clip, cfg, index)
    encode_avi(frames, out / clip["folder"] / clip["name"], cfg)
    return {"path": f"{clip['folder']}/{clip['name']}", **clip, "motion": params}


def generate_dogcentric(out: Path, cfg: SynthDogConfig, workers: int = 1, progress: bool = False) -> dict:
    """Write the dataset into ``out`` (created; existing files of the same names are replaced).

    ``workers`` > 1 renders clips in that many processes; the bytes written do not depend on it.
    Returns a summary: out, clips, files, frames, bytes (of the clips), seconds (wall), config_sha256.
    """
    t_start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(out, cfg, i, clip) for i, clip in enumerate(plan_clips(cfg))]
    records = []
    with contextlib.ExitStack() as stack:
        if workers > 1:
            ctx = multiprocessing.get_context("spawn")  # no fork: callers may hold threads
            pool = stack.enter_context(ProcessPoolExecutor(max_workers=workers, mp_context=ctx))
            results = pool.map(_write_clip, jobs)
        else:
            results = map(_write_clip, jobs)
        for rec in results:
            records.append(rec)
            if progress:
                print(f"[synth dogcentric] {len(records)}/{len(jobs)} {rec['path']}", file=sys.stderr)
    n_bytes = sum((out / r["path"]).stat().st_size for r in records)
    glitches: list[str] = []
    if cfg.glitches:
        right = cfg.folder("LookRight")
        shutil.rmtree(out / "Turn_Right", ignore_errors=True)
        (out / "Turn_Right").mkdir()
        for rec in records:
            if rec["activity"] == "LookRight":
                shutil.copyfile(out / rec["path"], out / "Turn_Right" / rec["name"])
                glitches.append(f"Turn_Right/{rec['name']}")
        for rel in (f"{right}/Thumbs.db", "Walk/Thumbs.db"):
            (out / rel).write_bytes(THUMBS_DB)
            glitches.append(rel)
        (out / "info.txt").write_text("DogCentric Activity Dataset (synthetic copy written by egoimu).\n"
                                      "Four dogs: Hime, Ku, Ringo, Ryu. Ten activities.\n")
        glitches.append("info.txt")
    truth = {"dataset": "dogcentric-synthetic", "generator": "egoimu synth dogcentric",
             "activity_signals": {a: ACTIVITY_SIGNALS[a] for a in ACTIVITIES}, "config": dataclasses.asdict(cfg),
             "config_sha256": config_sha256(cfg), "seed": cfg.seed, "focal_px": cfg.focal_px,
             "dogs": list(DOGS), "folders": {a: cfg.folder(a) for a in ACTIVITIES},
             "clips": records, "glitch_files": glitches}
    (out / "synth_truth.json").write_text(json.dumps(_round(truth), indent=1) + "\n")
    return {"out": str(out), "clips": len(records), "files": len(records) + len(glitches) + 1,
            "frames": sum(c["n_frames"] for c in records), "bytes": n_bytes,
            "seconds": round(time.perf_counter() - t_start, 2), "config_sha256": truth["config_sha256"]}


def main(argv: list[str] | None = None) -> int:
    """``egoimu synth dogcentric OUT [options]``; returns the exit status."""
    ap = OneLineParser(prog="egoimu synth dogcentric", description=__doc__.split("\n\n")[0],
                                 formatter_class=HelpFormatter)
    d = SynthDogConfig()
    ap.add_argument("out", type=Path, help="output folder (the dataset root)")
    ap.add_argument("--clips-per-activity", type=int, default=d.clips_per_activity,
                    help="clips per dog for Walk, Shake, LookLeft, LookRight; each other activity gets "
                         "this many in all")
    ap.add_argument("--seed", type=int, default=d.seed, help="random seed; same seed, same bytes")
    ap.add_argument("--resolution", default=f"{d.width}x{d.height}", help="WxH, even")
    ap.add_argument("--fps", type=int, default=d.fps, help="frames per second")
    ap.add_argument("--seconds", type=float, nargs=2, default=(d.min_seconds, d.max_seconds),
                    metavar=("MIN", "MAX"), help="clip length range")
    ap.add_argument("--glitches", action="store_true", help="add the raw release's glitches")
    ap.add_argument("--layout", choices=("public", "raw"), default=d.layout,
                    help="look folders named Left/Right (public) or Look_at_Left/Look_at_Right (raw)")
    ap.add_argument("--codec", choices=("mpeg4", "mjpeg"), default=d.codec, help="video codec in the .avi")
    ap.add_argument("--render-scale", type=int, default=d.render_scale,
                    help="render at 1/N of the resolution, ffmpeg upscales (1: full detail, slower)")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="rendering processes")
    ap.add_argument("--quiet", action="store_true", help="no per-clip progress on stderr")
    args = ap.parse_args(argv)
    if problem := out_folder_problem(args.out):
        ap.error(problem)
    try:
        w, h = (int(x) for x in args.resolution.lower().split("x"))
        cfg = SynthDogConfig(seed=args.seed, clips_per_activity=args.clips_per_activity, width=w, height=h,
                             fps=args.fps, min_seconds=args.seconds[0], max_seconds=args.seconds[1],
                             layout=args.layout, glitches=args.glitches, codec=args.codec,
                             render_scale=args.render_scale)
    except ValueError as exc:
        ap.error(str(exc))
    summary = generate_dogcentric(args.out, cfg, workers=args.workers, progress=not args.quiet)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
