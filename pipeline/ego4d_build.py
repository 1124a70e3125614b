"""``egoimu build --source ego4d``: the source stage of an Ego4D root.

Read (:mod:`egoimu.pipeline.sources.ego4d`): ``ego4d.json`` (each video's wearer ``fb_participant_id``, device,
``has_imu``, duration), the narrations of one pass of ``v2/annotations/narration.json`` (``--narration-pass``,
default 1; ``--annotations FILE`` reads another narration file), and each narrated video's files
``v2/full_scale/<video_uid>.mp4`` and ``v2/imu/<video_uid>.csv``. Every narration becomes one 2 s clip centred
on its timestamp (as imu2clip places its windows), its text kept in clips.csv's ``verb`` column, or a recorded
rejection:

- the source's own (a bad or missing timestamp, one beyond the video, a video absent from ego4d.json, a
  malformed record: :mod:`egoimu.pipeline.sources.ego4d`);
- ``unknown_wearer``: ego4d.json gives the video no ``fb_participant_id``, so its wearer could be anyone, in any
  split — kept, the split could not be subject-disjoint; so its clips are rejected, counted and said;
- ``no_video_file`` / ``no_imu``: the canonical MP4 or the IMU CSV is absent (or ``has_imu`` is false).

The IMU goes through the pipeline's stages unchanged: ``imu_format`` ``ego4d`` reads the CSV's
``canonical_timestamp_ms`` as true sample times (the ``sensor`` convention), and the source's prior sync is
the documented canonical timeline (:mod:`egoimu.pipeline.sources.sync_defaults`): a clip with no IMU under it
(a trimmed part, a component without IMU) is rejected alone (``imu_window``), not its video.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from egoimu.pipeline.imu_source import EGO4D
from egoimu.pipeline.plan import ClipRow, rows_from_sources
from egoimu.pipeline.recordings import RecordingTask
from egoimu.pipeline.sources import ego4d
from egoimu.pipeline.sources.epic import Rejection, Segment


def _compact(seg: Segment | Rejection) -> Segment | Rejection:
    """``seg`` with ids that fit the shards: the video's :func:`~egoimu.pipeline.sources.ego4d.compact_id`, and
    the narration's ``<annotation_uid>:<i>`` as ``<the uid in 22 base64url characters>_<i>``
    (:func:`~egoimu.pipeline.sources.ego4d.short_uuid`: lossless, at most 32 characters for i < 10^9; the
    video_uid stands in for a missing annotation_uid). A rejection read from no narration keeps its
    ``<file>:<n>`` id."""
    nid, sep, index = seg.narration_id.rpartition(":")
    if sep and index.isdigit() and not nid.endswith(".json"):
        nid = f"{ego4d.short_uuid(nid)}_{index}"
    else:
        nid = seg.narration_id
    return replace(seg, narration_id=nid, video_id=ego4d.compact_id(seg.video_id))


def _within(seg: Segment, duration_s: float) -> Segment:
    """``seg`` (the narration's timestamp -/+ 1 s) cut to the video's [0, duration_sec]: a narration within 1 s
    of an end gets the video's first or last 2 s (the clip stage centres, then clamps into the video)."""
    return replace(seg, start_s=max(0.0, seg.start_s), stop_s=min(duration_s, seg.stop_s))


def narration_path(root: Path, annotations: list[Path] | None) -> Path:
    """The narration file to read: ``--annotations``' one file (checked: one, by the argument checks), else
    ROOT's ``v2/annotations/narration.json``."""
    return annotations[0] if annotations else root / ego4d.NARRATIONS


def ego4d_sources(root: Path, args: argparse.Namespace
                  ) -> tuple[list[ClipRow], list[RecordingTask], dict[str, tuple[str, str]], dict[str, Any]]:
    """Clip rows for every narration of the pass (planned or rejected), one recording per narrated video with
    files, the videos lacking them (reason, detail) and manifest.json's ``ego4d`` record (what was read and
    rejected). Raises :class:`~egoimu.pipeline.sources.epic.AnnotationError` (one line) for an unreadable
    ego4d.json or narration file."""
    videos, record_rejections = ego4d.read_metadata(root)
    pass_name = f"narration_pass_{args.narration_pass or 1}"
    path = narration_path(root, args.annotations)
    segments, rejections = ego4d.read_narrations(path, videos, pass_name)
    unknown = {s.video_id for s in segments if ego4d.wearer_problem(videos[s.video_id])}
    rejections = rejections + [
        Rejection(s.narration_id, "unknown", s.video_id, ego4d.UNKNOWN_WEARER,
                  f"{ego4d.wearer_problem(videos[s.video_id])[1]}: the wearer could be in any split, so the split "
                  f"could not stay subject-disjoint", s.source, s.line, s.verb)
        for s in segments if s.video_id in unknown]
    segments = [s for s in segments if s.video_id not in unknown]
    original = {ego4d.compact_id(uid): uid for uid in videos}
    rows = rows_from_sources([_compact(_within(s, videos[s.video_id].duration_s)) for s in segments],
                             [_compact(r) for r in rejections])
    tasks, missing = [], {}
    for vid in sorted({r.video_id for r in rows if r.planned}):
        meta = videos[original[vid]]
        files = ego4d.find_files(root, meta.video_uid)
        if problem := ego4d.file_problem(meta, files):
            missing[vid] = problem
        else:
            tasks.append(RecordingTask(vid, meta.participant_id, files[0], files[1], files[1], imu_format=EGO4D))
    wearers = {t.participant_id for t in tasks}
    print(f"[ego4d] {len(videos)} videos in ego4d.json ({len(record_rejections)} records skipped); {pass_name} of "
          f"{path.name}: {len(segments) + len(rejections)} narrations, {sum(r.planned for r in rows)} clips planned "
          f"on {len(tasks)} videos of {len(wearers)} wearers; {len(unknown)} videos of unknown wearer "
          f"({sum(r.reason == ego4d.UNKNOWN_WEARER for r in rows)} narrations rejected); {len(missing)} videos lack "
          f"files", file=sys.stderr)
    shown = path.resolve().relative_to(root) if path.resolve().is_relative_to(root) else path  # ROOT-relative
    record = {"narration_file": str(shown), "narration_pass": pass_name,
              "videos_in_metadata": len(videos), "metadata_records_skipped": [
                  {"record": r.narration_id, "reason": r.reason, "detail": r.detail} for r in record_rejections],
              "videos_of_unknown_wearer": sorted(unknown),
              "devices": {t.video_id: videos[original[t.video_id]].device for t in tasks},
              "clip_placement": "2 s centred on each narration's timestamp_sec (imu2clip's placement)",
              "ids": "video_uid and annotation_uid without their hyphens (32 hex digits; uuid.UUID(hex) restores them)"}
    return rows, tasks, missing, record
