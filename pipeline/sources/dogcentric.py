"""DogCentric Activity reader (video only, no IMU): label and dog id from the file name.

Layout: one folder per activity, clips named ``<Activity>_<Dog>_<recording>_<startFrame>_<endFrame>.avi``
(``Car_Hime_2_7700_7850.avi``). Folder names differ between copies (public: ``Left``/``Right``/``Play``;
raw release: ``Look_at_Left``/``Look_at_Right``); file prefixes too (``LookLeft``, ``Ball``). Every alias
maps to one canonical activity name. The raw release's glitches are survived and accounted for:
``Turn_Right/`` duplicating ``Look_at_Right`` (its clips are recorded as duplicates), ``Thumbs.db`` and
``info.txt`` (recorded as non-clip files), a double underscore in a file name (parsed).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from egoimu.pipeline.sources.ids import id_problem

DOGS: tuple[str, ...] = ("Hime", "Ku", "Ringo", "Ryu")
#: Canonical activity names, in a fixed order (class ids are positions in this tuple).
ACTIVITIES: tuple[str, ...] = ("Car", "Drink", "Feed", "LookLeft", "LookRight", "Pet", "Ball", "Shake",
                               "Sniff", "Walk")
#: The paper's four head-motion activities (Table 5).
HEAD_MOTION_ACTIVITIES: tuple[str, ...] = ("Walk", "Shake", "LookLeft", "LookRight")

_ALIASES = {
    "car": "Car", "drink": "Drink", "feed": "Feed", "pet": "Pet", "shake": "Shake", "sniff": "Sniff",
    "walk": "Walk", "left": "LookLeft", "lookleft": "LookLeft", "look_at_left": "LookLeft",
    "right": "LookRight", "lookright": "LookRight", "look_at_right": "LookRight", "play": "Ball",
    "ball": "Ball", "turn_right": "LookRight",
}
_NAME = re.compile(r"^(?P<act>[A-Za-z]+?)_+(?P<dog>[A-Za-z]+)_(?P<rec>\d+)_(?P<start>\d+)_(?P<end>\d+)\.avi$",
                   re.IGNORECASE)

NOT_A_CLIP = "not_a_clip"
UNPARSEABLE_NAME = "unparseable_name"
UNKNOWN_ACTIVITY = "unknown_activity"
UNKNOWN_DOG = "unknown_dog"
DUPLICATE_CLIP = "duplicate_clip"


def canonical_activity(name: str) -> str | None:
    """Map a folder name or file prefix (any alias, any case) to the canonical activity, or None."""
    return _ALIASES.get(name.strip().lower().replace(" ", "_"))


@dataclass(frozen=True)
class DogClip:
    """One DogCentric clip; ``path`` is relative to the dataset root (POSIX)."""

    clip_id: str  # '<Activity>_<Dog>_<rec>_<start>_<end>' with the canonical activity
    activity: str
    label: int  # index into ACTIVITIES
    dog: str
    recording: int
    start_frame: int
    end_frame: int
    path: str


@dataclass(frozen=True)
class DogRejection:
    path: str
    reason: str
    detail: str


def scan_dogcentric(root: Path | str) -> tuple[list[DogClip], list[DogRejection]]:
    """Scan a DogCentric root; every file below it is either a clip or a recorded rejection.

    Duplicates (same canonical clip id and identical bytes, e.g. ``Turn_Right/`` copies) keep the copy
    in the canonical folder (the first in sorted path order otherwise).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"DogCentric root not found: {root}")
    clips: dict[str, DogClip] = {}
    digests: dict[str, str] = {}
    rejections: list[DogRejection] = []
    files = sorted(p for p in root.rglob("*") if p.is_file())
    # folders named by an alias that is not canonical for the look directions (Turn_Right) go last
    files.sort(key=lambda p: (p.parent.name.lower() == "turn_right", p.as_posix()))
    for path in files:
        rel = path.relative_to(root).as_posix()
        m = _NAME.match(path.name)
        if path.suffix.lower() != ".avi":
            rejections.append(DogRejection(rel, NOT_A_CLIP, "not an .avi file"))
            continue
        if not m:
            rejections.append(DogRejection(rel, UNPARSEABLE_NAME, "expected <Activity>_<Dog>_<rec>_<start>_<end>.avi"))
            continue
        activity = canonical_activity(m["act"]) or canonical_activity(path.parent.name)
        if activity is None:
            rejections.append(DogRejection(rel, UNKNOWN_ACTIVITY, f"activity {m['act']!r}"))
            continue
        dog = next((d for d in DOGS if d.lower() == m["dog"].lower()), None)
        if dog is None:
            rejections.append(DogRejection(rel, UNKNOWN_DOG, f"dog {m['dog']!r} not in {DOGS}"))
            continue
        clip_id = f"{activity}_{dog}_{int(m['rec'])}_{int(m['start'])}_{int(m['end'])}"
        problem = id_problem({"clip_id": clip_id, "narration_id": clip_id, "video_id": clip_id})
        if problem:  # the clip id is all three ids of the shards (id_too_long)
            rejections.append(DogRejection(rel, *problem))
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if clip_id in clips:
            same = "identical bytes" if digests[clip_id] == digest else "different bytes"
            rejections.append(DogRejection(rel, DUPLICATE_CLIP, f"duplicate of {clips[clip_id].path} ({same})"))
            continue
        clips[clip_id] = DogClip(clip_id, activity, ACTIVITIES.index(activity), dog, int(m["rec"]),
                                 int(m["start"]), int(m["end"]), rel)
        digests[clip_id] = digest
    return sorted(clips.values(), key=lambda c: c.clip_id), rejections


def dog_folds(dogs: tuple[str, ...] = DOGS) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """All three ways to split four dogs into two folds of two (the paper does not say which it used)."""
    first = dogs[0]
    out = []
    for other in dogs[1:]:
        a = (first, other)
        b = tuple(d for d in dogs if d not in a)
        out.append((a, b))
    return out
