"""Probe one recording (pure; one Dask task per video): hashes, exact video timing, IMU rates and sync.

The result becomes a row of ``recordings.csv`` and tells the clip plan each video's exact frame rate
and decodable frame count, and the shard tasks the sync to use. A recording that cannot be used is a
``rejected`` row with a reason; the segments of that video are then rejected with the same reason.

Source files may be symbolic links (or lie in linked folders) leading out of the root: they are followed
(:func:`egoimu.manifests.paths.source_path`); the result keeps the root-relative paths and the content's
sha256, and the probe prints where each link leads to stderr (the build's log), nowhere else.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from egoimu.manifests.files import sha256_file
from egoimu.manifests.memory import trim_heap
from egoimu.manifests.paths import PathEscapeError, link_target, source_path
from egoimu.pipeline.alignment import summarise_ms, truth_alignment_ms
from egoimu.pipeline.imu import ImuConfig, ImuCoverageError, ImuError, SyncParams, TimedStream
from egoimu.pipeline.imu_csv import NON_FINITE_IMU, STORED_DTYPE, beyond_stored_range
from egoimu.pipeline.imu_ego4d import MissingSensorError, describe_units
from egoimu.pipeline.imu_source import imu_config, read_imu_units
from egoimu.pipeline.imu_timing import prepare_stream, sync_for_video
from egoimu.pipeline.sources.sync_defaults import CANONICAL_TIMELINE, CONTAINER_TIMELINE, DURATION_RATIO
from egoimu.pipeline.sync_estimate import corrected, measure_sync
from egoimu.pipeline.video import VideoConfig, VideoError, VideoInfo, probe_video

VIDEO_UNREADABLE = "video_unreadable"
IMU_UNREADABLE = "imu_unreadable"
IMU_NOT_SPANNING = "imu_not_spanning_video"
VIDEO_TRUNCATED = "video_truncated"
ROTATED_VIDEO = "rotated_video"  # rotation metadata (display matrix / rotate tag): frames would be stored unrotated


@dataclass(frozen=True)
class RecordingTask:
    """One video to probe; paths relative to the dataset root ('' when absent). ``sync``: the video's entry
    of the build's sync table (read once by the driver), None to estimate the sync from the recording."""

    video_id: str
    participant_id: str
    video: str
    accl: str = ""
    gyro: str = ""
    sync: SyncParams | None = None
    imu_format: str = "csv"  # where accl/gyro are read from: csv files | gpmf (the video's telemetry track)


@dataclass(frozen=True)
class RecordingResult:
    """What a probe found. Sync: ``t_video = offset + scale · t_imu`` per sensor."""

    video_id: str
    participant_id: str
    video: str
    accl: str
    gyro: str
    status: str  # ok | rejected
    reason: str
    detail: str
    video_sha256: str = ""
    accl_sha256: str = ""
    gyro_sha256: str = ""
    fps_num: int = -1
    fps_den: int = -1
    n_frames: int = -1
    width: int = -1
    height: int = -1
    accl_rate_hz: float = float("nan")
    gyro_rate_hz: float = float("nan")
    accl_sync: tuple[float, float] = (0.0, 1.0)  # (offset_s, scale)
    gyro_sync: tuple[float, float] = (0.0, 1.0)
    start: tuple[int, int] = (0, 1)  # container time of frame 0, s (exact), for the ffmpeg seek
    decord_safe: bool = True  # decord returns the right frames for this container (see egoimu.pipeline.video)
    align_ms: tuple[float, float, float] = (float("nan"),) * 3  # vs synthetic truth: median, p95, max
    imu_rows_dropped: int = 0  # NaN + duplicate rows removed while cleaning (both files)
    imu_rows_reordered: int = 0  # non-monotonic rows fixed by sorting
    imu_rows_untimed: int = 0  # cleaned rows the time model could not time (epic-payload: a payload that lost rows)
    accl_time_convention: str = ""  # how the file's Milliseconds were read: epic-payload | sensor ('' if not read)
    gyro_time_convention: str = ""
    imu_format: str = "csv"  # csv | gpmf (egoimu.pipeline.imu_source)
    sync_mode: str = ""  # assumed | auto | table (a --sync TABLE entry); '' when the IMU was not read
    sync_offset_ms: float = float("nan")  # --sync auto: the measured model (used or not), its evidence
    sync_scale: float = float("nan")
    sync_peak_r: float = float("nan")
    sync_confidence: float = float("nan")
    sync_fallback: str = ""  # why auto kept the assumed model ('' when used or not measured)
    imu_units: str = ""  # ego4d: the units and axes inferred from the data (imu_ego4d.describe_units); '' otherwise
    imu_from_s: float = 0.0  # earliest video time a window may start with IMU under it (edge tolerance included)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def fps(self) -> Fraction:
        return Fraction(self.fps_num, self.fps_den)

    @property
    def duration_s(self) -> float:
        return self.n_frames / float(self.fps) if self.n_frames > 0 else float("nan")

    def sync(self) -> dict[str, SyncParams]:
        return {"accl": SyncParams(*self.accl_sync), "gyro": SyncParams(*self.gyro_sync)}

    def to_dict(self) -> dict:
        return asdict(self)




def probe_recording(task: RecordingTask, root: str, video_cfg: VideoConfig, imu_cfg: ImuConfig,
                    with_imu: bool = True, sync_mode: str = "assumed", prior: str = DURATION_RATIO) -> RecordingResult:
    """Probe ``task``'s files under ``root``; never raises for bad data (returns a rejected result).

    Args:
        root: dataset root; the task's relative paths must lie lexically inside it (no '..', not absolute);
            symbolic links among them are followed wherever they lead (their targets are printed to stderr).
        with_imu: read the IMU files too (False for video-only sources).
        sync_mode: ``assumed`` (the ``prior`` model) or ``auto`` (that model corrected by
            :func:`~egoimu.pipeline.sync_estimate.measure_sync` when confident; where the durations disagree
            beyond a clock error, from offset 0, scale 1); a task's table entry overrides both.
        prior: the source's prior (:mod:`egoimu.pipeline.sources.sync_defaults`): ``duration-ratio`` (offset 0,
            scale from the durations) or ``container-timeline`` (offset 0, scale 1: the IMU times are on the
            video's timeline already) — both reject an IMU that does not span the video — or
            ``canonical-timeline`` (offset 0, scale 1, no coverage test: clips without IMU are rejected alone).
    """
    base = dict(video_id=task.video_id, participant_id=task.participant_id, video=task.video,
                accl=task.accl, gyro=task.gyro, imu_format=task.imu_format)
    rootp = Path(root)
    try:
        _log_links(rootp, (task.video, task.accl, task.gyro) if with_imu else (task.video,))
        vpath = source_path(rootp, task.video)
        info = probe_video(vpath, timeout_s=video_cfg.timeout_s)
        if info.n_frames < 1:
            raise VideoError(str(vpath), "no decodable frames")
    except (VideoError, PathEscapeError) as exc:
        return RecordingResult(**base, status="rejected", reason=VIDEO_UNREADABLE, detail=str(exc))
    fields = dict(video_sha256=sha256_file(vpath), fps_num=info.fps.numerator, fps_den=info.fps.denominator,
                  n_frames=info.n_frames, width=info.width, height=info.height,
                  start=(info.start_s.numerator, info.start_s.denominator), decord_safe=info.decord_safe)
    if info.rotation_deg:
        return RecordingResult(**base, status="rejected", reason=ROTATED_VIDEO, **fields,
                               detail=f"{vpath}: its rotation metadata turns it by {info.rotation_deg:g} degrees "
                                      f"(counter-clockwise) for display; egoimu would store the frames unrotated and "
                                      f"does not rotate the IMU axes, so the video is not used")
    if not with_imu:
        return RecordingResult(**base, status="ok", reason="", detail="", **fields)
    duration = info.n_frames / float(info.fps)
    table = {task.video_id: task.sync} if task.sync is not None else None
    fields["sync_mode"] = mode = "table" if table else sync_mode
    rates, sync, ms, first, errors, dropped, reordered, untimed = {}, {}, {}, {}, [], 0, 0, 0
    coverage: ImuCoverageError | None = None  # the assumed model's rejection, kept while auto may still measure
    gyro: TimedStream | None = None  # kept for auto
    try:
        # one stream at a time, keeping only scalars: memory stays that of one stream, not two
        units: dict[str, Any] = {}  # ego4d: what was inferred of each sensor's units (recorded per video)
        for kind, rel in (("accl", task.accl), ("gyro", task.gyro)):
            path = source_path(rootp, rel)
            raw, units[kind] = read_imu_units(path, kind, task.imu_format)
            dropped += raw.report.n_dropped
            reordered += raw.report.n_nonmonotonic
            timed = prepare_stream(raw, imu_config(task.imu_format, imu_cfg))
            fields[f"{kind}_time_convention"] = timed.convention
            untimed += timed.n_untimed
            if not _any_sample_stored_finite(timed.values):
                culprit = beyond_stored_range(raw) or "the filtered values exceed its range"
                return RecordingResult(**base, status="rejected", reason=NON_FINITE_IMU, **fields,
                                       detail=f"{path}: {kind}: no sample is finite as {STORED_DTYPE} (the shards' "
                                              f"dtype) after the low-pass filter, which spreads a non-finite value "
                                              f"over its whole segment: {culprit}")
            rates[kind] = float(timed.rate_hz)
            try:
                if prior == CANONICAL_TIMELINE and not table:  # documented timeline; coverage checked per clip
                    sync[kind] = SyncParams(0.0, 1.0)
                else:
                    sync[kind] = sync_for_video(task.video_id, {kind: timed}, duration, table, imu_cfg)[kind]
                if prior == CONTAINER_TIMELINE and not table:  # checked above that the IMU spans the video
                    sync[kind] = SyncParams(0.0, 1.0)
            except ImuCoverageError as exc:
                if mode != "auto":
                    raise
                coverage, sync[kind] = coverage or exc, SyncParams(0.0, 1.0)
            ms[kind] = raw.ms
            first[kind] = float(timed.t_s[0])
            gyro = timed if kind == "gyro" and mode == "auto" else None
            del raw, timed
            trim_heap()
            fields[f"{kind}_sha256"] = fields["video_sha256"] if path == vpath else sha256_file(path)
        if any(units.values()):
            fields["imu_units"] = describe_units(units.get("accl"), units.get("gyro"))
        if gyro is not None:
            if coverage is not None:  # one prior for both sensors, so that the one correction fits both
                sync = {kind: SyncParams(0.0, 1.0) for kind in sync}
            sync = _auto_sync(vpath, info, gyro, sync, video_cfg, fields)
            if fields["sync_fallback"] and coverage is not None:
                raise coverage
            del gyro
    except ImuCoverageError as exc:
        if info.truncated:  # the IMU spans the recording, the file only part of it: no sync by duration
            return RecordingResult(**base, status="rejected", reason=VIDEO_TRUNCATED, **fields,
                                   detail=f"{vpath.name} decodes only its first {duration:.2f} s (truncated file), "
                                          f"so the IMU cannot be synced by duration; add a --sync entry to "
                                          f"use its decodable part ({exc})")
        return RecordingResult(**base, status="rejected", reason=IMU_NOT_SPANNING, detail=str(exc), **fields)
    except MissingSensorError as exc:  # a documented Ego4D quirk: the file has no acceleration (or gyro)
        return RecordingResult(**base, status="rejected", reason=f"no_{exc.kind}", detail=str(exc), **fields)
    except (ImuError, PathEscapeError) as exc:
        return RecordingResult(**base, status="rejected", reason=IMU_UNREADABLE, detail=str(exc), **fields)
    for kind, kind_ms in ms.items():
        err = truth_alignment_ms(rootp, Path(task.video).stem, kind, kind_ms, sync[kind], imu_cfg)
        if err is not None and err.size:
            errors.append(err)
    if errors:
        summary = summarise_ms(np.concatenate(errors))
        fields["align_ms"] = (summary["median"], summary["p95"], summary["max"])
    return RecordingResult(
        **base, status="ok", reason="", detail="", **fields,
        accl_rate_hz=rates["accl"], gyro_rate_hz=rates["gyro"],
        accl_sync=(sync["accl"].offset_s, sync["accl"].scale), gyro_sync=(sync["gyro"].offset_s, sync["gyro"].scale),
        imu_from_s=max(0.0, *(float(sync[k].to_video(t)) - imu_cfg.edge_tol_s for k, t in first.items())),
        imu_rows_dropped=dropped, imu_rows_reordered=reordered, imu_rows_untimed=untimed,
    )


def _auto_sync(vpath: Path, info: VideoInfo, gyro: TimedStream, sync: dict[str, SyncParams],
               video_cfg: VideoConfig, fields: dict) -> dict[str, SyncParams]:
    """``--sync auto``: measure the gyroscope against the video from its model ``sync['gyro']``, record the
    estimate in ``fields`` (the result's ``sync_*``) and return the models to use: both sensors corrected by the
    one measured lag when confident, else ``sync`` unchanged (``sync_fallback`` says why)."""
    est = measure_sync(vpath, info, gyro, sync["gyro"], video_cfg)
    measured = corrected(sync["gyro"], est.offset_change_s, est.scale_change)
    fields.update(sync_offset_ms=round(measured.offset_s * 1000.0, 3), sync_scale=measured.scale,
                  sync_peak_r=est.peak_r, sync_confidence=est.confidence, sync_fallback=est.reason.split(":")[0])
    if not est.used:
        return sync
    return {kind: corrected(s, est.offset_change_s, est.scale_change) for kind, s in sync.items()}


def _any_sample_stored_finite(values: np.ndarray) -> bool:
    """Whether some sample (a row of ``values`` (n, 3)) stays finite after the cast to the shards' dtype; when
    none does, the whole stream is lost and the recording is rejected here (else the shard stage rejects just
    the clips whose windows are not finite)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(values.astype(STORED_DTYPE)).all(axis=1).any())


def _log_links(root: Path, rels: tuple[str, ...]) -> None:
    """Print to stderr (the build's log) where each of the source files ``rels`` that is reached through a
    symbolic link really lies; the manifests keep the root-relative path only."""
    for rel in dict.fromkeys(filter(None, rels)):  # a GoPro file is its own IMU source: logged once
        try:
            target = link_target(root, rel)
        except PathEscapeError:  # reported when the file is opened
            continue
        if target is not None:
            print(f"[probe] {rel}: a symbolic link to {target} (followed; the manifests record {rel})",
                  file=sys.stderr, flush=True)
