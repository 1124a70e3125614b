"""``egoimu build --source gopro``: the source stage and the split of a folder of GoPro MP4s.

Sources: the MP4s (``ROOT/<participant>/*.MP4``, or listed with their participants in a ``--participants`` CSV)
and, with ``--annotations``, their labelled segments (:mod:`egoimu.pipeline.sources.gopro_labels`). Without
annotations the clips are unlabelled 2 s windows tiled over every video. Splits are subject-disjoint as for
EPIC (``--split planned`` by clip counts, or a ``participant_id,split`` FILE); a build of one participant puts
everything in train. Every input ends as one clips.csv row: a file of ROOT that is not a usable MP4, an
annotation row, a window, and a video that gave no clip (the probe's reason, ``video_too_short`` or
``unannotated_video``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from egoimu.pipeline.clips import VIDEO_TOO_SHORT, ClipConfig, last_start_tick
from egoimu.pipeline.config import BuildConfig
from egoimu.pipeline.imu_source import GPMF
from egoimu.pipeline.plan import (
    ClipRow,
    assign_splits,
    resolve_ssl_windows,
    rows_from_sources,
    window_rows,
    with_splits,
)
from egoimu.pipeline.recordings import RecordingResult, RecordingTask
from egoimu.pipeline.sources import gopro
from egoimu.pipeline.sources.gopro_labels import read_gopro_annotations


def gopro_sources(root: Path, args: argparse.Namespace, cfg: BuildConfig
                  ) -> tuple[list[ClipRow], list[RecordingTask], BuildConfig]:
    """Rows (annotation segments, the files of ROOT that are not usable MP4s) and one recording per MP4, its IMU
    from the file's GPMF track; the config, whose split is ``single`` (all in train) for one participant. Prints
    what the build will make of them. Raises AnnotationError / FileNotFoundError (one line)."""
    listed = gopro.read_participants(args.participants) if args.participants else None
    skip = [args.participants] if args.participants else []
    videos, rejections = gopro.scan_gopro(root, listed, skip + list(args.annotations or []))
    rows = [ClipRow(r.path, r.path, "unknown", "unknown", "segment", float("nan"), float("nan"), None, "", -1, -1,
                    reason=r.reason, detail=r.detail) for r in rejections]
    if args.annotations:
        rows = rows_from_sources(*read_gopro_annotations(args.annotations,
                                                         {v.video_id: v.participant_id for v in videos})) + rows
    tasks = [RecordingTask(v.video_id, v.participant_id, v.path, v.path, v.path, imu_format=GPMF) for v in videos]
    people = sorted({v.participant_id for v in videos})
    if len(people) == 1 and cfg.split.mode == "planned":
        cfg = cfg.replace(split=replace(cfg.split, mode="single", ratio=(1, 0, 0)))
    stride = cfg.clip.ssl_stride_s
    every = f"every {stride:g} s" if isinstance(stride, (int, float)) else "at a stride chosen from the video (auto)"
    clips = (f"{sum(r.planned for r in rows)} annotated segments" +
             (f" + unlabelled 2 s windows {every} over the train videos (--ssl-windows)" if stride else "")
             if args.annotations else
             f"no labels (no --annotations): unlabelled 2 s windows {every} (--ssl-windows)" if stride else
             "no labels (no --annotations) and --ssl-windows off: no clip")
    split = ("one participant: everything in train" if cfg.split.mode == "single" else
             f"split {cfg.split.mode}" + (f" {cfg.split.file}" if cfg.split.mode == "file" else
                                          f" (ratio {':'.join(f'{x:g}' for x in cfg.split.ratio)}), by clip counts"))
    print(f"[gopro] {len(tasks)} MP4s of {len(people)} participant(s); {clips}; {split}; IMU from each file's "
          f"GPMF track", file=sys.stderr)
    return rows, tasks, cfg


def gopro_rows(rows: list[ClipRow], recordings: dict[str, RecordingResult], cfg: BuildConfig, labelled: bool
               ) -> tuple[list[ClipRow], dict[str, str], BuildConfig, dict[str, object]]:
    """The placed rows with their splits, the windows and one row for each video that gave no clip; the
    assignment participant → split; ``cfg`` with its window stride resolved and manifest.json's ``ssl_windows``
    record (:func:`~egoimu.pipeline.plan.resolve_ssl_windows`). Unlabelled: windows over every usable video (an
    ``auto`` stride from all of them), split by window counts. Labelled: split by segment counts, then
    ``--ssl-windows`` windows over the train videos (as for EPIC).
    Raises ValueError (one line) when a split file does not cover a participant."""
    people = {r.participant_id for r in rows if r.planned} | {rec.participant_id for rec in recordings.values()
                                                              if rec.ok}
    if not labelled:
        clip, record = resolve_ssl_windows(recordings, dict.fromkeys(people, "train"), cfg.clip, rows)
        cfg = cfg.replace(clip=clip)
        rows = rows + window_rows(recordings, dict.fromkeys(people, "train"), cfg.clip)
    assignment = dict.fromkeys(sorted(people), "train") if cfg.split.mode == "single" else assign_splits(rows, cfg)
    rows = with_splits(rows, assignment)
    if labelled:
        clip, record = resolve_ssl_windows(recordings, assignment, cfg.clip, rows)
        cfg = cfg.replace(clip=clip)
        rows += window_rows(recordings, assignment, cfg.clip)
    return rows + unclipped_rows(rows, recordings, cfg.clip), assignment, cfg, record


def unclipped_rows(rows: list[ClipRow], recordings: dict[str, RecordingResult], cfg: ClipConfig) -> list[ClipRow]:
    """One rejected row per recording that no row names (its windows cannot be counted, so the video itself is
    the input that was rejected): the probe's reason, ``video_too_short``, or ``unannotated_video``."""
    named = {r.video_id for r in rows}
    out = []
    for vid, rec in sorted(recordings.items()):
        if vid in named:
            continue
        if not rec.ok:
            reason, detail = rec.reason, rec.detail
        elif last_start_tick(rec.n_frames, rec.fps, cfg) < 0:
            reason, detail = VIDEO_TOO_SHORT, f"video {rec.duration_s:.2f} s is shorter than one clip"
        else:
            reason, detail = gopro.UNANNOTATED_VIDEO, ("no annotation row names this video, and no --ssl-windows "
                                                       "window tiles it (windows tile the train participants' videos)")
        out.append(ClipRow(vid, "", rec.participant_id, vid, "window", float("nan"), float("nan"), None, "", -1, -1,
                           reason=reason, detail=detail))
    return out
