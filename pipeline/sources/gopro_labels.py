"""Labels for GoPro recordings (``egoimu build --source gopro --annotations CSV``), in one of two formats told
apart by the header:

- EPIC-KITCHENS-100's (``narration_id`` in the header; read by :func:`epic.read_annotations`): its
  ``video_id`` is the MP4's file name without the extension and its ``participant_id`` must be that video's
  participant (folder or participants file), else ``participant_mismatch``;
- the minimal ``video_id,start_s,stop_s,verb_class`` (other columns ignored): times in seconds on the video's
  timeline, ``verb_class`` an EPIC-100 verb class id (0 take, 1 put, 2 wash, ... 96; an empty field: an
  unlabelled segment). Its segments are numbered per video in reading order: ``<video_id>_<n>`` from 0.

Every data row becomes a :class:`~egoimu.pipeline.sources.epic.Segment` or a recorded
:class:`~egoimu.pipeline.sources.epic.Rejection` naming the file and line, with EPIC's reasons: ``malformed_row``,
``bad_encoding``, ``bad_timestamp``, ``unknown_verb_class`` / ``unknown_noun_class`` (outside EPIC-100's 97 verb
and 300 noun classes), ``bad_id`` / ``id_too_long``, ``no_video_file`` (no video of the build has that id),
``participant_mismatch``.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from egoimu.pipeline.sources import epic
from egoimu.pipeline.sources.epic import (
    BAD_ENCODING,
    BAD_TIMESTAMP,
    MALFORMED_ROW,
    NO_VIDEO_FILE,
    PARTICIPANT_MISMATCH,
    UNKNOWN_VERB_CLASS,
    AnnotationError,
    Rejection,
    Segment,
    csv_records,
    undecodable,
)
from egoimu.pipeline.sources.ids import id_problem, printable, shown

MINIMAL_COLUMNS = ("video_id", "start_s", "stop_s", "verb_class")
N_VERB_CLASSES = 97  # EPIC-KITCHENS-100's verb classes (the trainer's verb objectives: train/config.py num_verbs)
N_NOUN_CLASSES = 300  # EPIC-KITCHENS-100's noun classes


def read_gopro_annotations(paths: list[Path], videos: dict[str, str]) -> tuple[list[Segment], list[Rejection]]:
    """Segments and rejections of every annotation file; ``videos``: video id → participant of the build's
    videos. ``len(segments) + len(rejections)`` is the number of data rows.

    Raises:
        AnnotationError: a file that cannot be read, or whose header is neither format.
    """
    segments: list[Segment] = []
    rejections: list[Rejection] = []
    numbers: Counter[str] = Counter()
    for path in paths:
        header = [h.strip() for h in next(csv_records(path))[1]]
        if "narration_id" in header:
            s, r = epic.read_annotations(path, range(N_VERB_CLASSES), range(N_NOUN_CLASSES), check_participant=False)
        elif all(c in header for c in MINIMAL_COLUMNS):
            s, r = _read_minimal(path, videos, numbers)
        else:
            raise AnnotationError(path, 1, f"header {header} is neither EPIC-KITCHENS-100's (narration_id, ...) nor "
                                           f"the minimal {','.join(MINIMAL_COLUMNS)}")
        rejections += r
        for seg in s:
            problem = _video_problem(seg.video_id, seg.participant_id, videos)
            if problem:
                rejections.append(Rejection(seg.narration_id, seg.participant_id, seg.video_id, *problem,
                                            seg.source, seg.line, seg.verb))
            else:
                segments.append(seg)
    return segments, rejections


def _video_problem(vid: str, pid: str, videos: dict[str, str]) -> tuple[str, str] | None:
    """Why a segment cannot be placed on a video of the build, or None."""
    if vid not in videos:
        return NO_VIDEO_FILE, (f"no video {shown(vid)} in this build (the video id is the MP4's file name without "
                               f"the extension)")
    if pid != videos[vid]:
        return PARTICIPANT_MISMATCH, (f"participant_id {shown(pid)} disagrees with video {shown(vid)}'s "
                                      f"participant {shown(videos[vid])}")
    return None


def _read_minimal(path: Path, videos: dict[str, str], numbers: Counter[str]
                  ) -> tuple[list[Segment], list[Rejection]]:
    """The rows of a ``video_id,start_s,stop_s,verb_class`` file (participant: the video's, 'unknown' for a
    video not in ``videos``, which the caller rejects)."""
    records = csv_records(path)
    header = [h.strip() for h in next(records)[1]]
    col = {name: header.index(name) for name in MINIMAL_COLUMNS}
    segments: list[Segment] = []
    rejections: list[Rejection] = []
    for line, fields, error in records:
        if fields == []:
            continue
        vid = printable(fields[col["video_id"]].strip()) if fields and len(fields) == len(header) else ""
        pid = videos.get(vid, "unknown")
        problem = _row_problem(fields, error, header, col)
        if isinstance(problem[0], str):
            rejections.append(Rejection(f"{path.name}:{line}", pid if vid else "", vid, *problem, path.name, line))
            continue
        start, stop, verb_class = problem
        rid = f"{vid}_{numbers[vid]}"
        if ids := id_problem({"narration_id": rid, "video_id": vid, "clip_id": rid}):
            rejections.append(Rejection(f"{path.name}:{line}", pid, vid, *ids, path.name, line))
            continue
        numbers[vid] += 1
        segments.append(Segment(rid, pid, vid, start, stop, "", verb_class, -1, path.name, line))
    return segments, rejections


def _row_problem(fields: list[str] | None, error: str, header: list[str], col: dict[str, int]
                 ) -> tuple[str, str] | tuple[float, float, int]:
    """A minimal row's ``(start_s, stop_s, verb_class)``, or ``(reason, detail)``."""
    if fields is None or len(fields) != len(header):
        return MALFORMED_ROW, error or f"{len(fields or [])} fields, header has {len(header)}"
    if bad := undecodable("".join(fields)):
        return BAD_ENCODING, f"byte(s) {bad} are not UTF-8 (annotation files must be UTF-8)"
    if not fields[col["video_id"]].strip():
        return MALFORMED_ROW, "empty video_id"
    try:
        start, stop = float(fields[col["start_s"]]), float(fields[col["stop_s"]])
    except ValueError:
        return BAD_TIMESTAMP, (f"start_s {shown(fields[col['start_s']])} / stop_s {shown(fields[col['stop_s']])}: "
                               f"expected seconds (a number)")
    if not (math.isfinite(start) and math.isfinite(stop)) or start < 0:
        return BAD_TIMESTAMP, f"start_s {start:g} / stop_s {stop:g}: expected finite seconds >= 0"
    if stop < start:
        return BAD_TIMESTAMP, f"stop_s {stop:g} before start_s {start:g}"
    text = fields[col["verb_class"]].strip()
    if not text:
        return start, stop, -1
    try:
        verb_class = int(text)
    except ValueError:
        return MALFORMED_ROW, f"non-integer class id: verb_class {shown(text)}"
    if not 0 <= verb_class < N_VERB_CLASSES:
        return UNKNOWN_VERB_CLASS, (f"verb_class {verb_class} is not one of EPIC-KITCHENS-100's {N_VERB_CLASSES} "
                                    f"verb classes (0..{N_VERB_CLASSES - 1})")
    return start, stop, verb_class
