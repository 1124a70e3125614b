"""Head-worn GoPro recordings (``egoimu build --source gopro``): ``ROOT/<participant>/*.MP4``, or any MP4s under
ROOT with their participants listed in a ``participant_id,video`` CSV (``--participants``).

Each MP4 is one recording; its video id is the file name without the extension, its participant the folder's
name or the CSV's ``participant_id`` (so the splits stay subject-disjoint). The accelerometer and gyroscope come
from the file's own GPMF track (:mod:`egoimu.pipeline.gpmf`); a file without one is rejected by the probe
(``imu_unreadable``). Files that are not MP4s, MP4s outside a participant folder (or not listed in the CSV), ids
that cannot be stored, a video id met twice and a listed video that is not there are recorded rejections here.
A participants CSV that cannot be read, or a bad line of it, stops the build before any work
(:class:`~egoimu.pipeline.sources.epic.AnnotationError`, naming the file and the line).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from egoimu.pipeline.sources.epic import NO_VIDEO_FILE, AnnotationError, csv_records, undecodable
from egoimu.pipeline.sources.ids import id_problem, shown

NOT_A_VIDEO = "not_a_video"
NO_PARTICIPANT_FOLDER = "no_participant_folder"
DUPLICATE_VIDEO_ID = "duplicate_video_id"
UNLISTED_VIDEO = "unlisted_video"
UNANNOTATED_VIDEO = "unannotated_video"  # a usable video that no annotation row names and no window tiles
VIDEO_SUFFIXES = (".mp4",)  # compared in lower case: GoPro writes .MP4
PARTICIPANT_COLUMNS = ("participant_id", "video")


@dataclass(frozen=True)
class GoProVideo:
    """One recording; ``path`` relative to the root (POSIX)."""

    video_id: str
    participant_id: str
    path: str


@dataclass(frozen=True)
class GoProRejection:
    path: str  # relative to the root (POSIX)
    reason: str
    detail: str


@dataclass(frozen=True)
class Listed:
    """One line of a participants CSV: the participant of the MP4 at ``path`` (relative to ROOT)."""

    participant_id: str
    line: int


def read_participants(path: Path) -> dict[str, Listed]:
    """``video path relative to ROOT (POSIX) → Listed`` from a ``participant_id,video`` CSV (UTF-8, other columns
    ignored, blank lines skipped). ``video`` is the MP4's path relative to ROOT (``GX010001.MP4`` for a file
    directly in ROOT, ``day1/GX010001.MP4`` otherwise).

    Raises:
        AnnotationError: naming the file and the line: no such columns, a line of another field count or not
            UTF-8, an empty field, a participant or video id that cannot be stored, a video that is not an
            ``.MP4`` or not a plain relative path inside ROOT, or a video id (file name) listed twice.
    """
    records = csv_records(path, "participants file")
    header = [h.strip() for h in next(records)[1]]
    missing = [c for c in PARTICIPANT_COLUMNS if c not in header]
    if missing:
        raise AnnotationError(path, 1, f"a participants file needs the columns participant_id,video; "
                                       f"{', '.join(missing)} missing from the header {header}")
    pcol, vcol = header.index("participant_id"), header.index("video")
    listed: dict[str, Listed] = {}
    ids: dict[str, tuple[str, int]] = {}
    for line, fields, error in records:
        if fields == []:
            continue
        if fields is None or len(fields) != len(header):
            raise AnnotationError(path, line, error or f"{len(fields or [])} fields, the header has {len(header)}")
        if bad := undecodable("".join(fields)):
            raise AnnotationError(path, line, f"byte(s) {bad} are not UTF-8 (a participants file must be UTF-8)")
        pid, video = fields[pcol].strip(), fields[vcol].strip()
        if not pid or not video:
            raise AnnotationError(path, line, "empty participant_id or video")
        rel = PurePosixPath(video)
        if rel.is_absolute() or "\\" in video or any(p in ("..", ".") for p in rel.parts) or "//" in video:
            raise AnnotationError(path, line, f"video {shown(video)} is not a plain path relative to ROOT "
                                              f"(no leading '/', '.', '..' or '\\\\')")
        if rel.suffix.lower() not in VIDEO_SUFFIXES:
            raise AnnotationError(path, line, f"video {shown(video)} is not an .MP4 file")
        if problem := id_problem({"participant_id": pid, "video_id": rel.stem}):
            raise AnnotationError(path, line, f"{problem[0]}: {problem[1]}")
        if rel.stem in ids:
            other, first = ids[rel.stem]
            raise AnnotationError(path, line, f"video id {shown(rel.stem)} (the file name) is already on line "
                                              f"{first} (participant {shown(other)}): a video id must name one "
                                              f"recording of one participant")
        ids[rel.stem] = (pid, line)
        listed[rel.as_posix()] = Listed(pid, line)
    if not listed:
        raise AnnotationError(path, None, "no participant_id,video line: list at least one video")
    return listed


def scan_gopro(root: Path, listed: dict[str, Listed] | None = None, skip: Collection[Path] = ()
               ) -> tuple[list[GoProVideo], list[GoProRejection]]:
    """Every file under ``root`` (sorted, links followed; the files in ``skip``, e.g. the option files, left
    out): the MP4s of participant folders, or with ``listed`` (:func:`read_participants`) the listed MP4s;
    the rest, and listed videos that are not there, as rejections. Raises FileNotFoundError (one line) when no
    MP4 is usable at all."""
    videos: list[GoProVideo] = []
    rejected: list[GoProRejection] = []
    seen: dict[str, str] = {}
    skipped = {p.resolve() for p in skip}
    expected = "a video of the participants file" if listed is not None else "ROOT/<participant>/*.MP4"
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.resolve() not in skipped):
        rel = path.relative_to(root).as_posix()
        parts = path.relative_to(root).parts
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            rejected.append(GoProRejection(rel, NOT_A_VIDEO, f"not an MP4 (expected {expected})"))
        elif listed is not None:
            if rel in listed:
                videos.append(GoProVideo(path.stem, listed[rel].participant_id, rel))
            else:
                rejected.append(GoProRejection(rel, UNLISTED_VIDEO, "an MP4 the participants file does not list"))
        elif len(parts) != 2:
            rejected.append(GoProRejection(rel, NO_PARTICIPANT_FOLDER,
                                           "not directly in a participant folder ROOT/<participant>/"))
        elif (problem := id_problem({"participant_id": parts[0], "video_id": path.stem})) is not None:
            rejected.append(GoProRejection(rel, *problem))
        elif path.stem in seen:
            rejected.append(GoProRejection(rel, DUPLICATE_VIDEO_ID,
                                           f"video id {path.stem!r} is already {seen[path.stem]}"))
        else:
            seen[path.stem] = rel
            videos.append(GoProVideo(path.stem, parts[0], rel))
    found = {v.path for v in videos}
    rejected += [GoProRejection(rel, NO_VIDEO_FILE, f"listed on line {entry.line} of the participants file, "
                                                    f"but no such file under ROOT")
                 for rel, entry in sorted((listed or {}).items()) if rel not in found]
    if not videos:
        raise FileNotFoundError(f"no GoPro MP4 under {root} (expected {expected})")
    return videos, rejected
