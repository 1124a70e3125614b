"""``egoimu synth ego4d OUT ...``: a synthetic dataset in Ego4D's layout (v2 canonical videos + IMU + narrations).

Writes (the facts of ``shared/data/README.md``, "Ego4D's IMU and narration formats")::

    OUT/ego4d.json                           {"date", "version": "v2", "description", "videos": [...]}
    OUT/v2/full_scale/<video_uid>.mp4        canonical video, 30 fps H.264 (+ AAC noise), keyframe every 30 frames
    OUT/v2/imu/<video_uid>.csv               component_idx,component_timestamp_ms,canonical_timestamp_ms,
                                             gyro_x,gyro_y,gyro_z,accl_x,accl_y,accl_z
    OUT/v2/annotations/narration.json        {video_uid: {"narration_pass_1": {"narrations": [...], "summaries": []},
                                              "narration_pass_2": {...}, "status": "complete"}}
    OUT/synth_truth/dataset.json, OUT/synth_truth/<video_uid>.npz    ground truth (below)
    OUT/synth_truth/faults.json              with --faults (see :mod:`egoimu.pipeline.synth.ego4d_faults`)

``ego4d.json`` video entries: ``video_uid`` (uuid4 text drawn from the seed), ``duration_sec``,
``fb_participant_id`` (int, the wearer), ``device``, ``has_imu``, ``imu_metadata`` (ours: ``{"components": K}``, null
without IMU; Ego4D does not document its content), ``scenarios`` (``["Cooking"]``), ``origin_video_id`` and
``video_metadata`` (``fps`` 30.0, ``num_frames``, ``video_duration_sec``, ``mp4_duration_sec``,
``display_resolution_width``/``height``, ``video_codec``), the keys imu2clip reads.

IMU CSV (one per video; units we write: gyro rad/s, accl m/s² including gravity; axes: the body axes of
:mod:`egoimu.pipeline.synth.motion`, X up, Y right, Z forward): the sensor samples at ``NOMINAL_HZ`` = 201 Hz of its
own clock (the documented sample's spacing 1000/201 = 4.975 ms), which runs ``clock_scale`` = 1 + e (|e| <= 1 %)
slow or fast against the video. ``canonical_timestamp_ms`` is the TRUE sample time on the canonical video's timeline
(ms); component 0's first sample is at 0 (as Ego4D's docs assume). A canonical video is the concatenation of
components: ``component_timestamp_ms`` is the sensor-clock time since its component's start (ms). The second video
(if any) has two components (the second starts at the frame nearest the middle, with a fresh sampling phase).
Values: true + participant bias + white noise, quantised like raw int16 counts (gyro 939, accl 417 counts per unit:
the documented sample rows are multiples of 1/313 and 1/417), written with Python's shortest ``repr`` (``0.0``).

Narrations: one per generated action (EPIC-like actions, :func:`egoimu.pipeline.synth.annotations.sample_segments`),
``timestamp_sec`` at the action's middle (pass 1; pass 2: a second annotator, the middle ± N(0, 0.2 s) kept inside
the action), ``timestamp_frame`` = floor(timestamp_sec · 30), ``narration_text`` ``"#C C picks up knife"``,
``annotation_uid`` one uuid per (video, pass).

``OUT/synth_truth/dataset.json``: ``config`` and ``config_sha256``, seed, per participant the number, fb id, motion
style and IMU bias/noise, per video (by video_uid) fps, frames, duration_s, participant, has_imu, clock_scale, rate_hz,
components, rows, units and axes, all as generated (planted faults: see faults.json).
``OUT/synth_truth/<video_uid>.npz``: the frame keys of :mod:`egoimu.pipeline.synth.epic` (``frame_t_s``,
``yaw_pitch_roll``, ``position``, ``omega_frames``, ``view_affine``, ``segment_start_s``/``stop_s``/``verb_class``,
actions in narration order) plus (N IMU rows in file order, before any fault; S actions):

=====================  ==========  =======  ====================================================
key                    shape       dtype    meaning (unit)
=====================  ==========  =======  ====================================================
narration_t_s          (S,)        float64  pass-1 narration time of each action (s)
imu_t_true_s           (N,)        float64  true video time of each CSV row (s) = canonical / 1000
imu_component_idx      (N,)        int64    component of each row
imu_component_ms       (N,)        float64  ``component_timestamp_ms`` written on the row
gyro_true              (N,3)       float64  noise-free body angular velocity (rad/s)
accl_true              (N,3)       float64  noise-free specific force incl. gravity (m/s²)
clock_scale            ()          float64  video seconds per sensor-clock second
rate_hz                ()          float64  true sample rate in video time (Hz) = 201 / clock_scale
=====================  ==========  =======  ====================================================

Physics: one head trajectory per video (motion.py) drives both the frames and the IMU, as ``synth epic`` does (same
renderer, overlays and per-participant style/bias). Same options -> byte-identical files, whatever ``--workers``.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from egoimu.manifests.clihelp import HelpFormatter, OneLineParser, out_folder_problem
from egoimu.pipeline.synth import annotations as A
from egoimu.pipeline.synth import imu
from egoimu.pipeline.synth.ego4d_faults import FAULT_KINDS, MIN_FAULT_VIDEOS, parse_fault_kinds, plant_ego4d_faults
from egoimu.pipeline.synth.epic import (
    S_IMU,
    S_MOTION,
    S_SEGMENTS,
    _positive_int,
    _rng,
    add_size_options,
    participant_params,
    render_scene,
    segment_actions,
    validate_size,
)
from egoimu.pipeline.synth.motion import build_trajectory
from egoimu.pipeline.synth.truth import FRAME_KEYS, canonical_json, save_npz, sha256_text

FPS = Fraction(30)  # canonical videos are mostly 30 fps (Ego4D docs)
NOMINAL_HZ = 201.0  # sensor-clock rate: the documented sample's spacing is 1000/201 ms
ACCL_SCALE = 417.0  # counts per m/s² (documented sample rows: multiples of 1/417)
HEADER = ("component_idx,component_timestamp_ms,canonical_timestamp_ms,"
          "gyro_x,gyro_y,gyro_z,accl_x,accl_y,accl_z")
DEVICE = "GoPro Hero 7 Black"  # ours: a head-worn GoPro (Ego4D's device values are not in our sources)
DATE = "2000-01-01"  # fixed: same options -> same bytes
IMU_TRUTH_KEYS = ("narration_t_s", "imu_t_true_s", "imu_component_idx", "imu_component_ms", "gyro_true",
                  "accl_true", "clock_scale", "rate_hz")
UNITS = {"gyro": "rad/s", "accl": "m/s^2 including gravity", "timestamps": "ms"}
AXES = "body X up, Y right, Z forward (egoimu.pipeline.synth.motion)"
S_UID, S_FBID, S_NARR, S_FAULTS = 20, 21, 22, 23  # random streams of our own (epic.py's are 0..7)


@dataclass(frozen=True)
class SynthEgo4dConfig:
    """Config of ``egoimu synth ego4d`` (saved with its sha256 in ``synth_truth/dataset.json``)."""

    participants: int = 4
    videos_per_participant: int = 1
    seconds: float = 30.0  # length of each canonical video, s
    width: int = 228
    height: int = 128
    seed: int = 0
    faults: tuple[str, ...] = ()  # quirks to plant (ego4d_faults.FAULT_KINDS, or ("all",)), listed in faults.json
    hfov_deg: float = 90.0
    full_range: bool = False
    audio: bool = True
    crf: int = 23
    preset: str = "ultrafast"

    @property
    def videos(self) -> int:
        return self.participants * self.videos_per_participant

    def validate(self) -> None:
        """Raise ValueError (one line) for values out of range."""
        if not 1 <= self.participants <= 999 or not 1 <= self.videos_per_participant <= 99:
            raise ValueError("participants must be in 1..999 and videos per participant in 1..99")
        validate_size(self.seconds, self.width, self.height)
        if unknown := [k for k in self.faults if k not in (*FAULT_KINDS, "all")]:
            raise ValueError(f"unknown fault kinds {unknown}")
        if self.faults and self.videos < MIN_FAULT_VIDEOS:
            raise ValueError(f"--faults needs at least {MIN_FAULT_VIDEOS} videos (one for each IMU quirk, one for the "
                             f"unknown wearer), e.g. "
                             f"--participants {MIN_FAULT_VIDEOS}; got {self.videos}")


@dataclass(frozen=True)
class Ego4dVideo:
    """One canonical video to write: ids, the wearer, its actions and its participant's style/bias."""

    video_uid: str
    pnum: int  # participant number 1..P
    vnum: int  # video number 1..M of the participant
    fb_participant_id: int
    n_frames: int
    components: int
    segments: tuple[A.Segment, ...]
    out: str
    cfg: SynthEgo4dConfig

    @property
    def duration_s(self) -> float:
        return float(self.n_frames / FPS)


def _uuid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def plan_ego4d(cfg: SynthEgo4dConfig, out: Path) -> list[Ego4dVideo]:
    """The videos in order (participant, video), with deterministic uids, wearer ids and actions (in order of
    their middle, the narration time)."""
    n = int(Fraction(cfg.seconds).limit_denominator(1000) * FPS)
    fb = _rng(cfg.seed, S_FBID).choice(np.arange(1, 10_000), cfg.participants, replace=False)
    videos = []
    for p in range(1, cfg.participants + 1):
        for v in range(1, cfg.videos_per_participant + 1):
            uid = _uuid(_rng(cfg.seed, S_UID, p, v))
            segs = A.sample_segments(_rng(cfg.seed, S_SEGMENTS, p, v), uid, f"P{p:03d}", float(n / FPS))
            segs.sort(key=lambda seg: (seg.start_cs + seg.stop_cs, seg.start_cs))  # narrations in time order
            videos.append(Ego4dVideo(video_uid=uid, pnum=p, vnum=v, fb_participant_id=int(fb[p - 1]), n_frames=n,
                                     components=2 if len(videos) == 1 else 1, segments=tuple(segs),
                                     out=str(out), cfg=cfg))
    return videos


def sample_times(duration_s: float, components: int, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """IMU rows of one video: (t_true_s (N,) float64 video s, component_idx (N,) int64, component_ms (N,) float64,
    clock_scale). Component c covers [c·D/K, (c+1)·D/K) (snapped to frames); component 0 starts sampling at t = 0,
    later ones at a random phase; spacing clock_scale / 201 s."""
    scale = 1.0 + float(rng.uniform(-imu.CLOCK_ERROR, imu.CLOCK_ERROR))
    period = scale / NOMINAL_HZ
    edges = [round(duration_s * c / components * float(FPS)) / float(FPS) for c in range(components)] + [duration_s]
    t, idx, cms = [], [], []
    for c in range(components):
        phase = 0.0 if c == 0 else float(rng.uniform(0.0, period))
        m = np.arange(int(np.ceil((edges[c + 1] - edges[c] - phase) / period)) + 1)
        tc = edges[c] + phase + m * period
        tc = tc[tc < edges[c + 1]]  # m is increasing: the kept rows are its first tc.size
        t.append(tc)
        idx.append(np.full(tc.size, c, np.int64))
        cms.append(phase / scale * 1000.0 + m[: tc.size] * 1000.0 / NOMINAL_HZ)  # sensor-clock ms
    return np.concatenate(t), np.concatenate(idx), np.concatenate(cms), scale


def imu_lines(idx: np.ndarray, comp_ms: np.ndarray, canon_ms: np.ndarray, gyro: np.ndarray,
              accl: np.ndarray) -> list[str]:
    """CSV text lines (no line ends): :data:`HEADER`, then one row per sample, numbers as Python ``repr``."""
    rows = [HEADER]
    for c, a, b, g, f in zip(idx.tolist(), comp_ms.tolist(), canon_ms.tolist(), gyro.tolist(), accl.tolist()):
        rows.append(",".join([str(c), repr(a), repr(b), *map(repr, g), *map(repr, f)]))
    return rows


def third_person(text: str) -> str:
    """``pick up knife`` -> ``picks up knife`` (the first word gets the third-person -s)."""
    verb, _, rest = text.partition(" ")
    if verb.endswith(("s", "sh", "ch", "x", "z")):
        verb += "es"
    elif verb.endswith("y") and verb[-2:-1] not in "aeiou":
        verb = verb[:-1] + "ies"
    else:
        verb += "s"
    return f"{verb} {rest}".strip()


def narration_entry(t_s: float, seg: A.Segment, annotation_uid: str) -> dict:
    """One Ego4D narration: ``timestamp_sec`` (s), ``timestamp_frame`` (floor at 30 fps), text, uid."""
    return {"timestamp_sec": t_s, "timestamp_frame": int(np.floor(t_s * float(FPS))),
            "narration_text": f"#C C {third_person(seg.narration)}", "annotation_uid": annotation_uid}


def narrations(video: Ego4dVideo) -> tuple[dict, np.ndarray]:
    """The video's narration.json value (two passes) and the pass-1 times (S,) float64 s."""
    rng = _rng(video.cfg.seed, S_NARR, video.pnum, video.vnum)
    uid1, uid2 = _uuid(rng), _uuid(rng)
    mids = np.array([round((s.start_s + s.stop_s) / 2, 6) for s in video.segments], float)
    second = [round(float(np.clip(m + rng.normal(0.0, 0.2), s.start_s, s.stop_s)), 6)
              for m, s in zip(mids, video.segments)]
    passes = {name: {"narrations": [narration_entry(float(t), s, uid) for t, s in zip(times, video.segments)],
                     "summaries": []}
              for name, times, uid in (("narration_pass_1", mids, uid1), ("narration_pass_2", second, uid2))}
    return {**passes, "status": "complete"}, mids


def render_ego4d_video(video: Ego4dVideo) -> dict:
    """Write one video's MP4, IMU CSV and truth npz; returns its ``dataset.json`` entry."""
    cfg, out = video.cfg, Path(video.out)
    style, bias = participant_params(cfg.seed, video.pnum)
    traj = build_trajectory(segment_actions(video.segments), video.duration_s, style,
                            _rng(cfg.seed, S_MOTION, video.pnum, video.vnum))
    truth = render_scene(out / "v2" / "full_scale" / f"{video.video_uid}.mp4", traj, video.segments, FPS,
                         video.n_frames, cfg, video.pnum, video.vnum)
    rng = _rng(cfg.seed, S_IMU, video.pnum, video.vnum)
    t, idx, cms, scale = sample_times(video.duration_s, video.components, rng)
    gyro_true, accl_true = traj.sample("omega", t), traj.sample("specific_force", t)
    gyro = imu.measure(gyro_true, np.array(bias["gyro_bias"]), bias["gyro_noise_std"], imu.GYRO_SCALE, rng)
    accl = imu.measure(accl_true, np.array(bias["accl_bias"]), bias["accl_noise_std"], ACCL_SCALE, rng)
    (out / "v2" / "imu").mkdir(parents=True, exist_ok=True)
    imu.write_lines(out / "v2" / "imu" / f"{video.video_uid}.csv", imu_lines(idx, cms, t * 1000.0, gyro, accl))
    truth.update(narration_t_s=narrations(video)[1], imu_t_true_s=t, imu_component_idx=idx, imu_component_ms=cms,
                 gyro_true=gyro_true, accl_true=accl_true, clock_scale=np.float64(scale),
                 rate_hz=np.float64(NOMINAL_HZ / scale))
    assert set(truth) == set(FRAME_KEYS) | set(IMU_TRUTH_KEYS)
    save_npz(out / "synth_truth" / f"{video.video_uid}.npz", truth)
    return {"participant": video.pnum, "fb_participant_id": video.fb_participant_id, "fps": 30,
            "frames": video.n_frames, "duration_s": video.duration_s, "has_imu": True, "clock_scale": scale,
            "rate_hz": NOMINAL_HZ / scale, "components": video.components, "rows": int(t.size),
            "actions": len(video.segments), "units": UNITS, "axes": AXES}


def metadata_entry(video: Ego4dVideo) -> dict:
    """The video's ``ego4d.json`` entry (before any planted fault)."""
    cfg = video.cfg
    return {"video_uid": video.video_uid, "duration_sec": video.duration_s,
            "fb_participant_id": video.fb_participant_id, "device": DEVICE, "has_imu": True,
            "imu_metadata": {"components": video.components}, "scenarios": ["Cooking"],
            "origin_video_id": f"synth_P{video.pnum:03d}_{video.vnum:02d}",
            "video_metadata": {"fps": float(FPS), "num_frames": video.n_frames,
                               "video_duration_sec": video.duration_s, "mp4_duration_sec": video.duration_s,
                               "display_resolution_width": cfg.width, "display_resolution_height": cfg.height,
                               "video_codec": "h264"}}


def _prepare_out(out: Path) -> None:
    """OUT must be absent, empty or an earlier ``synth ego4d`` output (then it is replaced)."""
    if out.exists() and any(out.iterdir()):
        if not (out / "synth_truth" / "dataset.json").is_file() or not (out / "ego4d.json").is_file():
            raise ValueError(f"{out} exists and is not empty (and is no earlier synth ego4d output)")
        for name in ("v2", "synth_truth"):
            shutil.rmtree(out / name, ignore_errors=True)
        (out / "ego4d.json").unlink()
    (out / "synth_truth").mkdir(parents=True, exist_ok=True)


def generate_ego4d(out: Path, cfg: SynthEgo4dConfig, workers: int | None = None) -> dict:
    """Write the dataset into ``out``; returns a summary (out, video_uids, narrations, faults, elapsed_s)."""
    t_start = time.perf_counter()
    cfg.validate()
    out = Path(out)
    _prepare_out(out)
    videos = plan_ego4d(cfg, out)
    workers = max(1, min(workers or 2, len(videos)))
    if workers == 1:
        entries = [render_ego4d_video(v) for v in videos]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            entries = list(pool.map(render_ego4d_video, videos))
    meta = {"date": DATE, "version": "v2", "description": "egoimu synth ego4d: synthetic data in Ego4D's layout",
            "videos": [metadata_entry(v) for v in videos]}
    (out / "ego4d.json").write_text(canonical_json(meta), encoding="utf-8")
    narr = {v.video_uid: narrations(v)[0] for v in videos}
    (out / "v2" / "annotations").mkdir(parents=True, exist_ok=True)
    (out / "v2" / "annotations" / "narration.json").write_text(canonical_json(narr), encoding="utf-8")
    cfg_dict = dataclasses.asdict(cfg)
    participants = {}
    for v in videos:
        style, bias = participant_params(cfg.seed, v.pnum)
        participants[str(v.pnum)] = {"fb_participant_id": v.fb_participant_id, "style": style.as_dict(), **bias}
    truth = {"generator": "egoimu synth ego4d", "seed": cfg.seed, "config": cfg_dict,
             "config_sha256": sha256_text(canonical_json(cfg_dict)), "participants": participants,
             "videos": {v.video_uid: e for v, e in zip(videos, entries)},
             "imu_model": "IMU CSV " + __doc__.split("IMU CSV ")[1].split("Narrations:")[0].strip(),
             "truth_keys": sorted(FRAME_KEYS + IMU_TRUTH_KEYS), "units": UNITS, "axes": AXES,
             "accl_scale": ACCL_SCALE, "gyro_scale": imu.GYRO_SCALE}
    (out / "synth_truth" / "dataset.json").write_text(canonical_json(truth), encoding="utf-8")
    kinds = FAULT_KINDS if "all" in cfg.faults else cfg.faults
    planted = plant_ego4d_faults(out, [v.video_uid for v in videos], _rng(cfg.seed, S_FAULTS), kinds) if kinds else []
    return {"out": str(out), "video_uids": [v.video_uid for v in videos],
            "narrations": sum(len(v.segments) for v in videos), "faults": planted,
            "elapsed_s": time.perf_counter() - t_start}


def _fault_kinds(text: str) -> tuple[str, ...]:
    try:
        return parse_fault_kinds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """The ``egoimu synth ego4d`` argument parser."""
    p = OneLineParser(prog="egoimu synth ego4d", description=__doc__.split("\n")[0], formatter_class=HelpFormatter)
    p.add_argument("out", type=Path, help="output folder (absent, empty, or an earlier synth ego4d output)")
    add_size_options(p, (4, "wearers, each an fb_participant_id (default: 4)"),
                     (1, "canonical videos per wearer (default: 1)"), (30.0, "length of each video, s (default: 30)"),
                     ((228, 128), "frame size (default: 228x128)"))
    p.add_argument("--seed", type=int, default=0, help="random seed (same options -> identical files)")
    p.add_argument("--faults", type=_fault_kinds, nargs="?", const=FAULT_KINDS, default=None, metavar="LIST|all",
                   help="plant Ego4D's documented quirks (all, or kinds separated by commas: "
                        f"{', '.join(FAULT_KINDS)}), listed in OUT/synth_truth/faults.json (needs >= "
                        f"{MIN_FAULT_VIDEOS} videos)")
    p.add_argument("--no-audio", action="store_true", help="no AAC audio track")
    p.add_argument("--workers", type=_positive_int, default=None, help="processes (default: 2)")
    return p


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status (bad options: one line on stderr, 2)."""
    p = build_parser()
    a = p.parse_args(argv)
    if problem := out_folder_problem(a.out):
        p.error(problem)
    cfg = SynthEgo4dConfig(participants=a.participants, videos_per_participant=a.videos_per_participant,
                           seconds=a.seconds, width=a.resolution[0], height=a.resolution[1], seed=a.seed,
                           faults=a.faults or (), audio=not a.no_audio)
    try:
        summary = generate_ego4d(a.out, cfg, workers=a.workers)
    except (ValueError, FileNotFoundError) as exc:
        print(f"egoimu synth ego4d: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(summary['video_uids'])} videos, {summary['narrations']} narrations, "
          f"{len(summary['faults'])} faults to {summary['out']} in {summary['elapsed_s']:.1f} s")
    return 0
