"""``egoimu synth epic OUT ...``: a synthetic dataset in EPIC-KITCHENS-100's exact layout.

Writes (readable by a reader written for the real dataset)::

    OUT/EPIC_100_train.csv            segments of the IMU videos PXX_1YY (15 real columns)
    OUT/EPIC_100_validation.csv       segments of one short EPIC-55-style video (PXX_01, no IMU)
    OUT/EPIC_100_video_info.csv       video_id,duration,fps,resolution
    OUT/EPIC_100_{verb,noun}_classes.csv
    OUT/PXX/videos/PXX_1YY.MP4        H.264 (+ AAC noise track), keyframe every round(fps) frames
    OUT/PXX/videos/PXX_01.MP4         the EPIC-55-style video (59.94 fps like EPIC-55, no IMU files)
    OUT/PXX/meta_data/PXX_1YY-accl.csv / -gyro.csv   GoPro-style IMU files (see imu.py)
    OUT/synth_truth/dataset.json, OUT/synth_truth/<video_id>.npz   ground truth (below)
    OUT/faults.json                   with --faults (see faults.py for kinds, records, video needs;
                                      --faults all: also fault_planters.py's, OUT/linked/ their link targets)

The EPIC-55-style video lasts max(seconds / 4, 4 s); its segments go to the validation CSV. IMU
files, timing model and number formats: see :mod:`egoimu.pipeline.synth.imu` (also copied into
dataset.json as ``imu_model``).

``OUT/synth_truth/dataset.json``: the generator config (``config``) and the sha256 of its canonical
JSON (``config_sha256``), seed, egoimu version, camera model, IMU timing model, per-participant style
and IMU biases/noise, per-video parameters (fps, frames, duration, has_imu, clock_scale, offset_s,
preroll_s, rate_hz, biases, noise, scales, payload counts) and ``verb_signals`` (which verbs carry
which signal, in the head motion and in the pixels, and how strongly).

``OUT/synth_truth/<video_id>.npz`` keys (F frames, Na/Ng accelerometer/gyroscope rows, S segments):

=====================  ==========  =======  ====================================================
key                    shape       dtype    meaning (unit)
=====================  ==========  =======  ====================================================
frame_t_s              (F,)        float64  video time of frame i = i / fps (s)
yaw_pitch_roll         (F,3)       float64  head angles at frame times (rad; see motion.py)
position               (F,3)       float64  camera centre, world x fwd / y left / z up (m)
omega_frames           (F,3)       float64  body-frame angular velocity at frame times (rad/s)
view_affine            (F,2,3)     float64  renderer map image (col,row,1) -> panorama px
segment_start_s        (S,)        float64  segment starts (s), in order of k (narration_id's number)
segment_stop_s         (S,)        float64  segment stops (s)
segment_verb_class     (S,)        int64    verb class of each segment
accl_t_true_s          (Na,)       float64  true video time of each accl CSV row, file order (s)
accl_ms                (Na,)       float64  the ``Milliseconds`` value written on that row
accl_true              (Na,3)      float64  noise-free specific force, body X/Y/Z (m/s²)
accl_payload_counts    (K,)        int64    accl rows per ~1 s payload
gyro_t_true_s          (Ng,)       float64  true video time of each gyro CSV row (s)
gyro_ms                (Ng,)       float64  ``Milliseconds`` of that row
gyro_true              (Ng,3)      float64  noise-free body angular velocity (rad/s)
gyro_payload_counts    (K,)        int64    gyro rows per payload
clock_scale            ()          float64  video seconds per telemetry second (1 + e)
offset_s               ()          float64  video time where telemetry second 0 nominally starts (s)
preroll_s              ()          float64  payload 0 starts this long before offset_s (s)
rate_hz                ()          float64  true IMU sample rate in video time (Hz)
=====================  ==========  =======  ====================================================

The IMU keys (``accl_*``, ``gyro_*``, ``clock_scale`` ... ``rate_hz``) exist only for videos with
IMU (``PXX_1YY``); they describe the rows as generated, before any planted fault. Sync model:
t_video = offset_s + clock_scale · Milliseconds / 1000 for payloads k ≥ 1 (± 12 ms jitter).

Physics: one head trajectory per video (motion.py) drives both the frames (scene.py renderer, with
per-verb overlays from visual.py) and the IMU (imu.py). Participants differ in scene, motion style
and IMU bias. The same seed gives byte-identical files; per-video random streams are derived from
(seed, stream, participant number, video number), so the worker count does not matter.
Verbs outside the embedded class table (possible with --like and --classes-dir) get the generic head
motion and the "appear" overlay.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np
from tqdm import tqdm

from egoimu import __version__
from egoimu.manifests.clihelp import HelpFormatter, OneLineParser, out_folder_problem
from egoimu.pipeline.synth import annotations as A
from egoimu.pipeline.synth import classes as C
from egoimu.pipeline.synth import faults as F
from egoimu.pipeline.synth import imu, scene, visual
from egoimu.pipeline.synth.encode import FrameWriter, h264_args
from egoimu.pipeline.synth.fault_planters import LINK_TARGETS, MIN_IMU_VIDEOS, plant_catalogue
from egoimu.pipeline.synth.motion import Action, MotionStyle, Trajectory, build_trajectory
from egoimu.pipeline.synth.truth import FRAME_KEYS, IMU_KEYS, canonical_json, save_npz, sha256_text

FPS_CHOICES = {"50": Fraction(50), "59.94": Fraction(60000, 1001), "60000/1001": Fraction(60000, 1001),
               "29.97": Fraction(30000, 1001), "30000/1001": Fraction(30000, 1001)}
EPIC55_FPS = Fraction(60000, 1001)  # EPIC-KITCHENS-55 videos are 59.94 fps (real video_info)
# random streams (first spawn key)
S_STYLE, S_PANO, S_SEGMENTS, S_MOTION, S_IMU, S_OVERLAY, S_FAULTS, S_LIKE = range(8)


@dataclass(frozen=True)
class SynthEpicConfig:
    """Config of ``egoimu synth epic`` (saved with its sha256 in ``synth_truth/dataset.json``)."""

    participants: int = 3  # ours
    videos_per_participant: int = 2  # ours
    seconds: float = 60.0  # ours: length of each IMU video
    width: int = 456  # ours: EPIC is 1920x1080; 456x256 is the common downscaled copy
    height: int = 256  # ours
    fps: str = "50"  # ours: exact fraction; EPIC-100 extension videos are 50 fps (dataset fact)
    seed: int = 0  # ours
    faults: bool | str = False  # ours: plant realistic damage, list it in faults.json ("all": the whole catalogue)
    like_csv: str | None = None  # ours: replay segment timings/verbs of a real annotation CSV
    like_videos: tuple[str, ...] = ()  # ours: which videos of like_csv (default: first M per participant)
    full_range: bool = False  # ours: yuvj420p (full range) instead of yuv420p
    audio: bool = True  # ours: AAC noise track like a GoPro
    classes_dir: str | None = None  # ours: copy the real class tables from here
    hfov_deg: float = 90.0  # ours: horizontal field of view of the rendered camera
    crf: int = 23  # ours: libx264 quality
    preset: str = "ultrafast"  # ours: libx264 preset (fixed, for speed and determinism)
    imu_offset_ms: float = 0.0  # ours: video time of telemetry second 0 (GoPro: 0); nonzero tests sync tables

    @property
    def fps_fraction(self) -> Fraction:
        return FPS_CHOICES[self.fps]

    def validate(self) -> None:
        if self.fps not in FPS_CHOICES:
            raise ValueError(f"fps must be one of {', '.join(FPS_CHOICES)}, not {self.fps!r}")
        if not 1 <= self.participants <= 99 or not 1 <= self.videos_per_participant <= 99:
            raise ValueError("participants and videos per participant must be in 1..99")
        validate_size(self.seconds, self.width, self.height)
        if self.faults not in (False, True, "all"):
            raise ValueError(f"faults must be False, True or 'all', not {self.faults!r}")
        if self.faults == "all" and self.participants * self.videos_per_participant < MIN_IMU_VIDEOS:
            raise ValueError(f"--faults all needs at least {MIN_IMU_VIDEOS} IMU videos (the nine kinds of --faults "
                             f"damage the files of the first six; the further kinds copy an intact one), e.g. "
                             f"--participants 3 --videos-per-participant 3")


def validate_size(seconds: float, width: int, height: int) -> None:
    """ValueError (one line) unless 4 <= seconds <= 7200 and the frame size (px) is even and at least 64x64."""
    if not 4.0 <= seconds <= 7200:
        raise ValueError(f"seconds must be in [4, 7200], not {seconds}")
    if width % 2 or height % 2 or width < 64 or height < 64:
        raise ValueError(f"resolution must be even and at least 64x64, not {width}x{height}")


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=tuple(int(k) for k in keys)))


def _ids(video_id: str) -> tuple[int, int]:
    p, v = video_id.split("_")
    return int(p[1:]), int(v)


@dataclass(frozen=True)
class VideoJob:
    """Everything one worker needs to write one video (+ IMU + truth)."""

    video_id: str
    participant_id: str
    has_imu: bool
    fps: Fraction
    n_frames: int
    segments: tuple[A.Segment, ...]
    style: MotionStyle
    imu_bias: dict
    out: str
    cfg: SynthEpicConfig

    @property
    def duration_s(self) -> float:
        return float(self.n_frames / self.fps)


def participant_params(seed: int, pnum: int) -> tuple[MotionStyle, dict]:
    """Motion style and IMU bias/noise of participant number ``pnum``."""
    rng = _rng(seed, S_STYLE, pnum)
    style = MotionStyle.sample(rng)
    bias = {"accl_bias": [float(x) for x in rng.normal(0.0, 0.1, 3)],
            "gyro_bias": [float(x) for x in rng.normal(0.0, 0.005, 3)],
            "accl_noise_std": float(rng.uniform(0.05, 0.12)), "gyro_noise_std": float(rng.uniform(0.004, 0.01))}
    return style, bias


@lru_cache(maxsize=2)
def _panorama(seed: int, pnum: int, px_per_rad: float) -> scene.Panorama:
    return scene.make_panorama(_rng(seed, S_PANO, pnum), px_per_rad)


def segment_actions(segments: tuple[A.Segment, ...] | list[A.Segment]) -> list[Action]:
    """The motion model's :class:`Action` of each segment (verbs outside the class table: generic)."""
    verb_key = {v.id: v for v in C.VERBS}
    return [Action(s.start_s, s.stop_s, verb_key[s.verb_class].key if s.verb_class in verb_key else "",
                   verb_key[s.verb_class].category if s.verb_class in verb_key else "")
            for s in segments]


def render_scene(path: Path, traj: Trajectory, segments: tuple[A.Segment, ...], fps: Fraction, n_frames: int,
                 cfg, pnum: int, vnum: int) -> dict[str, np.ndarray]:
    """Render ``n_frames`` frames (frame i at video time i / fps, s) of the head trajectory ``traj`` with the
    segments' overlays and encode them to the H.264 MP4 ``path`` (+ AAC noise if ``cfg.audio``).

    ``cfg`` needs ``seed, width, height, hfov_deg, full_range, audio, crf, preset`` (a synth config); ``pnum``
    (participant number: panorama) and ``vnum`` (video number: overlay stream). Returns the frame truth: the
    :data:`FRAME_KEYS` arrays (see the module docstring for shapes, dtypes, units).
    """
    fps, n = Fraction(fps), int(n_frames)
    duration_s = float(n / fps)
    actions = segment_actions(segments)
    t_frames = np.arange(n) * fps.denominator / fps.numerator  # frame i on screen from i / fps
    rot = traj.rotations(t_frames)
    pos = traj.sample("position", t_frames)
    f = scene.focal_px(cfg.width, cfg.hfov_deg)
    pano = _panorama(cfg.seed, pnum, f)
    affines = scene.view_affines(rot, pos, f, cfg.width, cfg.height, pano.px_per_rad, pano.shape[1])
    renderer = scene.Renderer(pano, cfg.width, cfg.height)
    orng = _rng(cfg.seed, S_OVERLAY, pnum, vnum)
    overlays = [visual.Overlay.for_action(orng, s.start_s, s.stop_s, a.verb_key, s.noun_class,
                                          cfg.width, cfg.height) for s, a in zip(segments, actions)]
    ov_seed = int(orng.integers(2**31))
    path.parent.mkdir(parents=True, exist_ok=True)
    args = h264_args(path, cfg.width, cfg.height, fps, full_range=cfg.full_range,
                     audio_seconds=duration_s if cfg.audio else None, audio_seed=ov_seed,
                     crf=cfg.crf, preset=cfg.preset, input_pix_fmt="rgb0")
    with FrameWriter(args) as writer:
        for i in range(n):
            frame = renderer.render_rgb0(affines[i])
            for ov in overlays:
                if ov.start_s <= t_frames[i] < ov.stop_s:
                    visual.draw(frame[..., :3], ov, float(t_frames[i]), i, ov_seed)
            writer.write(frame)
    return {"frame_t_s": t_frames, "yaw_pitch_roll": traj.sample("ypr", t_frames), "position": pos,
            "omega_frames": traj.sample("omega", t_frames), "view_affine": affines,
            "segment_start_s": np.array([s.start_s for s in segments], float),
            "segment_stop_s": np.array([s.stop_s for s in segments], float),
            "segment_verb_class": np.array([s.verb_class for s in segments], np.int64)}


def render_video(job: VideoJob) -> dict:
    """Write one video's MP4, IMU CSVs (if any) and truth npz; returns its dataset.json entry."""
    cfg, out = job.cfg, Path(job.out)
    pnum, vnum = _ids(job.video_id)
    fps, n = job.fps, job.n_frames
    traj = build_trajectory(segment_actions(job.segments), job.duration_s, job.style,
                            _rng(cfg.seed, S_MOTION, pnum, vnum))
    truth = render_scene(out / job.participant_id / "videos" / f"{job.video_id}.MP4", traj, job.segments,
                         fps, n, cfg, pnum, vnum)
    f = scene.focal_px(cfg.width, cfg.hfov_deg)
    entry = {"participant_id": job.participant_id, "fps": f"{fps.numerator}/{fps.denominator}",
             "frames": n, "duration_s": job.duration_s, "has_imu": job.has_imu,
             "segments": len(job.segments), "pixels_per_radian": f}
    if job.has_imu:
        truth.update(_write_imu(job, traj, out, _rng(cfg.seed, S_IMU, pnum, vnum)))
        entry.update({k: float(truth[k]) for k in ("clock_scale", "offset_s", "preroll_s", "rate_hz")})
        entry.update(job.imu_bias, accl_scale=imu.ACCL_SCALE, gyro_scale=imu.GYRO_SCALE)
        entry.update(rows_accl=int(truth["accl_ms"].size), rows_gyro=int(truth["gyro_ms"].size),
                     payloads=int(truth["accl_payload_counts"].size),
                     payload_counts_accl=truth["accl_payload_counts"].tolist(),
                     payload_counts_gyro=truth["gyro_payload_counts"].tolist())
    assert set(truth) == set(FRAME_KEYS) | (set(IMU_KEYS) if job.has_imu else set())
    tdir = out / "synth_truth"
    tdir.mkdir(parents=True, exist_ok=True)
    save_npz(tdir / f"{job.video_id}.npz", truth)
    return entry


def _write_imu(job: VideoJob, traj, out: Path, rng: np.random.Generator) -> dict:
    clock = imu.ImuClock.sample(rng, job.duration_s, offset_s=job.cfg.imu_offset_ms / 1000.0)
    mdir = out / job.participant_id / "meta_data"
    mdir.mkdir(parents=True, exist_ok=True)
    res = {"clock_scale": np.float64(clock.clock_scale), "offset_s": np.float64(clock.offset_s),
           "preroll_s": np.float64(clock.preroll_s), "rate_hz": np.float64(clock.rate_hz)}
    b = job.imu_bias
    for name, field, header, scale in (("accl", "specific_force", imu.ACCL_HEADER, imu.ACCL_SCALE),
                                       ("gyro", "omega", imu.GYRO_HEADER, imu.GYRO_SCALE)):
        stream = imu.stream_times(clock, rng)
        true = traj.sample(field, stream.t_true_s)
        meas = imu.measure(true, np.array(b[f"{name}_bias"]), b[f"{name}_noise_std"], scale, rng)
        imu.write_lines(mdir / f"{job.video_id}-{name}.csv", imu.csv_lines(header, stream.ms, meas))
        res.update({f"{name}_t_true_s": stream.t_true_s, f"{name}_ms": stream.ms, f"{name}_true": true,
                    f"{name}_payload_counts": stream.counts})
    return res


def _prepare_out(out: Path) -> None:
    """OUT must be absent, empty or an earlier ``synth epic`` output (then it is replaced)."""
    if out.exists() and any(out.iterdir()):
        if not (out / "synth_truth" / "dataset.json").is_file():
            raise ValueError(f"{out} exists and is not empty (and is no earlier synth epic output)")
        for child in out.iterdir():
            if re.fullmatch(rf"P\d{{2}}|synth_truth|{LINK_TARGETS}", child.name) and child.is_dir():
                shutil.rmtree(child)
            elif re.fullmatch(r"EPIC_100_\w+\.csv|faults\.json", child.name):
                child.unlink()
    out.mkdir(parents=True, exist_ok=True)


def plan_videos(cfg: SynthEpicConfig, known: tuple[set[int], set[int]]) -> tuple[list[VideoJob], int]:
    """The video jobs (IMU videos first, then the EPIC-55-style one) and the number of redrawn labels."""
    fps = cfg.fps_fraction
    n_frames = int(Fraction(cfg.seconds).limit_denominator(1000) * fps)
    redrawn = 0
    if cfg.like_csv:
        like = Path(cfg.like_csv)
        if not like.is_file():
            raise FileNotFoundError(f"--like: {like} not found")
        vids = list(cfg.like_videos) or A.like_video_ids(like, cfg.participants, cfg.videos_per_participant)
        bad = [v for v in vids if not A.IMU_VIDEO_RE.match(v)]
        if bad or not vids:
            raise ValueError(f"--like-videos must be IMU videos PXX_1YY; got {bad or 'none found in the CSV'}")
        segs, redrawn = A.like_segments(like, vids, float(n_frames / fps), _rng(cfg.seed, S_LIKE), *known)
        missing = [v for v in vids if not segs[v]]
        if missing:
            raise ValueError(f"--like: no segments within {cfg.seconds} s for {', '.join(missing)}")
    else:
        vids = [f"P{p:02d}_1{v:02d}" for p in range(1, cfg.participants + 1)
                for v in range(1, cfg.videos_per_participant + 1)]
        segs = {v: A.sample_segments(_rng(cfg.seed, S_SEGMENTS, *_ids(v)), v, v.split("_")[0],
                                     float(n_frames / fps)) for v in vids}
    first_p = vids[0].split("_")[0]
    extra = f"{first_p}_01"
    n_extra = int(Fraction(max(cfg.seconds / 4, 4.0)).limit_denominator(1000) * EPIC55_FPS)
    segs[extra] = A.sample_segments(_rng(cfg.seed, S_SEGMENTS, *_ids(extra)), extra, first_p,
                                    float(n_extra / EPIC55_FPS))
    jobs = []
    for v in [*vids, extra]:
        pid = v.split("_")[0]
        style, bias = participant_params(cfg.seed, _ids(v)[0])
        jobs.append(VideoJob(video_id=v, participant_id=pid, has_imu=v != extra,
                             fps=fps if v != extra else EPIC55_FPS, n_frames=n_frames if v != extra else n_extra,
                             segments=tuple(segs[v]), style=style, imu_bias=bias, out="", cfg=cfg))
    return jobs, redrawn


def generate_epic(out: Path, cfg: SynthEpicConfig, workers: int | None = None,
                  progress: bool = False) -> dict:
    """Write the dataset into ``out``; returns a summary dict (paths, counts, faults, elapsed_s)."""
    t_start = time.perf_counter()
    cfg.validate()
    out = Path(out)
    _prepare_out(out)
    known = A.write_class_tables(out, Path(cfg.classes_dir) if cfg.classes_dir else None)
    jobs, redrawn = plan_videos(cfg, known)
    jobs = [dataclasses.replace(j, out=str(out)) for j in jobs]
    fps_of = {j.video_id: j.fps for j in jobs}
    imu_jobs = [j for j in jobs if j.has_imu]
    train = A.annotation_rows([s for j in imu_jobs for s in j.segments], fps_of)
    valid = A.annotation_rows([s for j in jobs if not j.has_imu for s in j.segments], fps_of)
    A.write_csv(out / "EPIC_100_train.csv", A.ANNOTATION_COLUMNS, train)
    A.write_csv(out / "EPIC_100_validation.csv", A.ANNOTATION_COLUMNS, valid)
    A.write_video_info(out / "EPIC_100_video_info.csv",
                       [(j.video_id, j.n_frames, j.fps, f"{cfg.width}x{cfg.height}") for j in jobs])
    workers = max(1, min(workers or min(2, os.cpu_count() or 1), len(jobs)))
    entries: dict[str, dict] = {}
    bar = tqdm(total=len(jobs), desc="synth epic", unit="video", disable=not progress)
    if workers == 1:
        for j in jobs:
            entries[j.video_id] = render_video(j)
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futs = {pool.submit(render_video, j): j.video_id for j in jobs}
            for fut in as_completed(futs):
                entries[futs[fut]] = fut.result()
                bar.update()
    bar.close()
    cfg_json = canonical_json(dataclasses.asdict(cfg))
    participants = {}
    for j in jobs:
        participants.setdefault(j.participant_id, {"style": j.style.as_dict(), **j.imu_bias})
    meta = {
        "generator": "egoimu synth epic", "egoimu_version": __version__, "seed": cfg.seed,
        "config": dataclasses.asdict(cfg), "config_sha256": sha256_text(cfg_json),
        "camera": {"hfov_deg": cfg.hfov_deg, "pixels_per_radian": scene.focal_px(cfg.width, cfg.hfov_deg),
                   "axes": "body X up, Y right, Z forward; world x forward, y left, z up",
                   "scene_sphere_radius_m": scene.SPHERE_RADIUS_M},
        "imu_model": imu.__doc__.strip(), "truth_keys": sorted(FRAME_KEYS + IMU_KEYS),
        "participants": participants, "videos": {k: entries[k] for k in sorted(entries)},
        "verb_signals": visual.modality_table(), "labels_redrawn_from_like_csv": redrawn,
    }
    (out / "synth_truth").mkdir(exist_ok=True)
    (out / "synth_truth" / "dataset.json").write_text(canonical_json(meta), encoding="utf-8")
    planted, skipped = [], []
    if cfg.faults:
        planted, skipped = F.plant_faults(out, imu_jobs, _rng(cfg.seed, S_FAULTS))
        if cfg.faults == "all":
            planted += plant_catalogue(out)
    return {"out": str(out), "videos": [j.video_id for j in jobs], "imu_videos": len(imu_jobs),
            "segments_train": len(train), "segments_validation": len(valid), "faults": planted,
            "faults_skipped": skipped, "labels_redrawn": redrawn,
            "elapsed_s": time.perf_counter() - t_start}


def _resolution(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"bad resolution {text!r}: expected WIDTHxHEIGHT, e.g. 456x256")
    w, h = int(m.group(1)), int(m.group(2))
    if w % 2 or h % 2 or w < 64 or h < 64:
        raise argparse.ArgumentTypeError(f"bad resolution {text!r}: width and height must be even and >= 64")
    return w, h


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}")
    return v


def _faults(text: str) -> str:
    if text != "all":
        raise argparse.ArgumentTypeError(f"expected nothing or 'all', got {text!r}")
    return text


def add_size_options(p: argparse.ArgumentParser, participants: tuple[int, str], videos: tuple[int, str],
                     seconds: tuple[float, str], resolution: tuple[tuple[int, int], str]) -> None:
    """Add ``--participants --videos-per-participant --seconds --resolution`` to ``p``, each (default, help)."""
    p.add_argument("--participants", type=_positive_int, default=participants[0], help=participants[1])
    p.add_argument("--videos-per-participant", type=_positive_int, default=videos[0], metavar="M", help=videos[1])
    p.add_argument("--seconds", type=float, default=seconds[0], help=seconds[1])
    p.add_argument("--resolution", type=_resolution, default=resolution[0], metavar="WxH", help=resolution[1])


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="egoimu synth epic", description=__doc__.split("\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("out", type=Path, help="output folder (absent, empty, or an earlier synth epic output)")
    add_size_options(p, (3, "participants P01.. (default: 3)"),
                     (2, "IMU videos PXX_101.. per participant (default: 2)"),
                     (60.0, "length of each IMU video (default: 60)"),
                     ((456, 256), "frame size (default: 456x256; EPIC's own is 1920x1080)"))
    p.add_argument("--fps", choices=list(FPS_CHOICES), default="50",
                   help="frame rate of the IMU videos: 50, 59.94 = 60000/1001, 29.97 = 30000/1001")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed -> identical files)")
    p.add_argument("--faults", nargs="?", const=True, default=False, type=_faults, metavar="all",
                   help="plant realistic damage, listed in OUT/faults.json (the generator's nine kinds; --faults all: "
                        "every kind of the fault catalogue that can be planted, egoimu.pipeline.synth.fault_catalogue; "
                        f"needs >= {MIN_IMU_VIDEOS} IMU videos)")
    p.add_argument("--like", metavar="CSV", help="replay segment times and verbs of a real annotation CSV")
    p.add_argument("--like-videos", metavar="IDS", help="comma-separated video ids of --like (PXX_1YY)")
    p.add_argument("--full-range", action="store_true", help="yuvj420p (full range) like GoPro files")
    p.add_argument("--no-audio", action="store_true", help="no AAC audio track")
    p.add_argument("--imu-offset-ms", type=float, default=0.0,
                   help="plant a known IMU start offset (default: 0: telemetry starts with the recording)")
    p.add_argument("--workers", type=_positive_int, default=None, help="processes (default: min(2, cpus))")
    p.add_argument("--classes-dir", metavar="DIR", help="copy the real EPIC_100_{verb,noun}_classes.csv from DIR")
    return p


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status (argparse exits with 2 on bad options)."""
    p = build_parser()
    a = p.parse_args(argv)
    if a.like_videos and not a.like:
        p.error("--like-videos needs --like CSV")
    if problem := out_folder_problem(a.out):
        p.error(problem)
    cfg = SynthEpicConfig(
        participants=a.participants, videos_per_participant=a.videos_per_participant, seconds=a.seconds,
        width=a.resolution[0], height=a.resolution[1], fps=a.fps, seed=a.seed, faults=a.faults,
        like_csv=a.like, like_videos=tuple(v.strip() for v in (a.like_videos or "").split(",") if v.strip()),
        full_range=a.full_range, audio=not a.no_audio, classes_dir=a.classes_dir, imu_offset_ms=a.imu_offset_ms)
    try:
        summary = generate_epic(a.out, cfg, workers=a.workers, progress=True)
    except (ValueError, FileNotFoundError) as exc:
        print(f"egoimu synth epic: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(summary['videos'])} videos ({summary['imu_videos']} with IMU), "
          f"{summary['segments_train']} train + {summary['segments_validation']} validation segments, "
          f"{len(summary['faults'])} faults to {summary['out']} in {summary['elapsed_s']:.1f} s")
    return 0
