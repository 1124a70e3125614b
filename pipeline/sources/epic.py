"""EPIC-KITCHENS readers: annotation CSVs (EPIC-100 and EPIC-55 formats), class tables and the recordings on disk.

Annotation rows become :class:`Segment` records or, when a row is damaged, :class:`Rejection` records
naming the file, the line and the reason — never a silent drop, never a traceback. A file that cannot be
read as an annotation file at all (missing, not CSV, no usable header) raises :class:`AnnotationError`
naming the file and line.

Files are UTF-8, with or without a byte-order mark. A line holding bytes that are not UTF-8 is a
``bad_encoding`` rejection of that line; the rest of the file is read. A record is one line: a quote left open
is a ``malformed_row`` of its own line and never carries the rows after it away.

Formats (real files; see ../shared/data/README.md):

- EPIC-100 (``narration_id`` first): ``start_timestamp``/``stop_timestamp`` as ``HH:MM:SS.ss``; label
  columns ``verb``, ``verb_class``, ``noun_class`` may be absent (``*_timestamps.csv`` files), giving
  unlabelled segments (``verb_class = -1``).
- EPIC-55 (``uid`` and no ``narration_id`` in the header): integer ``uid`` instead of ``narration_id``
  (we use ``<video_id>_uid<uid>`` as the segment id), no narration timestamp, its own 125 verb classes
  with other ids. Its labels are mapped to EPIC-100 classes by an :class:`Epic55Mapping`
  (:mod:`egoimu.pipeline.sources.epic55` builds it); a labelled EPIC-55 file without one is an error.

Layout of a dataset root: ``PXX/videos/PXX_1YY.MP4`` and ``PXX/meta_data/PXX_1YY-{accl,gyro}.csv``; a
segment's participant must be its video's (``P02`` for ``P02_101``), or it is a ``participant_mismatch``.
"""

from __future__ import annotations

import ast
import csv
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from egoimu.pipeline.sources.ids import bad_chars, printable, shown, too_long

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
BAD_ENCODING = "bad_encoding"
BAD_TIMESTAMP = "bad_timestamp"
UNKNOWN_VERB_CLASS = "unknown_verb_class"
UNKNOWN_NOUN_CLASS = "unknown_noun_class"
UNMAPPED_VERB = "unmapped_verb"
PARTICIPANT_MISMATCH = "participant_mismatch"
DUPLICATE_ID = "duplicate_id"
NO_VIDEO_FILE = "no_video_file"
NO_IMU = "no_imu"

_TS = re.compile(r"^(\d+):([0-5]?\d):([0-5]?\d(?:\.\d*)?)$")
_VIDEO_EXTS = (".MP4", ".mp4")
_UNDECODED = re.compile("[\udc80-\udcff]+")  # bytes that were not UTF-8 (errors='surrogateescape')
#: The largest class id (the shards store classes as int32).
CLASS_MAX = 2**31 - 1


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
    verb_class: int  # EPIC-100 verb class; -1 when unlabelled
    noun_class: int  # EPIC-100 noun class; -1 when unlabelled (or an EPIC-55 noun that maps to none)
    source: str  # annotation file name (no directory)
    line: int  # 1-based line number in that file
    noun: str = ""  # raw noun as written
    epic55_verb_class: int | None = None  # an EPIC-55 row's own verb_class (-1 if empty); None otherwise


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
    verb: str = ""  # the raw verb, where the reason is about it (unmapped_verb)


@dataclass(frozen=True)
class Epic55Mapping:
    """How an EPIC-55 row's labels become EPIC-100 classes (built by ``epic55.load_mapping``).

    A verb is looked up by its raw text in ``verb_map`` (the user's ``--verb-map`` file), then by the row's
    EPIC-55 class in ``class_map`` (the same file in its other form), then by its raw text in
    ``verb_instances`` (EPIC-100's ``instances`` lists); a noun by its raw text in ``noun_instances``, else -1.
    ``epic55_verb_ids``: the EPIC-55 class ids (``EPIC_verb_classes.csv``) or None when not known.
    ``sources``: what the mapping was made of (file names, sha256), for manifest.json.
    """

    verb_map: Mapping[str, int]
    class_map: Mapping[int, int]
    verb_instances: Mapping[str, int]
    noun_instances: Mapping[str, int]
    epic55_verb_ids: frozenset[int] | None = None
    sources: Mapping[str, object] | None = None

    def verb_class(self, verb: str, epic55_class: int) -> tuple[int, str] | None:
        """``(EPIC-100 verb class, 'verb_map' | 'instances')`` for a row's raw verb and EPIC-55 class."""
        if verb in self.verb_map:
            return self.verb_map[verb], "verb_map"
        if epic55_class in self.class_map:
            return self.class_map[epic55_class], "verb_map"
        if verb in self.verb_instances:
            return self.verb_instances[verb], "instances"
        return None

    def noun_class(self, noun: str) -> int:
        """EPIC-100 noun class of a raw noun, -1 when it maps to none."""
        return self.noun_instances.get(noun, -1)


#: The error for a labelled EPIC-55 file read without a mapping.
EPIC55_NEEDS_MAPPING = ("EPIC-55 labels (125 verb classes numbered differently from EPIC-100's) cannot be taken as "
                        "EPIC-100 classes: put EPIC-100's EPIC_100_verb_classes.csv in the dataset root (its "
                        "'instances' map raw verbs to classes) or pass --verb-map CSV (see README, 'EPIC-55 labels')")


def parse_timestamp(text: str) -> float:
    """``HH:MM:SS.ss`` (any number of decimals) → seconds (float). Raises ValueError on bad input."""
    m = _TS.match(text.strip())
    if not m:
        raise ValueError(f"not a HH:MM:SS.ss timestamp: {text!r}")
    h, mnt, sec = m.groups()
    return int(h) * 3600 + int(mnt) * 60 + float(sec)


def undecodable(text: str) -> str:
    """The bytes of ``text`` that were not UTF-8, as ``0xe9 0xff``; '' when there are none."""
    return " ".join(f"0x{b:02x}" for run in _UNDECODED.findall(text)
                    for b in run.encode("utf-8", "surrogateescape"))


class _Lines:
    """The lines of an open text file, remembering those the csv reader took for its current record."""

    def __init__(self, handle: Iterator[str]):
        self.handle, self.taken = handle, []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self.handle)
        self.taken.append(line)
        return line


def _line_by_line(lines: list[str], first: int) -> Iterator[tuple[int, list[str] | None, str]]:
    """``(line, fields, error)`` of each of ``lines`` (file lines ``first``, ``first + 1``, ...) parsed on its own:
    a record is one line, so a quote left open on one line must not swallow the rows after it."""
    for i, raw in enumerate(lines):
        try:
            fields = next(csv.reader([raw]), [])
        except csv.Error as exc:
            yield first + i, None, printable(str(exc))
            continue
        if any("\n" in f or "\r" in f for f in fields):
            yield first + i, None, "a quoted field is not closed on its line (unterminated quote; a record is one line)"
        else:
            yield first + i, fields, ""


def csv_records(path: Path | str, what: str = "annotation file") -> Iterator[tuple[int, list[str] | None, str]]:
    """``(line, fields, error)`` for each record of a UTF-8 CSV (a byte-order mark is skipped); the first is the
    header (``error`` always ''). ``fields`` is None and ``error`` says why when the csv module cannot parse a
    record; bytes that are not UTF-8 arrive as lone surrogates (see :func:`undecodable`), so that the caller
    can reject just that line. ``line``: the file line of the record.

    A record is one line (as in EPIC's files): where a quote left open would carry a record over line breaks,
    each of those lines is parsed on its own (the one with the open quote is an error), so no row is swallowed.

    Raises:
        AnnotationError: the file cannot be opened, is empty, or its header is not UTF-8 or not CSV.
    """
    path = Path(path)
    try:
        handle = open(path, newline="", encoding="utf-8-sig", errors="surrogateescape")
    except OSError as exc:
        raise AnnotationError(path, None, f"cannot open {what}: {exc.strerror}") from exc
    with handle:
        lines = _Lines(handle)
        reader = csv.reader(lines)
        try:
            header = next(reader)
        except StopIteration:
            raise AnnotationError(path, 1, "empty file: no header") from None
        except csv.Error as exc:
            raise AnnotationError(path, 1, f"unreadable header: {exc}") from exc
        bad = undecodable("".join(header))
        if bad:
            raise AnnotationError(path, 1, f"the header is not UTF-8 (undecodable byte(s) {bad}): a {what} "
                                           f"must be UTF-8")
        yield 1, header, ""
        while True:
            lines.taken = []
            try:
                fields, error = next(reader), ""
            except StopIteration:
                return
            except csv.Error as exc:
                fields, error = None, printable(str(exc))
            if len(lines.taken) > 1:
                yield from _line_by_line(lines.taken, reader.line_num - len(lines.taken) + 1)
            else:
                yield reader.line_num, fields, error


def _int_or_none(text: str) -> int | None:
    text = text.strip()
    if text == "":
        return None
    return int(text)


def read_annotations(path: Path | str, verb_classes: Iterable[int] | None = None,
                     noun_classes: Iterable[int] | None = None, epic55: Epic55Mapping | None = None,
                     check_participant: bool = True) -> tuple[list[Segment], list[Rejection]]:
    """Read one EPIC-100 or EPIC-55 annotation CSV.

    Args:
        path: the CSV file.
        verb_classes, noun_classes: the known EPIC-100 class ids; an EPIC-100 row whose class is not among
            them becomes an ``unknown_verb_class`` / ``unknown_noun_class`` rejection. ``None`` accepts any
            id from 0 to 2**31 - 1. A negative class is always rejected (an empty field means unlabelled).
        epic55: how EPIC-55 labels become EPIC-100 classes; required for a labelled EPIC-55 file. A row
            whose verb maps to no EPIC-100 class is an ``unmapped_verb`` rejection; a noun that maps to
            none gives ``noun_class`` -1.
        check_participant: reject (``participant_mismatch``) a row whose participant is not its video id's
            prefix (EPIC's ``P02`` for ``P02_101``); False for videos named otherwise (GoPro files), whose
            caller checks the participant against its own listing.

    Returns:
        ``(segments, rejections)``; ``len(segments) + len(rejections)`` equals the number of data rows.

    Raises:
        AnnotationError: the file is missing or empty, its header is not UTF-8 or lacks a required column,
            or it is a labelled EPIC-55 file and ``epic55`` is None.
    """
    path = Path(path)
    known_verbs = None if verb_classes is None else {int(v) for v in verb_classes}
    known_nouns = None if noun_classes is None else {int(v) for v in noun_classes}
    records = csv_records(path)
    header = [h.strip() for h in next(records)[1]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise AnnotationError(path, 1, f"header lacks required column(s) {missing}; got {header}")
    is55 = "uid" in header and "narration_id" not in header
    if not is55 and "narration_id" not in header:
        raise AnnotationError(path, 1, "header has neither 'narration_id' (EPIC-100) nor 'uid' (EPIC-55)")
    col = {name: i for i, name in enumerate(header)}
    labelled = "verb_class" in col
    if is55 and labelled and epic55 is None:
        raise AnnotationError(path, 1, EPIC55_NEEDS_MAPPING)
    segments: list[Segment] = []
    rejections: list[Rejection] = []
    seen: set[str] = set()
    for line, fields, error in records:
        where = f"{path.name}:{line}"
        if fields is None:
            rejections.append(Rejection(where, "", "", MALFORMED_ROW, error, path.name, line))
            continue
        if not fields:
            continue  # blank line
        if len(fields) != len(header):
            rid = printable(fields[col["narration_id"]].strip()) if not is55 else ""
            rejections.append(Rejection(rid or where, "", "", MALFORMED_ROW,
                                        f"{len(fields)} fields, header has {len(header)}", path.name, line))
            continue
        rec = {name: fields[i] for name, i in col.items()}
        vid, pid = rec["video_id"].strip(), rec["participant_id"].strip()
        uid = rec["uid"].strip() if is55 else ""
        rid = f"{vid}_uid{uid}" if is55 else rec["narration_id"].strip()

        def reject(reason: str, detail: str, verb: str = "", rid=rid, vid=vid, pid=pid, line=line,
                   where=where) -> None:
            rejections.append(Rejection(printable(rid) or where, printable(pid), printable(vid), reason, detail,
                                        path.name, line, verb))

        bad = next(((name, b) for name, text in rec.items() if (b := undecodable(text))), None)
        if bad:
            reject(BAD_ENCODING, f"column {bad[0]!r} holds byte(s) {bad[1]} that are not UTF-8 "
                                 f"(annotation files must be UTF-8)")
            continue
        if not vid or not pid or (not uid if is55 else not rid):
            reject(MALFORMED_ROW, "empty id field")
            continue
        ids = {"narration_id": rid, "participant_id": pid, "video_id": vid, "clip_id": rid}
        problem = too_long(ids)
        if problem is None and check_participant and pid != participant_of(vid):
            owner = printable(participant_of(vid))
            problem = (PARTICIPANT_MISMATCH, f"participant_id {shown(pid)} disagrees with video_id {shown(vid)} "
                                             f"(participant '{owner}', found under {owner}/videos/)")
        problem = problem or bad_chars(ids)
        if problem:
            reject(*problem)
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
        verb, noun = rec.get("verb", "").strip(), rec.get("noun", "").strip()
        labels = (-1, -1, None)
        if labelled:
            labels = _labels(rec, verb, noun, known_verbs, known_nouns, epic55 if is55 else None)
            if isinstance(labels[0], str):
                reject(*labels)
                continue
        seen.add(rid)
        segments.append(Segment(rid, pid, vid, start, stop, verb if labelled else "", labels[0], labels[1],
                                path.name, line, noun, labels[2]))
    return segments, rejections


def _labels(rec: dict[str, str], verb: str, noun: str, known_verbs: set[int] | None, known_nouns: set[int] | None,
            epic55: Epic55Mapping | None) -> tuple[int, int, int | None] | tuple[str, str, str]:
    """A labelled row's ``(verb_class, noun_class, epic55_verb_class)``, or ``(reason, detail, verb)``."""
    try:
        vc = _int_or_none(rec["verb_class"])
        nc = _int_or_none(rec.get("noun_class", ""))
    except ValueError as exc:
        return MALFORMED_ROW, f"non-integer class id: {exc}", ""
    for name, value, known, reason, raw in (("verb_class", vc, known_verbs, UNKNOWN_VERB_CLASS, verb),
                                             ("noun_class", nc, known_nouns, UNKNOWN_NOUN_CLASS, noun)):
        if value is None:
            continue
        what = "EPIC-55 " if epic55 is not None else ""
        if value < 0:
            return reason, f"{what}{name} {value} ({raw!r}) is negative (an empty field means unlabelled)", ""
        if value > CLASS_MAX:
            return reason, f"{what}{name} {value} ({raw!r}) is beyond the int32 the shards store", ""
        if epic55 is None and known is not None and value not in known:
            return reason, f"{name} {value} ({raw!r}) is not among the {len(known)} known {name[:4]} classes", ""
    if epic55 is None:
        return (-1 if vc is None else vc), (-1 if nc is None else nc), None
    if vc is None and not verb:
        return -1, -1, None  # an unlabelled EPIC-55 row
    vc = -1 if vc is None else vc
    if epic55.epic55_verb_ids is not None and vc >= 0 and vc not in epic55.epic55_verb_ids:
        return UNKNOWN_VERB_CLASS, f"EPIC-55 verb_class {vc} ({verb!r}) is not in EPIC_verb_classes.csv", ""
    mapped = epic55.verb_class(verb, vc)
    if mapped is None:
        return UNMAPPED_VERB, (f"EPIC-55 verb {verb!r} (class {vc}) maps to no EPIC-100 verb class (neither "
                               f"in a --verb-map nor in any EPIC-100 class's instances)"), verb
    return mapped[0], epic55.noun_class(noun), vc


@dataclass(frozen=True)
class ClassEntry:
    """One row of a class table: EPIC-100 ``id,key,instances,category`` or EPIC-55 ``verb_id,class_key,verbs``
    (``noun_id,class_key,nouns``). ``instances``: the raw verbs or nouns of the class (empty when absent)."""

    id: int
    key: str
    instances: tuple[str, ...]


_CLASS_COLUMNS = (("id", "verb_id", "noun_id"), ("key", "class_key"), ("instances", "verbs", "nouns"))


def read_class_table(path: Path | str) -> list[ClassEntry]:
    """Read an EPIC-100 (``id,key,instances,...``) or EPIC-55 (``verb_id,class_key,verbs``) class file.

    Raises:
        AnnotationError: naming the file and line (unreadable, not UTF-8, no id/key column, a non-integer
            or repeated id, an instances cell that is not a list of strings).
    """
    path = Path(path)
    records = csv_records(path, "class file")
    header = [h.strip() for h in next(records)[1]]
    id_col, key_col, inst_col = (next((header.index(c) for c in names if c in header), None)
                                 for names in _CLASS_COLUMNS)
    if id_col is None or key_col is None:
        raise AnnotationError(path, 1, f"class file needs columns id,key (EPIC-100) or verb_id|noun_id,class_key "
                                       f"(EPIC-55); got {header}")
    entries: list[ClassEntry] = []
    ids: set[int] = set()
    for line, fields, error in records:
        if fields is None or (fields and len(fields) != len(header)) or undecodable("".join(fields or [])):
            raise AnnotationError(path, line, error or f"not a {len(header)}-field UTF-8 row of the class file")
        if not fields:
            continue
        try:
            cid = int(fields[id_col])
            instances = () if inst_col is None else ast.literal_eval(fields[inst_col])
        except (ValueError, SyntaxError) as exc:
            raise AnnotationError(path, line, f"bad class row: {exc}") from None
        if not (isinstance(instances, (list, tuple)) and all(isinstance(x, str) for x in instances)):
            raise AnnotationError(path, line, f"{header[inst_col]} must be a list of strings like ['take', 'grab']")
        if cid in ids:
            raise AnnotationError(path, line, f"class id {cid} appears twice")
        ids.add(cid)
        entries.append(ClassEntry(cid, fields[key_col].strip(), tuple(x.strip() for x in instances)))
    return entries


def read_class_ids(path: Path | str) -> list[int]:
    """Ids of a class file (``EPIC_100_{verb,noun}_classes.csv`` or EPIC-55's ``EPIC_{verb,noun}_classes.csv``)."""
    return [e.id for e in read_class_table(path)]


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
