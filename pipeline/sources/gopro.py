"""Head-worn GoPro recordings (``egoimu build --source gopro``): ``ROOT/<participant>/*.MP4``.

Each MP4 is one recording; its video id is the file name without the extension, its participant the folder's
name (so the splits stay subject-disjoint). The accelerometer and gyroscope come from the file's own GPMF track
(:mod:`egoimu.pipeline.gpmf`); a file without one is rejected by the probe (``imu_unreadable``). Files that are
not MP4s, MP4s outside a participant folder, ids that cannot be stored and a video id met twice are recorded
rejections here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from egoimu.pipeline.sources.ids import id_problem

NOT_A_VIDEO = "not_a_video"
NO_PARTICIPANT_FOLDER = "no_participant_folder"
DUPLICATE_VIDEO_ID = "duplicate_video_id"
VIDEO_SUFFIXES = (".mp4",)  # compared in lower case: GoPro writes .MP4


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


def scan_gopro(root: Path) -> tuple[list[GoProVideo], list[GoProRejection]]:
    """Every file under ``root`` (sorted, links followed): the MP4s of participant folders, and the rest as
    rejections. Raises FileNotFoundError (one line) when ``root`` holds no MP4 at all."""
    videos: list[GoProVideo] = []
    rejected: list[GoProRejection] = []
    seen: dict[str, str] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        parts = path.relative_to(root).parts
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            rejected.append(GoProRejection(rel, NOT_A_VIDEO, "not an MP4 (expected ROOT/<participant>/*.MP4)"))
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
    if not videos:
        raise FileNotFoundError(f"no GoPro MP4 under {root} (expected ROOT/<participant>/*.MP4)")
    return videos, rejected
