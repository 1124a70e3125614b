"""Ego4D readers: the metadata (``ego4d.json``), the narrations (``v2/annotations/narration.json``) and a video's
files on disk. Facts: ../shared/data/README.md "Ego4D's IMU and narration formats"; ego4d-data.org/docs.

Layout of a dataset root (:data:`METADATA`, :data:`VIDEO_DIR`, :data:`IMU_DIR`, :data:`NARRATIONS`)::

    ego4d.json                           {"videos": [{"video_uid", "duration_sec", "fb_participant_id", ...}]}
    v2/full_scale/<video_uid>.mp4        canonical video
    v2/imu/<video_uid>.csv               IMU (egoimu.pipeline.imu_ego4d)
    v2/annotations/narration.json        {video_uid: {"narration_pass_1": {"narrations": [...]}, ...}}

A file that cannot be read at all (missing, not JSON, not the documented structure) raises
:class:`~egoimu.pipeline.sources.epic.AnnotationError` naming the file; one bad record becomes a
:class:`~egoimu.pipeline.sources.epic.Rejection` (reason + detail), never a crash, never a silent drop.
Each narration becomes one :class:`~egoimu.pipeline.sources.epic.Segment` centred on its timestamp (a 2 s clip,
as imu2clip places its windows).
"""

from __future__ import annotations

import base64
import json
import math
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from egoimu.pipeline.sources.epic import (
    BAD_TIMESTAMP,
    DUPLICATE_ID,
    NO_IMU,
    NO_VIDEO_FILE,
    AnnotationError,
    Rejection,
    Segment,
)
from egoimu.pipeline.sources.ids import shown

METADATA = "ego4d.json"
VIDEO_DIR = "v2/full_scale"
IMU_DIR = "v2/imu"
NARRATIONS = "v2/annotations/narration.json"
DEFAULT_PASS = "narration_pass_1"
HALF_WINDOW_S = 1.0  # a narration's clip: [t - 1 s, t + 1 s]

#: Stable rejection reasons (recorded in clips.csv ``reason``); no_video_file, no_imu and bad_timestamp are
#: EPIC's, shared.
NO_ACCL = "no_accl"  # the IMU file holds no acceleration (imu_ego4d.MissingSensorError)
UNKNOWN_WEARER = "unknown_wearer"  # fb_participant_id empty: the lead's build decides (not rejected here)
OUTSIDE_VIDEO = "outside_video"  # a narration's timestamp beyond the video's duration_sec
UNKNOWN_VIDEO = "unknown_video"  # a narration's video_uid absent from ego4d.json
MALFORMED_RECORD = "malformed_record"  # a JSON record without the documented fields/types
REASONS: tuple[str, ...] = (NO_VIDEO_FILE, NO_IMU, NO_ACCL, UNKNOWN_WEARER, BAD_TIMESTAMP, OUTSIDE_VIDEO,
                            UNKNOWN_VIDEO, MALFORMED_RECORD, DUPLICATE_ID)


@dataclass(frozen=True)
class Ego4dVideo:
    """One ``videos`` entry of ego4d.json. ``participant_id``: ``fb_participant_id`` as text ('' when null or
    empty: the wearer is unknown); ``device`` '' when null; ``duration_s`` seconds, finite, >= 0."""

    video_uid: str
    participant_id: str
    device: str
    has_imu: bool
    duration_s: float


def _load_json(path: Path) -> object:
    """The parsed JSON file, or AnnotationError naming the file (and the line, for bad JSON)."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            return json.load(f)
    except FileNotFoundError:
        raise AnnotationError(path, None, "file not found") from None
    except UnicodeDecodeError as e:
        raise AnnotationError(path, None, f"not UTF-8 text: {e.reason} at byte {e.start}") from None
    except json.JSONDecodeError as e:
        raise AnnotationError(path, e.lineno, f"not valid JSON: {e.msg} (column {e.colno})") from None
    except OSError as e:
        raise AnnotationError(path, None, f"cannot read: {e}") from None


def _number(value: object) -> float | None:
    """A finite JSON number as float, else None (bools, strings, null, NaN/inf are not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _participant(value: object) -> str | None:
    """fb_participant_id as text: ints (and integral floats) as decimal, strings stripped, null -> ''; None
    for any other type."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


def _video_problem(rec: object, seen: dict[str, int]) -> str:
    """Why a ``videos`` entry is malformed, '' when it is not."""
    if not isinstance(rec, dict):
        return f"not an object ({type(rec).__name__})"
    uid = rec.get("video_uid")
    if not isinstance(uid, str) or not uid.strip():
        return f"no video_uid (got {shown(str(uid))})"
    if uid in seen:
        return f"video_uid {shown(uid)} repeated (first at record {seen[uid]})"
    dur = _number(rec.get("duration_sec"))
    if dur is None or dur < 0:
        return f"duration_sec {shown(str(rec.get('duration_sec')))} is not a finite number >= 0"
    if _participant(rec.get("fb_participant_id")) is None:
        return f"fb_participant_id {shown(str(rec.get('fb_participant_id')))} is neither an integer nor text"
    if not isinstance(rec.get("has_imu", False), (bool, type(None))):
        return f"has_imu {shown(str(rec.get('has_imu')))} is not true/false"
    if not isinstance(rec.get("device"), (str, type(None))):
        return f"device {shown(str(rec.get('device')))} is not text"
    return ""


def read_metadata(root: Path) -> tuple[dict[str, Ego4dVideo], list[Rejection]]:
    """``root/ego4d.json`` -> (``video_uid -> Ego4dVideo`` in file order, rejected records).

    A bad record (not an object, no video_uid, a repeated video_uid, duration_sec not a finite number >= 0,
    a fb_participant_id that is neither integer nor text, has_imu not a boolean, device not text) is a
    ``malformed_record`` :class:`Rejection` with ``line`` = its 1-based index in ``videos``; the others are
    read. ``has_imu`` missing or null is False. Raises :class:`AnnotationError` (one line naming the file)
    when the file is missing, not JSON, or has no ``videos`` list.
    """
    path = Path(root) / METADATA
    data = _load_json(path)
    videos = data.get("videos") if isinstance(data, dict) else None
    if not isinstance(videos, list):
        raise AnnotationError(path, None, "no 'videos' list at the top level (Ego4D's metadata has one)")
    out: dict[str, Ego4dVideo] = {}
    rejected: list[Rejection] = []
    seen: dict[str, int] = {}
    for i, rec in enumerate(videos, start=1):
        problem = _video_problem(rec, seen)
        uid = rec.get("video_uid") if isinstance(rec, dict) else None
        if problem:
            vid = uid if isinstance(uid, str) else ""
            rejected.append(Rejection(f"{METADATA}:{i}", "", vid, MALFORMED_RECORD, problem, METADATA, i))
            continue
        seen[uid] = i
        out[uid] = Ego4dVideo(uid, _participant(rec.get("fb_participant_id")) or "", rec.get("device") or "",
                              bool(rec.get("has_imu")), float(rec["duration_sec"]))
    return out, rejected


def _narrations_of(entry: object, pass_name: str) -> list | str:
    """A video entry's narrations list for ``pass_name`` ([] when the pass is absent), or why it is malformed."""
    if not isinstance(entry, dict):
        return f"not an object ({type(entry).__name__})"
    if pass_name not in entry:
        return []
    block = entry[pass_name]
    items = block.get("narrations") if isinstance(block, dict) else None
    if not isinstance(items, list):
        return f"{pass_name} has no 'narrations' list"
    return items


def _narration_problem(item: object, video: Ego4dVideo | None, uid: str) -> tuple[str, str]:
    """``(reason, detail)`` for a narration that becomes no segment, ``('', '')`` for a good one."""
    if not isinstance(item, dict):
        return MALFORMED_RECORD, f"narration is not an object ({type(item).__name__})"
    text, nid = item.get("narration_text"), item.get("annotation_uid")
    if not isinstance(text, str):
        return MALFORMED_RECORD, f"narration_text {shown(str(text))} is not text"
    if nid is not None and not isinstance(nid, str):
        return MALFORMED_RECORD, f"annotation_uid {shown(str(nid))} is not text"
    if video is None:
        return UNKNOWN_VIDEO, f"video_uid {shown(uid)} is not in {METADATA}"
    t = _number(item.get("timestamp_sec"))
    if t is None or t < 0:
        return BAD_TIMESTAMP, f"timestamp_sec {shown(str(item.get('timestamp_sec')))} is not a finite number >= 0"
    if t > video.duration_s:
        return OUTSIDE_VIDEO, f"timestamp_sec {t:g} is beyond the video's duration_sec {video.duration_s:g}"
    return "", ""


def read_narrations(path: Path, videos: dict[str, Ego4dVideo], pass_name: str = DEFAULT_PASS,
                    half_window_s: float = HALF_WINDOW_S) -> tuple[list[Segment], list[Rejection]]:
    """narration.json -> (one :class:`Segment` per usable narration of ``pass_name``, rejections), file order.

    A segment: ``narration_id`` = ``f"{annotation_uid}:{i}"``, ``i`` the narration's 0-based index in the video's
    list (Ego4D's annotation_uid names the annotation of a pass, which its narrations share; the video_uid stands in
    when it is missing); ``participant_id`` from ``videos`` ('' passed through for an unknown
    wearer); ``start_s``/``stop_s`` = timestamp_sec -/+ ``half_window_s`` (seconds on the canonical video; a
    start below 0 is left for the clip stage); ``verb`` = narration_text verbatim; ``verb_class`` =
    ``noun_class`` = -1; ``source`` 'narration.json'; ``line`` = the narration's 1-based running index over the
    whole file (JSON has no useful line numbers). Rejections: ``malformed_record`` (not an object, text or id of
    the wrong type), ``unknown_video``, ``bad_timestamp`` (missing, non-finite, negative), ``outside_video``
    (timestamp_sec > duration_sec), ``duplicate_id`` (the same annotation_uid and index met before: a uid shared
    across videos). Every narration read is a
    segment or a rejection; a video entry that is not an object, or whose pass has no ``narrations`` list, is
    one ``malformed_record`` of its own (``line`` = the next running index; its narrations cannot be counted).
    A video without ``pass_name`` contributes nothing. Raises :class:`AnnotationError` when the file is
    missing, not JSON, or not an object.
    """
    path = Path(path)
    data = _load_json(path)
    if not isinstance(data, dict):
        raise AnnotationError(path, None, f"not a video_uid -> narrations object (got {type(data).__name__})")
    segments: list[Segment] = []
    rejected: list[Rejection] = []
    first: dict[str, int] = {}
    n, src = 0, path.name
    for uid, entry in data.items():
        video = videos.get(uid)
        pid = video.participant_id if video else ""
        items = _narrations_of(entry, pass_name)
        if isinstance(items, str):
            n += 1
            rejected.append(Rejection(f"{src}:{n}", pid, uid, MALFORMED_RECORD, f"video {shown(uid)}: {items}",
                                      src, n))
            continue
        for i, item in enumerate(items):
            n += 1
            reason, detail = _narration_problem(item, video, uid)
            nid = item.get("annotation_uid") if isinstance(item, dict) else None
            nid = f"{nid if isinstance(nid, str) and nid else uid}:{i}"  # a pass's narrations share its uid
            if not reason and nid in first:
                reason, detail = DUPLICATE_ID, f"annotation_uid {shown(nid)} repeated (first at narration {first[nid]})"
            if reason:
                text = item.get("narration_text") if isinstance(item, dict) else None
                rejected.append(Rejection(nid, pid, uid, reason, detail, src, n,
                                          verb=text if isinstance(text, str) else ""))
                continue
            first[nid] = n
            t = float(item["timestamp_sec"])
            segments.append(Segment(nid, pid, uid, t - half_window_s, t + half_window_s, item["narration_text"],
                                    -1, -1, src, n))
    return segments, rejected


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def short_uuid(uid: str) -> str:
    """An Ego4D uuid as 22 base64url characters (its 16 bytes; ``uuid.UUID(bytes=base64.urlsafe_b64decode(s +
    "=="))`` gives it back), or ``uid`` unchanged when it is not a uuid: room for a narration's index within the
    shards' 32-byte ``narration_id``."""
    if not _UUID.fullmatch(uid):
        return uid
    return base64.urlsafe_b64encode(uuid.UUID(uid).bytes).decode("ascii").rstrip("=")


def compact_id(uid: str) -> str:
    """An Ego4D uuid (36 characters, 8-4-4-4-12) without its four hyphens: 32 hex digits, which fit the shards'
    32-byte ``video_id`` / ``narration_id`` fields, lossless (``uuid.UUID(hex)`` gives the uuid back). Any other
    id is returned unchanged (one that does not fit is rejected by the plan, named)."""
    return uid.replace("-", "").lower() if _UUID.fullmatch(uid) else uid


def find_files(root: Path, video_uid: str) -> tuple[str, str]:
    """``(video, imu)``: paths relative to ``root`` (POSIX) of ``v2/full_scale/<video_uid>.mp4`` and
    ``v2/imu/<video_uid>.csv``, '' for each that is not a file."""
    video, imu = f"{VIDEO_DIR}/{video_uid}.mp4", f"{IMU_DIR}/{video_uid}.csv"
    root = Path(root)
    return (video if (root / video).is_file() else "", imu if (root / imu).is_file() else "")


def file_problem(video: Ego4dVideo, files: tuple[str, str]) -> tuple[str, str] | None:
    """``(reason, detail)`` when a video cannot give clips for want of files (``files`` from
    :func:`find_files`): ``no_video_file``, or ``no_imu`` (has_imu false in the metadata, or no CSV); else None.
    ``no_accl`` needs the CSV read (:class:`~egoimu.pipeline.imu_ego4d.MissingSensorError`)."""
    if not files[0]:
        return NO_VIDEO_FILE, f"{VIDEO_DIR}/{video.video_uid}.mp4 is not there"
    if not video.has_imu:
        return NO_IMU, f"{METADATA} says has_imu false for {shown(video.video_uid)}"
    if not files[1]:
        return NO_IMU, f"{IMU_DIR}/{video.video_uid}.csv is not there (has_imu is true)"
    return None


def wearer_problem(video: Ego4dVideo) -> tuple[str, str] | None:
    """``(unknown_wearer, detail)`` when the video's fb_participant_id is null or empty (no subject-disjoint split
    can place it), else None. Whether that rejects the video is the build's decision."""
    if video.participant_id:
        return None
    return UNKNOWN_WEARER, f"{METADATA} gives no fb_participant_id for {shown(video.video_uid)}"
