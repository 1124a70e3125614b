"""EPIC-KITCHENS readers: annotation CSVs (EPIC-100 and EPIC-55 formats) and the recordings on disk.

Annotation rows become :class:`Segment` records or, when a row is damaged, :class:`Rejection` records
naming the file, the line and the reason — never a silent drop. A file that cannot be read as an
annotation file at all (missing, not CSV, no usable header) raises :class:`AnnotationError` naming the
file and line.

Formats (real files; see ../shared/data/README.md):

- EPIC-100 (``narration_id`` first): ``start_timestamp``/``stop_timestamp`` as ``HH:MM:SS.ss``; label
  columns ``verb``, ``verb_class``, ``noun_class`` may be absent (``*_timestamps.csv`` files), giving
  unlabelled segments (``verb_class = -1``).
- EPIC-55 (``uid`` first): integer ``uid`` instead of ``narration_id`` (we use ``<video_id>_uid<uid>``
  as the segment id), no narration timestamp, its own verb classes.

Layout of a dataset root: ``PXX/videos/PXX_1YY.MP4`` and ``PXX/meta_data/PXX_1YY-{accl,gyro}.csv``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

#: The 15 columns of EPIC_100_train.csv / EPIC_100_validation.csv, in order.
EPIC100_COLUMNS: tuple[str, ...] = (
    "narration_id", "participant_id", "video_id", "narration_timestamp", "start_timestamp",
    "stop_timestamp", "start_frame", "stop_frame", "narration", "verb", "verb_class", "noun",
    "noun_class", "all_nouns", "all_noun_classes",
)
#: The columns every annotation file must have (EPIC-100 timestamps-only files have just these + frames).
REQUIRED_COLUMNS: tuple[str, ...] = ("participant_id", "video_id", "start_timestamp", "stop_timestamp")

#: Stable rejection reasons of the source stage (recorded in clips.csv ``reason``).
MALFORMED_ROW = "malformed_row"
BAD_TIMESTAMP = "bad_timestamp"
UNKNOWN_VERB_CLASS = "unknown_verb_class"
DUPLICATE_ID = "duplicate_id"
NO_VIDEO_FILE = "no_video_file"
NO_IMU = "no_imu"

_TS = re.compile(r"^(\d+):([0-5]?\d):([0-5]?\d(?:\.\d*)?)$")
_VIDEO_EXTS = (".MP4", ".mp4")


class AnnotationError(ValueError):
    """An annotation file that cannot be read at all; names the file and line."""

    def __init__(self, path: Path | str, line: int | None, reason: str):
        self.path, self.line, self.reason = Path(path), line, reason
        where = f"{path}" + (f", line {line}" if line is not None else "")
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Segment:
    """One annotated action segment. Times in seconds on the video timeline."""

    narration_id: str
    participant_id: str
    video_id: str
    start_s: float
    stop_s: float
    verb: str  # raw verb as written ('' when unlabelled)
    verb_class: int  # -1 when unlabelled
    noun_class: int  # -1 when unlabelled
    source: str  # annotation file name (no directory)
    line: int  # 1-based line number in that file


@dataclass(frozen=True)
class Rejection:
    """A source row or segment that will not become a clip, and why."""

    narration_id: str  # the row's id, or '<file>:<line>' when the row has none
    participant_id: str
    video_id: str
    reason: str  # one of the module's reason constants
    detail: str
    source: str
    line: int


def parse_timestamp(text: str) -> float:
    """``HH:MM:SS.ss`` (any number of decimals) → seconds (float). Raises ValueError on bad input."""
    m = _TS.match(text.strip())
    if not m:
        raise ValueError(f"not a HH:MM:SS.ss timestamp: {text!r}")
    h, mnt, sec = m.groups()
    return int(h) * 3600 + int(mnt) * 60 + float(sec)


def _int_or_none(text: str) -> int | None:
    text = text.strip()
    if text == "":
        return None
    return int(text)


def read_annotations(path: Path | str, verb_classes: Iterable[int] | None = None
                     ) -> tuple[list[Segment], list[Rejection]]:
    """Read one EPIC-100 or EPIC-55 annotation CSV.

    Args:
        path: the CSV file.
        verb_classes: the known verb class ids; a row whose ``verb_class`` is not among them becomes an
            ``unknown_verb_class`` rejection. ``None`` accepts any id.

    Returns:
        ``(segments, rejections)``; ``len(segments) + len(rejections)`` equals the number of data rows.

    Raises:
        AnnotationError: the file is missing, empty, or its header lacks a required column.
    """
    path = Path(path)
    known = None if verb_classes is None else set(int(v) for v in verb_classes)
    try:
        handle = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise AnnotationError(path, None, f"cannot open annotation file: {exc.strerror}") from exc
    segments: list[Segment] = []
    rejections: list[Rejection] = []
    seen: set[str] = set()
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise AnnotationError(path, 1, "empty file: no header") from None
        except csv.Error as exc:
            raise AnnotationError(path, 1, f"unreadable header: {exc}") from exc
        header = [h.strip() for h in header]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise AnnotationError(path, 1, f"header lacks required column(s) {missing}; got {header}")
        epic55 = "uid" in header and "narration_id" not in header
        if not epic55 and "narration_id" not in header:
            raise AnnotationError(path, 1, "header has neither 'narration_id' (EPIC-100) nor 'uid' (EPIC-55)")
        col = {name: i for i, name in enumerate(header)}
        labelled = "verb_class" in col
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                line = reader.line_num
                rejections.append(Rejection(f"{path.name}:{line}", "", "", MALFORMED_ROW, str(exc),
                                            path.name, line))
                continue
            line = reader.line_num
            if not fields:
                continue  # blank line
            if len(fields) != len(header):
                rid = fields[col["narration_id"]] if not epic55 and fields else f"{path.name}:{line}"
                rejections.append(Rejection(
                    rid or f"{path.name}:{line}", "", "", MALFORMED_ROW,
                    f"{len(fields)} fields, header has {len(header)}", path.name, line))
                continue
            rec = {name: fields[i] for name, i in col.items()}
            vid, pid = rec["video_id"].strip(), rec["participant_id"].strip()
            rid = (f"{vid}_uid{rec['uid'].strip()}" if epic55 else rec["narration_id"].strip())

            def reject(reason: str, detail: str, rid=rid, vid=vid, pid=pid, line=line) -> None:
                rejections.append(Rejection(rid or f"{path.name}:{line}", pid, vid, reason, detail,
                                            path.name, line))

            if not rid or not vid or not pid:
                reject(MALFORMED_ROW, "empty id field")
                continue
            if rid in seen:
                reject(DUPLICATE_ID, f"{rid} appears more than once in {path.name}")
                continue
            try:
                start = parse_timestamp(rec["start_timestamp"])
                stop = parse_timestamp(rec["stop_timestamp"])
            except ValueError as exc:
                reject(BAD_TIMESTAMP, str(exc))
                continue
            if not stop >= start:
                reject(BAD_TIMESTAMP, f"stop {rec['stop_timestamp']} before start {rec['start_timestamp']}")
                continue
            verb_class = noun_class = -1
            verb = ""
            if labelled:
                try:
                    vc = _int_or_none(rec["verb_class"])
                    nc = _int_or_none(rec.get("noun_class", ""))
                except ValueError as exc:
                    reject(MALFORMED_ROW, f"non-integer class id: {exc}")
                    continue
                verb_class = -1 if vc is None else vc
                noun_class = -1 if nc is None else nc
                verb = rec.get("verb", "").strip()
                if known is not None and verb_class >= 0 and verb_class not in known:
                    reject(UNKNOWN_VERB_CLASS, f"verb_class {verb_class} ({verb!r}) is not in the verb classes")
                    continue
            seen.add(rid)
            segments.append(Segment(rid, pid, vid, start, stop, verb, verb_class, noun_class,
                                    path.name, line))
    return segments, rejections


def read_class_ids(path: Path | str) -> list[int]:
    """Ids of an ``EPIC_100_{verb,noun}_classes.csv`` file (``id,key,instances,category``)."""
    path = Path(path)
    try:
        df = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise AnnotationError(path, None, f"cannot read class file: {exc}") from exc
    if "id" not in df.columns or "key" not in df.columns:
        raise AnnotationError(path, 1, f"class file needs columns id,key; got {list(df.columns)}")
    return [int(v) for v in df["id"]]


@dataclass(frozen=True)
class RecordingFiles:
    """Files of one video in a dataset root; paths are relative to the root (POSIX), '' when absent."""

    video_id: str
    participant_id: str
    video: str
    accl: str
    gyro: str

    @property
    def has_imu(self) -> bool:
        return bool(self.accl and self.gyro)


def participant_of(video_id: str) -> str:
    """``'P01_101' -> 'P01'``."""
    return video_id.split("_", 1)[0]


def find_recording(root: Path, video_id: str) -> RecordingFiles:
    """Locate a video's MP4 and IMU CSVs under ``root`` (EPIC layout). Missing files give ''."""
    pid = participant_of(video_id)
    video = ""
    for ext in _VIDEO_EXTS:
        rel = f"{pid}/videos/{video_id}{ext}"
        if (root / rel).is_file():
            video = rel
            break
    accl = f"{pid}/meta_data/{video_id}-accl.csv"
    gyro = f"{pid}/meta_data/{video_id}-gyro.csv"
    return RecordingFiles(
        video_id, pid, video,
        accl if (root / accl).is_file() else "",
        gyro if (root / gyro).is_file() else "",
    )


def default_annotation_files(root: Path) -> list[Path]:
    """The annotation CSVs a dataset root carries: EPIC_100_train.csv and EPIC_100_validation.csv."""
    found = [root / name for name in ("EPIC_100_train.csv", "EPIC_100_validation.csv") if (root / name).is_file()]
    if not found:
        raise AnnotationError(root, None, "no EPIC_100_train.csv or EPIC_100_validation.csv in the dataset "
                                          "root; pass --annotations")
    return found
