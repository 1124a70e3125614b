"""Segments, labels and the EPIC-KITCHENS-100 CSV files of ``egoimu synth epic``.

Formats follow the real files exactly (see ``../shared/data/README.md``):

- annotation CSVs (``EPIC_100_train.csv``, ``EPIC_100_validation.csv``): the 15 columns in
  ``ANNOTATION_COLUMNS``, ``\\n`` line ends, minimal quoting, rows sorted by ``narration_id`` as a
  string (like the real files); ``start/stop_timestamp`` ``HH:MM:SS.ss``, ``narration_timestamp``
  ``HH:MM:SS.sss``, ``start/stop_frame = floor(t * fps)`` with the exact rational fps of the video,
  ``narration_id = <video_id>_<k>``, k numbered in narration-time order (as in the real files).
- ``EPIC_100_video_info.csv``: ``video_id,duration,fps,resolution``, fps written as the real file
  writes it (``50.0``, ``59.9400599400599``, ``29.97002997002997``).
- class tables ``id,key,instances,category``: ``\\r\\n`` line ends and no final newline, like the real
  files; either the embedded compact rows (:mod:`egoimu.pipeline.synth.classes`) or byte copies of the real
  files from ``--classes-dir``.

Times inside the generator are exact: a segment's start/stop are whole centiseconds and its narration
time whole milliseconds (the precision of the CSV), so the truth files and the CSV agree exactly.
"""

from __future__ import annotations

import ast
import csv
import io
import re
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from egoimu.pipeline.synth import classes as C

ANNOTATION_COLUMNS = (
    "narration_id", "participant_id", "video_id", "narration_timestamp", "start_timestamp",
    "stop_timestamp", "start_frame", "stop_frame", "narration", "verb", "verb_class", "noun",
    "noun_class", "all_nouns", "all_noun_classes",
)
VIDEO_INFO_COLUMNS = ("video_id", "duration", "fps", "resolution")
CLASS_COLUMNS = ("id", "key", "instances", "category")
FPS_TEXT = {Fraction(50): "50.0", Fraction(60000, 1001): "59.9400599400599",
            Fraction(30000, 1001): "29.97002997002997"}
IMU_VIDEO_RE = re.compile(r"^P\d{2}_1\d{2}$")


@dataclass(frozen=True)
class Segment:
    """One narrated action segment. Times in whole centiseconds (start/stop) and milliseconds."""

    narration_id: str
    participant_id: str
    video_id: str
    start_cs: int  # start time, centiseconds of video time
    stop_cs: int  # stop time, centiseconds
    narration_ms: int | None  # narration time, milliseconds (None: empty field)
    narration: str
    verb: str
    verb_class: int
    noun: str
    noun_class: int
    all_nouns: tuple[str, ...]
    all_noun_classes: tuple[int, ...]

    @property
    def start_s(self) -> float:
        return self.start_cs / 100

    @property
    def stop_s(self) -> float:
        return self.stop_cs / 100


def fmt_cs(cs: int) -> str:
    """Centiseconds -> ``HH:MM:SS.ss``."""
    s, frac = divmod(int(cs), 100)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{frac:02d}"


def fmt_ms(ms: int) -> str:
    """Milliseconds -> ``HH:MM:SS.sss``."""
    s, frac = divmod(int(ms), 1000)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{frac:03d}"


def parse_hms(text: str, unit: int) -> int:
    """``HH:MM:SS.fff`` -> integer count of 1/unit seconds (unit 100 or 1000), rounded."""
    h, m, s = text.strip().split(":")
    return round((int(h) * 3600 + int(m) * 60) * unit + Fraction(s) * unit)


def frame_at(cs: int, fps: Fraction) -> int:
    """Frame index on screen at ``cs`` centiseconds: ``floor(t * fps)`` with exact rationals."""
    return int(Fraction(int(cs), 100) * fps)


def fps_text(fps: Fraction) -> str:
    """fps as the real ``EPIC_100_video_info.csv`` writes it."""
    return FPS_TEXT.get(fps, repr(float(fps)))


def noun_words(noun: str) -> str:
    """EPIC noun key -> narration words (``spoon:slotted`` -> ``slotted spoon``)."""
    return " ".join(reversed(noun.split(":")))


def _pick(rng: np.random.Generator, weighted: tuple[tuple, ...]):
    w = np.array([c for _, c in weighted], dtype=float)
    return weighted[int(rng.choice(len(weighted), p=w / w.sum()))][0]


def _quantile(rng: np.random.Generator, table: tuple[float, ...]) -> float:
    return float(np.interp(rng.random(), np.linspace(0.0, 1.0, len(table)), table))


def draw_label(rng: np.random.Generator, verb: C.VerbRow | None = None) -> dict:
    """Draw verb/noun fields of one segment with EPIC's skew (embedded statistics).

    Returns the keys ``verb, verb_class, noun, noun_class, all_nouns, all_noun_classes, narration``.
    """
    if verb is None:
        verb = C.VERB_BY_ID[_pick(rng, tuple((v.id, v.count) for v in C.VERBS))]
    raw_verb = _pick(rng, verb.instances)
    noun = C.NOUN_BY_ID[_pick(rng, verb.nouns)]
    nouns = [(_pick(rng, noun.instances), noun.id)]
    if rng.random() < C.MULTI_NOUN_FRACTION:
        other = C.NOUNS[int(rng.integers(len(C.NOUNS)))]
        if other.id != noun.id:
            nouns.append((_pick(rng, other.instances), other.id))
    words = " and ".join(noun_words(n) for n, _ in nouns)
    return dict(verb=raw_verb, verb_class=verb.id, noun=nouns[0][0], noun_class=noun.id,
                all_nouns=tuple(n for n, _ in nouns), all_noun_classes=tuple(c for _, c in nouns),
                narration=f"{raw_verb.replace('-', ' ')} {words}")


def _number(segs: list[dict], video_id: str, participant_id: str) -> list[Segment]:
    """Give k in narration-time order (start time for ties / empty narration times)."""
    order = sorted(range(len(segs)), key=lambda i: (
        segs[i]["narration_ms"] if segs[i]["narration_ms"] is not None else segs[i]["start_cs"] * 10,
        segs[i]["start_cs"], i))
    return [Segment(narration_id=f"{video_id}_{k}", participant_id=participant_id, video_id=video_id,
                    **segs[i]) for k, i in enumerate(order)]


def sample_segments(rng: np.random.Generator, video_id: str, participant_id: str,
                    duration_s: float) -> list[Segment]:
    """Draw the segments of one video: EPIC's verb skew, per-verb log-normal durations, real gaps.

    Durations are capped at min(30 s, 0.3 * duration); every segment lies in [0, duration - 0.1 s].
    """
    end_cs = int(round(duration_s * 100)) - 10
    cap_cs = int(min(3000, 0.3 * duration_s * 100))
    t_cs = int(rng.integers(20, 200))
    segs: list[dict] = []
    while True:
        verb = C.VERB_BY_ID[_pick(rng, tuple((v.id, v.count) for v in C.VERBS))]
        dur_cs = int(round(100 * np.exp(rng.normal(verb.log_dur_mu, verb.log_dur_sd))))
        dur_cs = max(20, min(dur_cs, cap_cs))
        start, stop = t_cs, t_cs + dur_cs
        if stop > end_cs:
            break
        n_ms = max(0, start * 10 + int(round(1000 * _quantile(rng, C.NARRATION_OFFSET_QUANTILES_S))))
        segs.append(dict(start_cs=start, stop_cs=stop, narration_ms=n_ms, **draw_label(rng, verb)))
        gap_cs = int(round(100 * _quantile(rng, C.GAP_QUANTILES_S)))
        t_cs = max(stop + gap_cs, start + 10)
    return _number(segs, video_id, participant_id)


def _maybe_int(text: str) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def like_segments(csv_path: Path, video_ids: list[str], duration_s: float, rng: np.random.Generator,
                  known_verbs: set[int], known_nouns: set[int]) -> tuple[dict[str, list[Segment]], int]:
    """Replay the segments of real annotation rows for ``video_ids``, shortened to ``duration_s``.

    Keeps the rows' ``narration_id``, times and (when the file has them and both classes are in the
    active class tables) their labels verbatim; rows ending after ``duration_s - 0.1 s`` are dropped,
    labels missing or of classes outside the tables are drawn afresh. Returns the segments per video
    and the number of rows whose labels were redrawn.
    """
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    end_cs = int(round(duration_s * 100)) - 10
    out: dict[str, list[Segment]] = {}
    redrawn = 0
    for vid in video_ids:
        segs = []
        for r in (r for r in rows if r["video_id"] == vid):
            start, stop = parse_hms(r["start_timestamp"], 100), parse_hms(r["stop_timestamp"], 100)
            if stop > end_cs or stop <= start:
                continue
            nts = (r.get("narration_timestamp") or "").strip()
            label = None
            vc, nc = _maybe_int(r.get("verb_class")), _maybe_int(r.get("noun_class"))
            if vc in known_verbs and nc in known_nouns and r.get("all_nouns"):
                label = dict(verb=r["verb"], verb_class=vc, noun=r["noun"], noun_class=nc,
                             all_nouns=tuple(ast.literal_eval(r["all_nouns"])),
                             all_noun_classes=tuple(ast.literal_eval(r["all_noun_classes"])),
                             narration=r["narration"])
            else:
                redrawn += 1
                label = draw_label(rng)
            segs.append(Segment(narration_id=r["narration_id"], participant_id=r["participant_id"],
                                video_id=vid, start_cs=start, stop_cs=stop,
                                narration_ms=parse_hms(nts, 1000) if nts else None, **label))
        out[vid] = sorted(segs, key=lambda g: int(g.narration_id.rsplit("_", 1)[1]))
    return out, redrawn


def like_video_ids(csv_path: Path, participants: int, per_participant: int) -> list[str]:
    """The first ``per_participant`` IMU-style videos (``PXX_1YY``) of the first ``participants``
    participants found in an annotation CSV, in file order."""
    with open(csv_path, newline="", encoding="utf-8") as fh:
        vids = list(dict.fromkeys(r["video_id"] for r in csv.DictReader(fh)))
    by_p: dict[str, list[str]] = {}
    for v in vids:
        if IMU_VIDEO_RE.match(v):
            by_p.setdefault(v.split("_")[0], []).append(v)
    return [v for p in list(by_p)[:participants] for v in by_p[p][:per_participant]]


def segment_row(seg: Segment, fps: Fraction) -> list[str]:
    """The 15 CSV fields of one segment (strings, unquoted) for a video at ``fps``."""
    return [seg.narration_id, seg.participant_id, seg.video_id,
            fmt_ms(seg.narration_ms) if seg.narration_ms is not None else "",
            fmt_cs(seg.start_cs), fmt_cs(seg.stop_cs),
            str(frame_at(seg.start_cs, fps)), str(frame_at(seg.stop_cs, fps)),
            seg.narration, seg.verb, str(seg.verb_class), seg.noun, str(seg.noun_class),
            str(list(seg.all_nouns)), str(list(seg.all_noun_classes))]


def write_csv(path: Path, header: tuple[str, ...], rows: list[list[str]], crlf: bool = False) -> None:
    """Write rows like the real files: minimal quoting; ``\\n`` and a final newline, or ``\\r\\n``
    without a final newline (``crlf``, the class tables)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n" if crlf else "\n").writerows([list(header), *rows])
    text = buf.getvalue()
    path.write_text(text[:-2] if crlf else text, encoding="utf-8", newline="")


def annotation_rows(segments: list[Segment], fps_of: dict[str, Fraction]) -> list[list[str]]:
    """Rows of an annotation CSV, sorted by ``narration_id`` as a string like the real files."""
    rows = [segment_row(s, fps_of[s.video_id]) for s in segments]
    return sorted(rows, key=lambda r: r[0])


def video_sort_key(video_id: str) -> tuple[str, int, int]:
    """Order of ``EPIC_100_video_info.csv``: participant, EPIC-55 videos (two digits) first, number."""
    p, n = video_id.split("_")
    return (p, len(n), int(n))


def write_video_info(path: Path, videos: list[tuple[str, int, Fraction, str]]) -> None:
    """``videos``: (video_id, frame count, fps, ``WxH``); duration = frames / fps, 6 decimals."""
    rows = [[vid, repr(round(float(n / fps), 6)), fps_text(fps), res]
            for vid, n, fps, res in sorted(videos, key=lambda v: video_sort_key(v[0]))]
    write_csv(path, VIDEO_INFO_COLUMNS, rows)


def embedded_class_rows(kind: str) -> list[list[str]]:
    """Rows (``id,key,instances,category``) of the embedded compact table, ``kind`` verb or noun."""
    table = C.VERBS if kind == "verb" else C.NOUNS
    return [[str(r.id), r.key, str([name for name, _ in r.instances]), r.category]
            for r in sorted(table, key=lambda r: r.id)]


def write_class_tables(out: Path, classes_dir: Path | None) -> tuple[set[int], set[int]]:
    """Write ``EPIC_100_{verb,noun}_classes.csv``; returns the verb and noun class ids they hold.

    With ``classes_dir`` the real files found there are copied byte for byte.
    """
    ids = []
    for kind in ("verb", "noun"):
        name = f"EPIC_100_{kind}_classes.csv"
        if classes_dir is not None:
            src = Path(classes_dir) / name
            if not src.is_file():
                raise FileNotFoundError(f"--classes-dir: {src} not found")
            shutil.copyfile(src, out / name)
            with open(src, newline="", encoding="utf-8") as fh:
                ids.append({int(r["id"]) for r in csv.DictReader(fh)})
        else:
            rows = embedded_class_rows(kind)
            write_csv(out / name, CLASS_COLUMNS, rows, crlf=True)
            ids.append({int(r[0]) for r in rows})
    return ids[0], ids[1]

