"""The build plan (pure): segments + probed recordings → clip rows, split assignment, shard tasks.

Every input segment ends as exactly one clip row: planned (to be written by a shard task, which may
still reject it) or rejected here with a reason. Nothing is dropped silently.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, replace
from fractions import Fraction

from egoimu.manifests.outputs import shard_rel_path
from egoimu.manifests.shardfmt import SPLITS
from egoimu.manifests.split_plan import canonical_split, plan_split, read_plan_csv
from egoimu.pipeline.clips import SSL_AUTO, ClipConfig, auto_ssl_stride, segment_clip_start, window_starts
from egoimu.pipeline.config import BuildConfig
from egoimu.pipeline.recordings import RecordingResult
from egoimu.pipeline.shard_writer import ClipTask, ShardResult, ShardTask, VideoSource
from egoimu.pipeline.sources.epic import DUPLICATE_ID, Rejection, Segment

#: Rejection of a clip that was not written because the build had no train clip (an empty outcome).
NO_TRAIN_CLIP = "no_train_clip"


@dataclass(frozen=True)
class ClipRow:
    """One row of clips.csv before the shard stage (``start`` None when rejected)."""

    clip_id: str
    narration_id: str
    participant_id: str
    video_id: str
    kind: str  # segment | window
    seg_start_s: float
    seg_stop_s: float
    start: Fraction | None
    verb: str
    verb_class: int
    noun_class: int
    split: str = ""
    reason: str = ""
    detail: str = ""

    @property
    def planned(self) -> bool:
        return not self.reason


def rows_from_sources(segments: list[Segment], rejections: list[Rejection]) -> list[ClipRow]:
    """Clip rows for every source row; ids made unique (a repeated narration_id is a rejection)."""
    rows: list[ClipRow] = []
    seen: set[str] = set()
    for seg in segments:
        row = ClipRow(seg.narration_id, seg.narration_id, seg.participant_id, seg.video_id, "segment",
                      seg.start_s, seg.stop_s, None, seg.verb, seg.verb_class, seg.noun_class)
        if seg.narration_id in seen:
            row = replace(row, clip_id=f"{seg.narration_id}@{seg.source}:{seg.line}", reason=DUPLICATE_ID,
                          detail=f"{seg.narration_id} already read from an earlier annotation file")
        seen.add(row.clip_id)
        rows.append(row)
    for rej in rejections:
        cid = rej.narration_id if rej.narration_id not in seen else f"{rej.narration_id}@{rej.source}:{rej.line}"
        seen.add(cid)
        rows.append(ClipRow(cid, rej.narration_id, rej.participant_id, rej.video_id, "segment", float("nan"),
                            float("nan"), None, rej.verb, -1, -1, reason=rej.reason,
                            detail=f"{rej.source} line {rej.line}: {rej.detail}"))
    return rows


def place_clips(rows: list[ClipRow], recordings: dict[str, RecordingResult], cfg: ClipConfig,
                missing: dict[str, tuple[str, str]]) -> list[ClipRow]:
    """Give each still-planned row its clip start, or the reason it cannot have one.

    ``missing``: video_id → (reason, detail) for videos without usable files (no video, no IMU).
    """
    out = []
    for row in rows:
        if not row.planned:
            out.append(row)
            continue
        if row.video_id in missing:
            reason, detail = missing[row.video_id]
            out.append(replace(row, reason=reason, detail=detail))
            continue
        rec = recordings[row.video_id]
        if not rec.ok:
            out.append(replace(row, reason=rec.reason, detail=rec.detail))
            continue
        start = segment_clip_start(row.seg_start_s, row.seg_stop_s, rec.n_frames, rec.fps, cfg)
        if isinstance(start, str):
            out.append(replace(row, reason=start, detail=f"segment {row.seg_start_s:.2f}-{row.seg_stop_s:.2f} s, "
                                                         f"video {rec.duration_s:.2f} s"))
        else:
            out.append(replace(row, start=start))
    return out


def assign_splits(rows: list[ClipRow], cfg: BuildConfig) -> dict[str, str]:
    """participant_id → split for every participant with a planned clip (subject-disjoint); {} when no row
    is planned (an empty outcome: :func:`empty_plan`)."""
    counts = Counter(r.participant_id for r in rows if r.planned)
    if not counts:
        return {}
    mode = cfg.split.mode
    if mode == "planned":
        plan = plan_split(dict(sorted(counts.items())), cfg.split.ratio, cfg.split.seed)
        print(f"[split] planned by clip counts: {plan.describe()}", file=sys.stderr)
        return dict(plan.assignment)
    table = canonical_split() if mode == "canonical" else read_plan_csv(cfg.split.file)
    uncovered = sorted(set(counts) - set(table))
    if uncovered:
        where = "the canonical EPIC-KITCHENS-100 head-motion split" if mode == "canonical" else cfg.split.file
        raise ValueError(f"participants {uncovered} are not assigned by {where}; use --split planned "
                         f"or a split file that covers them")
    return {p: table[p] for p in counts}


def with_splits(rows: list[ClipRow], assignment: dict[str, str]) -> list[ClipRow]:
    return [replace(r, split=assignment[r.participant_id]) if r.planned else r for r in rows]


def empty_plan(rows: list[ClipRow], needs_train: bool) -> str:
    """Why the plan is an empty outcome ('' when it is not): no row survived planning, or (``needs_train``: a
    build with IMU, whose normalisation statistics come from the train split) no planned clip is in train."""
    planned = Counter(r.split for r in rows if r.planned)
    if not planned:
        return f"no clip survived planning: all {len(rows)} input rows were rejected"
    if needs_train and not planned["train"]:
        return (f"no clip is planned for the train split ({sum(planned.values())} for "
                f"{' and '.join(sorted(planned))}), so the train-split normalisation statistics cannot be computed")
    return ""


def empty_written(results: list[ShardResult], needs_train: bool) -> str:
    """Why the written shards are an empty outcome ('' when they are not): every planned clip was rejected in the
    shard stage, or (``needs_train``) every train clip was."""
    written: Counter[str] = Counter()
    for r in results:
        written[r.split] += r.n_clips
    if not sum(written.values()):
        return "every planned clip was rejected while its shard was written"
    if needs_train and not written["train"]:
        return (f"every planned train clip was rejected while its shard was written, so the train-split "
                f"normalisation statistics cannot be computed (the {sum(written.values())} clips written for "
                f"{' and '.join(sorted(s for s in written if written[s]))} were removed with their shards)")
    return ""


def reject_planned(rows: list[ClipRow], reason: str, detail: str) -> list[ClipRow]:
    """``rows`` with every planned row rejected with ``reason`` and ``detail`` (the others as they are)."""
    return [replace(r, start=None, reason=reason, detail=detail) if r.planned else r for r in rows]


def _train_recordings(recordings: dict[str, RecordingResult], assignment: dict[str, str]
                      ) -> list[RecordingResult]:
    return [recordings[v] for v in sorted(recordings)
            if recordings[v].ok and assignment.get(recordings[v].participant_id) == "train"]


def resolve_ssl_windows(recordings: dict[str, RecordingResult], assignment: dict[str, str], cfg: ClipConfig,
                        rows: list[ClipRow]) -> tuple[ClipConfig, dict[str, object]]:
    """``cfg`` with an ``auto`` window stride made explicit (:func:`~egoimu.pipeline.clips.auto_ssl_stride` of the
    train split's usable video seconds, from each video's ``imu_from_s`` to its end, and of its planned segments
    among ``rows``; none for a build without IMU, e.g. DogCentric or EPIC-55, whose clips serve no contrastive
    objective), so that the build's config and hash say what was planned; and manifest.json's ``ssl_windows``
    record: ``requested`` ("auto", the number given, or None), ``stride_s`` (None: no windows),
    ``train_video_s`` (seconds), ``train_segments``."""
    train = [r for r in _train_recordings(recordings, assignment) if r.accl]
    seconds = sum(max(0.0, r.duration_s - r.imu_from_s) for r in train)
    segments = sum(1 for r in rows if r.planned and r.kind == "segment" and assignment.get(r.participant_id)
                   == "train")
    requested = cfg.ssl_stride_s
    stride = (requested if requested != SSL_AUTO else
              auto_ssl_stride(seconds, segments, cfg.geometry.fps) if train else None)
    return replace(cfg, ssl_stride_s=stride), {"requested": requested, "stride_s": stride,
                                               "train_video_s": round(seconds, 3), "train_segments": segments}


def describe_windows(record: dict[str, object], n: int) -> str:
    """One line on the unlabelled windows: ``n`` of them, the stride and where it came from (``record``:
    :func:`resolve_ssl_windows`')."""
    stride, requested = record["stride_s"], record["requested"]
    if stride is None:
        return ("unlabelled windows: none (--ssl-windows off)" if requested is None else
                f"unlabelled windows: none (auto: {record['train_segments']} labelled train clips need none; "
                f"--ssl-windows STRIDE_S adds them)" if record["train_video_s"] else
                "unlabelled windows: none (auto: no train video with IMU)")
    how = (f"auto for {record['train_segments']} labelled clips in {record['train_video_s']:.0f} s of train video"
           if requested == SSL_AUTO else "--ssl-windows")
    return f"unlabelled windows: {n} (2 s every {stride:g} s, {how}; --ssl-windows off: none)"


def window_rows(recordings: dict[str, RecordingResult], assignment: dict[str, str], cfg: ClipConfig
                ) -> list[ClipRow]:
    """Unlabelled 2 s windows tiled over every usable video of the train split (``--ssl-windows``); ``cfg``'s
    stride must be resolved (:func:`resolve_ssl_windows`)."""
    rows = []
    for rec in _train_recordings(recordings, assignment):
        vid = rec.video_id
        for start in window_starts(rec.n_frames, rec.fps, cfg, rec.imu_from_s):
            tick = int(start * cfg.geometry.fps)
            rows.append(ClipRow(f"{vid}_w{tick:07d}", "", rec.participant_id, vid, "window", float("nan"),
                                float("nan"), start, "", -1, -1, split="train"))
    return rows


def shard_tasks(rows: list[ClipRow], recordings: dict[str, RecordingResult], cfg: BuildConfig,
                with_imu: bool = True) -> list[ShardTask]:
    """Group planned clips per split, ordered by (video, start, id), into shards of ``clips_per_shard``."""
    tasks = []
    for split in SPLITS:
        mine = sorted((r for r in rows if r.planned and r.split == split),
                      key=lambda r: (r.video_id, r.start, r.clip_id))
        per = cfg.shard.clips_per_shard
        for index, first in enumerate(range(0, len(mine), per)):
            chunk = mine[first:first + per]
            clips = tuple(ClipTask(r.clip_id, r.narration_id, r.participant_id, r.video_id,
                                   (r.start.numerator, r.start.denominator), r.verb_class, r.noun_class)
                          for r in chunk)
            sources = tuple(_source(recordings[v]) for v in sorted({r.video_id for r in chunk}))
            tasks.append(ShardTask(split, index, shard_rel_path(split, index), clips, sources, with_imu))
    return tasks


def _source(rec: RecordingResult) -> VideoSource:
    return VideoSource(rec.video_id, rec.video, rec.accl, rec.gyro, (rec.fps_num, rec.fps_den), rec.n_frames,
                       rec.width, rec.height, rec.accl_sync, rec.gyro_sync, rec.start, rec.decord_safe,
                       rec.imu_format)
