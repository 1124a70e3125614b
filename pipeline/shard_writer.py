"""Build one shard (pure; one Dask task per shard): decode, resample, spectrogram, write HDF5.

A shard task holds an ordered list of clips (grouped by video, by start). For each video the IMU is
read and re-timed once and all its windows are resampled in one vectorised call; the video is decoded
once per run of nearby clips (:func:`egoimu.pipeline.video.decode_clips`), frames streaming straight into the
shard row by row, so memory is bounded by one run of clips, whatever the video's length.

Files are written under a temporary name in the shard's folder (:func:`egoimu.manifests.files.temp_path`) and
renamed when complete; a sidecar ``<shard>.json`` (:func:`egoimu.manifests.outputs.sidecar_rel_path`) records the
task's plan hash, the file's sha256 and the per-clip outcome, which is what ``--resume`` checks. Same task + same
config → the same bytes. A clip whose IMU window or spectrogram is not finite after the cast to float32 (a source
value such as 1e308) is rejected as ``non_finite_imu``, naming the channels and samples.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import h5py
import numpy as np

from egoimu.manifests.files import atomic_write_text, sha256_file, temp_path
from egoimu.manifests.memory import trim_heap
from egoimu.manifests.outputs import sidecar_rel_path
from egoimu.manifests.paths import source_path
from egoimu.manifests.shardfmt import IMU_CHANNELS, ShardLayout, create_shard, new_shard_file, write_clip
from egoimu.pipeline.config import BuildConfig
from egoimu.pipeline.imu import SyncParams
from egoimu.pipeline.imu_csv import NON_FINITE_IMU, STORED_DTYPE
from egoimu.pipeline.imu_source import imu_config, read_imu
from egoimu.pipeline.imu_timing import prepare_stream
from egoimu.pipeline.imu_windows import resample_windows
from egoimu.pipeline.spectrogram import RunningStats, spectrogram
from egoimu.pipeline.video import ClipError, VideoError, VideoInfo, decode_clips

IMU_WINDOW = "imu_window"  # rejection: window outside the IMU's coverage or over a gap
DECODE_ERROR = "decode_error"
IMU_READ_ERROR = "imu_unreadable"


@dataclass(frozen=True)
class ClipTask:
    """One clip to write; ``start`` is an exact multiple of 1/24 s as (numerator, denominator)."""

    clip_id: str
    narration_id: str
    participant_id: str
    video_id: str
    start: tuple[int, int]
    verb_class: int
    noun_class: int

    @property
    def start_s(self) -> Fraction:
        return Fraction(*self.start)


@dataclass(frozen=True)
class VideoSource:
    """What a shard task needs to know of one recording (from its probe). Paths relative to the root."""

    video_id: str
    video: str
    accl: str
    gyro: str
    fps: tuple[int, int]
    n_frames: int
    width: int
    height: int
    accl_sync: tuple[float, float] = (0.0, 1.0)
    gyro_sync: tuple[float, float] = (0.0, 1.0)
    start: tuple[int, int] = (0, 1)  # container time of frame 0 (s, exact)
    decord_safe: bool = True
    imu_format: str = "csv"  # csv | gpmf (egoimu.pipeline.imu_source)


@dataclass(frozen=True)
class ShardTask:
    split: str
    index: int
    rel_path: str  # relative to the output root, e.g. shards/train/train-00000.h5
    clips: tuple[ClipTask, ...]
    sources: tuple[VideoSource, ...]
    with_imu: bool = True

    def plan_hash(self, config_sha: str) -> str:
        """sha256 of everything that determines this shard's bytes (config included)."""
        payload = json.dumps({"config": config_sha, "task": asdict(self)}, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class ShardResult:
    rel_path: str
    split: str
    plan_hash: str
    sha256: str = ""  # '' when no clip survived (no file written)
    bytes: int = 0
    n_clips: int = 0
    participants: list[str] = field(default_factory=list)
    outcomes: list[tuple[str, int, str, str]] = field(default_factory=list)  # clip_id, row, reason, detail
    imu_stats: dict = field(default_factory=dict)
    spec_stats: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ShardResult:
        d = json.loads(text)
        d["outcomes"] = [tuple(o) for o in d["outcomes"]]
        return cls(**d)


def withdrawn(result: ShardResult, reason: str, detail: str) -> ShardResult:
    """``result`` as if its shard had not been written: every written clip rejected with ``reason`` and
    ``detail`` (an empty outcome removes the file, :func:`egoimu.pipeline.outdir.drop_shards`)."""
    return ShardResult(rel_path=result.rel_path, split=result.split, plan_hash=result.plan_hash,
                       outcomes=[(clip_id, -1, reason, detail) if row >= 0 else (clip_id, row, why, what)
                                 for clip_id, row, why, what in result.outcomes])


def sidecar_path(out: Path, rel_path: str) -> Path:
    """The sidecar of the shard ``rel_path`` (relative to ``out``)."""
    return out / sidecar_rel_path(rel_path)


def completed_result(out: str, task: ShardTask, config_sha: str) -> ShardResult | None:
    """The recorded result if ``task``'s shard is complete and intact (for ``--resume``), else None."""
    outp = Path(out)
    side = sidecar_path(outp, task.rel_path)
    try:
        result = ShardResult.from_json(side.read_text())
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if result.plan_hash != task.plan_hash(config_sha):
        return None
    if result.n_clips == 0:
        return result if not (outp / task.rel_path).exists() else None
    path = outp / task.rel_path
    if not path.is_file() or path.stat().st_size != result.bytes or sha256_file(path) != result.sha256:
        return None
    return result


def _layout(cfg: BuildConfig, jpeg_len: int = 0) -> ShardLayout:
    return ShardLayout(encoding=cfg.shard.encoding, geometry=cfg.geometry, jpeg_len=jpeg_len)


def _video_info(src: VideoSource, root: Path) -> VideoInfo:
    fps = Fraction(*src.fps)
    return VideoInfo(path=str(source_path(root, src.video)), fps=fps, n_frames=src.n_frames, width=src.width,
                     height=src.height, duration_s=src.n_frames / float(fps), pix_fmt="", full_range=False,
                     has_audio=False, codec="", start_s=Fraction(*src.start), decord_safe=src.decord_safe)


def _imu_phase(root: Path, task: ShardTask, cfg: BuildConfig, outcomes: dict[str, tuple[str, str]]
               ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """IMU windows (396, 6) and spectrograms (6, 33, 50) of every clip whose window is usable.

    Each video's IMU files are read, re-timed and filtered once; its windows are resampled together.
    Rejected clips go into ``outcomes``. Video-only tasks get zero IMU and spectrograms.
    """
    kept: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    sources = {s.video_id: s for s in task.sources}
    for video_id, clips in _by_video(task.clips).items():
        if not task.with_imu:
            zeros = np.zeros((cfg.geometry.imu_len, 6), np.float32)
            spec = np.zeros((6, cfg.geometry.spec_bins, cfg.geometry.spec_frames), np.float32)
            kept.update({c.clip_id: (zeros, spec) for c in clips})
            continue
        src = sources[video_id]
        starts = [float(c.start_s) for c in clips]
        imu = np.empty((len(clips), cfg.geometry.imu_len, 6), np.float32)
        reasons = np.full(len(clips), "", dtype=object)
        try:  # one sensor at a time: memory holds one stream of the video, not two
            for ci, (kind, rel, sync) in enumerate((("accl", src.accl, src.accl_sync),
                                                    ("gyro", src.gyro, src.gyro_sync))):
                timed = prepare_stream(read_imu(source_path(root, rel), kind, src.imu_format),
                                       imu_config(src.imu_format, cfg.imu))
                part, why = resample_windows({kind: timed}, SyncParams(*sync), starts, cfg.imu)
                del timed
                trim_heap()
                imu[:, :, 3 * ci:3 * ci + 3] = part[:, :, 3 * ci:3 * ci + 3]
                reasons = np.array([f"{a}; {b}" if a and b else a or b for a, b in zip(reasons, why)], dtype=object)
        except (OSError, ValueError) as exc:  # ImuError is a ValueError
            outcomes.update({c.clip_id: (IMU_READ_ERROR, str(exc)) for c in clips})
            continue
        for i in np.flatnonzero(reasons != ""):
            outcomes[clips[i].clip_id] = (IMU_WINDOW, str(reasons[i]))
        ok = _finite_clips(np.flatnonzero(reasons == ""), imu, "IMU window", starts, cfg, clips, outcomes)
        specs = spectrogram(imu[ok], cfg.spec) if ok.size else np.empty((0,))
        fine = _finite_clips(np.arange(ok.size), specs, "spectrogram", [starts[i] for i in ok], cfg,
                             [clips[i] for i in ok], outcomes)
        for j in fine:
            kept[clips[ok[j]].clip_id] = (imu[ok[j]], specs[j])
    trim_heap()  # resampling and spectrogram buffers (~16 MiB for a 10-minute video) back to the OS before decoding
    return kept


def _finite_clips(rows: np.ndarray, arrays: np.ndarray, what: str, starts: list[float], cfg: BuildConfig,
                  clips: list[ClipTask], outcomes: dict[str, tuple[str, str]]) -> np.ndarray:
    """The ``rows`` whose ``arrays[row]`` (IMU windows (n, 396, 6) or spectrograms (n, 6, 33, 50), float32 as
    stored) are all finite; each other clip goes into ``outcomes`` as ``non_finite_imu``, naming where."""
    finite = np.isfinite(arrays[rows]).reshape(len(rows), -1).all(axis=1) if len(rows) else np.ones(0, bool)
    for i in rows[~finite]:
        outcomes[clips[i].clip_id] = (NON_FINITE_IMU, _where_not_finite(arrays[i], what, starts[i], cfg))
    return rows[finite]


def _where_not_finite(arr: np.ndarray, what: str, start_s: float, cfg: BuildConfig) -> str:
    """Which channels and samples (IMU window (396, 6)) or frames (spectrogram (6, 33, 50)) of one clip are
    not finite, as a sentence."""
    bad = ~np.isfinite(arr)
    cause = ""
    if what == "IMU window":
        channels, steps = bad.any(axis=0), np.flatnonzero(bad.any(axis=1))
        rate, unit = cfg.geometry.imu_rate_hz, "samples"
        cause = (f"; a source value beyond {STORED_DTYPE}'s range (such as 1e308) spreads over its segment through "
                 f"the low-pass filter")
    else:
        channels, steps = bad.any(axis=(1, 2)), np.flatnonzero(bad.any(axis=(0, 1)))
        rate, unit = cfg.geometry.imu_rate_hz / cfg.geometry.hop, "frames"
    names = ", ".join(c for c, b in zip(IMU_CHANNELS, channels) if b)
    return (f"{what} not finite after the cast to {STORED_DTYPE}: {int(bad.sum())} of {bad.size} values, "
            f"channels {names}, {unit} {steps[0]}..{steps[-1]} (video {start_s + steps[0] / rate:.3f}-"
            f"{start_s + steps[-1] / rate:.3f} s){cause}")


def _by_video(clips: tuple[ClipTask, ...]) -> dict[str, list[ClipTask]]:
    out: dict[str, list[ClipTask]] = {}
    for clip in clips:
        out.setdefault(clip.video_id, []).append(clip)
    return out


def _decoded(root: Path, task: ShardTask, cfg: BuildConfig, wanted: set[str],
             outcomes: dict[str, tuple[str, str]]) -> Iterator[tuple[ClipTask, np.ndarray]]:
    """Decoded frames (48, S, S, 3) uint8 of the ``wanted`` clips, in task order; failures → outcomes.

    decode_clips yields in order of start and a task's clips of one video are sorted by start, so
    clips leave in task order and shard rows are deterministic.
    """
    sources = {s.video_id: s for s in task.sources}
    for video_id, all_clips in _by_video(task.clips).items():
        clips = [c for c in all_clips if c.clip_id in wanted]
        if not clips:
            continue
        src = sources[video_id]
        done: set[str] = set()
        try:
            for pos, frames in decode_clips(source_path(root, src.video), [c.start_s for c in clips],
                                            cfg.video, _video_info(src, root), on_error="yield"):
                done.add(clips[pos].clip_id)
                if isinstance(frames, ClipError):
                    outcomes[clips[pos].clip_id] = (DECODE_ERROR, str(frames))
                    continue
                yield clips[pos], frames
                del frames  # not held while the next clip decodes
        except VideoError as exc:
            for c in clips:
                if c.clip_id not in done:
                    outcomes[c.clip_id] = (DECODE_ERROR, str(exc))


def build_shard(task: ShardTask, root: str, out: str, cfg: BuildConfig, egoimu_version: str) -> ShardResult:
    """Write ``task``'s shard under ``out`` and return its result (also saved as the sidecar JSON).

    Every clip of the task ends as a written row or a rejection with its reason. Bad data never
    raises; only environment failures do (disk full, ffmpeg missing), which the graph retries.
    """
    rootp, outp = Path(root), Path(out)
    config_sha = cfg.sha256()
    final = outp / task.rel_path
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(final)
    outcomes: dict[str, tuple[str, str]] = {}
    imu_spec = _imu_phase(rootp, task, cfg, outcomes)
    frames = _decoded(rootp, task, cfg, set(imu_spec), outcomes)
    attrs = {"config_sha256": config_sha, "split": task.split, "shard_index": task.index,
             "egoimu_version": egoimu_version}
    written: list[ClipTask] = []
    try:
        if cfg.shard.encoding == "jpeg":
            written = _write_jpeg(tmp, frames, imu_spec, cfg, attrs)
        else:
            written = _write_raw(tmp, frames, imu_spec, cfg, attrs, n=len(imu_spec))
        result = ShardResult(rel_path=task.rel_path, split=task.split, plan_hash=task.plan_hash(config_sha))
        imu_stats, spec_stats = RunningStats(), RunningStats()
        for clip in written:
            imu, spec = imu_spec[clip.clip_id]
            imu_stats.update(imu.T[:, :, None])
            spec_stats.update(spec)
        if written:
            os.replace(tmp, final)
            result.sha256, result.bytes = sha256_file(final), final.stat().st_size
        else:
            final.unlink(missing_ok=True)
        rows = {c.clip_id: r for r, c in enumerate(written)}
        result.n_clips = len(written)
        result.participants = sorted({c.participant_id for c in written})
        result.outcomes = [(c.clip_id, rows.get(c.clip_id, -1), *outcomes.get(c.clip_id, ("", "")))
                           for c in task.clips]
        result.imu_stats, result.spec_stats = imu_stats.to_dict(), spec_stats.to_dict()
    finally:
        tmp.unlink(missing_ok=True)
    side = sidecar_path(outp, task.rel_path)
    atomic_write_text(side, result.to_json())
    return result


def _record(clip: ClipTask, imu: np.ndarray, spec: np.ndarray, cfg: BuildConfig) -> dict:
    start = clip.start_s
    return {"imu": imu, "spec": spec, "verb_class": clip.verb_class, "noun_class": clip.noun_class,
            "clip_id": clip.clip_id, "narration_id": clip.narration_id, "participant_id": clip.participant_id,
            "video_id": clip.video_id, "start_s": float(start), "end_s": float(start + cfg.geometry.window)}


def _write_raw(tmp: Path, frames: Iterator[tuple[ClipTask, np.ndarray]], imu_spec: dict, cfg: BuildConfig,
               attrs: dict, n: int) -> list[ClipTask]:
    """Stream clips into a shard of ``n`` rows; if decoding dropped some, compact into ``n_written`` rows."""
    if n == 0:
        return []
    written: list[ClipTask] = []
    layout = _layout(cfg)
    with new_shard_file(tmp) as h5:
        create_shard(h5, layout, n, attrs)
        for clip, video in frames:
            write_clip(h5, len(written), {**_record(clip, *imu_spec[clip.clip_id], cfg), "video": video}, layout)
            written.append(clip)
            del video  # freed before the next clip is decoded (peak memory: the clips in flight, not one more)
    if 0 < len(written) < n:
        _compact(tmp, len(written), layout, attrs)
    return written


def _compact(tmp: Path, n: int, layout: ShardLayout, attrs: dict) -> None:
    """Rewrite ``tmp`` keeping its first ``n`` rows (row by row: bounded memory)."""
    small = temp_path(tmp)
    with h5py.File(tmp, "r") as src, new_shard_file(small) as dst:
        create_shard(dst, layout, n, attrs)
        for name in src:
            for row in range(n):
                dst[name][row] = src[name][row]
    os.replace(small, tmp)


def _write_jpeg(tmp: Path, frames: Iterator[tuple[ClipTask, np.ndarray]], imu_spec: dict, cfg: BuildConfig,
                attrs: dict) -> list[ClipTask]:
    """Encode every clip's frames to JPEG (in memory: ~1 MB a clip), then write with L = longest clip."""
    import simplejpeg

    encoded: list[tuple[ClipTask, list[bytes]]] = []
    for clip, video in frames:
        jpegs = [simplejpeg.encode_jpeg(np.ascontiguousarray(f), quality=cfg.shard.jpeg_quality,
                                        colorspace="RGB", colorsubsampling="444") for f in video]
        encoded.append((clip, jpegs))
        del video
    if not encoded:
        return []
    layout = _layout(cfg, jpeg_len=max(sum(len(j) for j in jpegs) for _, jpegs in encoded))
    with new_shard_file(tmp) as h5:
        create_shard(h5, layout, len(encoded), attrs)
        for row, (clip, jpegs) in enumerate(encoded):
            write_clip(h5, row, {**_record(clip, *imu_spec[clip.clip_id], cfg), "video_jpeg_frames": jpegs},
                       layout)
    return [clip for clip, _ in encoded]
