"""Ego4D's documented quirks for ``egoimu synth ego4d --faults`` and their record ``OUT/synth_truth/faults.json``.

The IMU kinds take one video each, in this order over the videos in ``ego4d.json`` order, and the unknown wearer
a seventh (so at least :data:`MIN_FAULT_VIDEOS` = 7 videos for all of them); the others go where named:

=========================  ====================================================================  =================
kind                       what (where recorded)                                                 expected
=========================  ====================================================================  =================
empty_canonical_span       video 1: rows with canonical time in [a, a + 1 s) keep every field    imu_window
                           but an empty ``canonical_timestamp_ms`` (a trimmed part): ``line``,   (window scope)
                           ``lines``, ``time_s`` = [a, b)
missing_accl               video 2: accl_x/y/z empty on every row (gyro kept)                    no_accl
non_monotonic_timestamps   video 3: 3 pairs of adjacent rows swapped (``lines``)                 written (sorted)
timestamp_outlier          video 4: one row's canonical_timestamp_ms = 1e13 (``line``)           written (row dropped)
accl_in_g                  video 5: accl written in g (m/s² / 9.80665), inferred from |gravity|  written (rescaled)
no_imu                     video 6: ``has_imu`` false, ``imu_metadata`` null, no CSV             no_imu
null_participant           every video of video 7's wearer: ``fb_participant_id`` null           unknown_wearer
narration_missing_time     video 3, pass 1: a narration's ``timestamp_sec``/``frame`` null       bad_timestamp
narration_negative_time    video 4, pass 1: ``timestamp_sec`` = -1.5 (frame -45)                 bad_timestamp
narration_past_end         video 5, pass 1: ``timestamp_sec`` = duration + 5 s                   outside_video
narration_unknown_video    narration.json gains a video_uid absent from ego4d.json (2 narrations, unknown_video
                           their own annotation_uid)
=========================  ====================================================================  =================

Every record: ``kind``, ``path`` (relative to OUT), ``video_uid``, ``scope`` (row | video | window | wearer),
``expected`` (a clips.csv reason of the pipeline where one exists, ``written`` for a quirk that must be repaired,
``unknown_video`` for the reader to name), ``detail``, and where fields (``line`` 1-based file line with the header
as line 1, ``annotation_uid`` + ``index`` of a narration in its pass). Narration quirks sit on videos whose IMU quirk
is repaired, so each outcome stays its own. Same seed -> same plants.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from egoimu.pipeline.shard_writer import IMU_WINDOW
from egoimu.pipeline.sources.ego4d import NO_ACCL, OUTSIDE_VIDEO, UNKNOWN_VIDEO, UNKNOWN_WEARER
from egoimu.pipeline.sources.epic import BAD_TIMESTAMP, NO_IMU
from egoimu.pipeline.synth.motion import G
from egoimu.pipeline.synth.truth import canonical_json

WRITTEN = "written"
IMU_KINDS = ("empty_canonical_span", "missing_accl", "non_monotonic_timestamps", "timestamp_outlier", "accl_in_g",
             "no_imu")
OTHER_KINDS = ("null_participant", "narration_missing_time", "narration_negative_time", "narration_past_end",
               "narration_unknown_video")
FAULT_KINDS = IMU_KINDS + OTHER_KINDS
MIN_FAULT_VIDEOS = len(IMU_KINDS) + 1  # and one for the unknown wearer, whose rejection would hide any other
EXPECTED = {"empty_canonical_span": (IMU_WINDOW, "window"), "missing_accl": (NO_ACCL, "video"),
            "non_monotonic_timestamps": (WRITTEN, "video"), "timestamp_outlier": (WRITTEN, "video"),
            "accl_in_g": (WRITTEN, "video"), "no_imu": (NO_IMU, "video"),
            "null_participant": (UNKNOWN_WEARER, "wearer"),
            "narration_missing_time": (BAD_TIMESTAMP, "row"), "narration_negative_time": (BAD_TIMESTAMP, "row"),
            "narration_past_end": (OUTSIDE_VIDEO, "row"), "narration_unknown_video": (UNKNOWN_VIDEO, "row")}
OUTLIER_MS = 1e13
SPAN_S = 1.0
ACCL_COLUMNS = slice(6, 9)


def record(kind: str, path: str, video_uid: str, detail: str, **where: object) -> dict:
    """The ``faults.json`` record of a planted ``kind`` (keys: see the module docstring)."""
    expected, scope = EXPECTED[kind]
    return {"kind": kind, "path": path, "video_uid": video_uid, **where, "scope": scope, "expected": expected,
            "detail": detail}


class _Planter:
    """Plants into the files of one output folder; the JSON files are edited in memory and written at the end."""

    def __init__(self, out: Path, uids: list[str], rng: np.random.Generator) -> None:
        self.out, self.uids, self.rng = out, uids, rng
        self.meta = json.loads((out / "ego4d.json").read_text(encoding="utf-8"))
        self.narr = json.loads(self.narr_path.read_text(encoding="utf-8"))
        self.records: list[dict] = []

    @property
    def narr_path(self) -> Path:
        return self.out / "v2" / "annotations" / "narration.json"

    def csv(self, uid: str) -> Path:
        return self.out / "v2" / "imu" / f"{uid}.csv"

    def rel(self, path: Path) -> str:
        return path.relative_to(self.out).as_posix()

    def rows(self, uid: str) -> list[list[str]]:
        return [line.split(",") for line in self.csv(uid).read_text(encoding="utf-8").splitlines()]

    def save(self, uid: str, rows: list[list[str]]) -> None:
        self.csv(uid).write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8", newline="")

    def video(self, uid: str) -> dict:
        return next(v for v in self.meta["videos"] if v["video_uid"] == uid)

    def edit_rows(self, kind: str, uid: str, edit: Callable[[list[list[str]]], tuple[str, dict]]) -> None:
        rows = self.rows(uid)
        detail, where = edit(rows)
        self.save(uid, rows)
        self.records.append(record(kind, self.rel(self.csv(uid)), uid, detail, **where))

    # --- IMU quirks -------------------------------------------------------------------------------------------
    def empty_canonical_span(self, uid: str) -> None:
        def edit(rows: list[list[str]]) -> tuple[str, dict]:
            dur = float(self.video(uid)["duration_sec"])
            a = round(float(self.rng.uniform(0.3, 0.5)) * dur, 3)
            hit = [i for i, r in enumerate(rows[1:], 1) if a * 1000 <= float(r[2]) < (a + SPAN_S) * 1000]
            for i in hit:
                rows[i][2] = ""
            return (f"{len(hit)} rows without canonical_timestamp_ms over [{a}, {a + SPAN_S}) s",
                    {"line": hit[0] + 1, "lines": [hit[0] + 1, hit[-1] + 1], "time_s": [a, a + SPAN_S]})
        self.edit_rows("empty_canonical_span", uid, edit)

    def missing_accl(self, uid: str) -> None:
        def edit(rows: list[list[str]]) -> tuple[str, dict]:
            for r in rows[1:]:
                r[ACCL_COLUMNS] = ["", "", ""]
            return f"accl_x,accl_y,accl_z empty on all {len(rows) - 1} rows", {}
        self.edit_rows("missing_accl", uid, edit)

    def non_monotonic_timestamps(self, uid: str) -> None:
        def edit(rows: list[list[str]]) -> tuple[str, dict]:
            n = len(rows) - 1
            firsts = [int(f * n) for f in (0.3, 0.5, 0.7)]
            for i in firsts:
                rows[i], rows[i + 1] = rows[i + 1], rows[i]
            lines = [i + 1 for i in firsts]
            return f"rows swapped with the next one at lines {lines}", {"line": lines[0] + 1, "lines": lines}
        self.edit_rows("non_monotonic_timestamps", uid, edit)

    def timestamp_outlier(self, uid: str) -> None:
        def edit(rows: list[list[str]]) -> tuple[str, dict]:
            i = int(0.6 * (len(rows) - 1))
            was = rows[i][2]
            rows[i][2] = repr(OUTLIER_MS)
            return f"canonical_timestamp_ms {was} -> {OUTLIER_MS:.0e}", {"line": i + 1}
        self.edit_rows("timestamp_outlier", uid, edit)

    def accl_in_g(self, uid: str) -> None:
        def edit(rows: list[list[str]]) -> tuple[str, dict]:
            for r in rows[1:]:
                r[ACCL_COLUMNS] = [repr(float(x) / G) for x in r[ACCL_COLUMNS]]
            return f"accl divided by g = {G} m/s² on every row (|accl| ~ 1)", {}
        self.edit_rows("accl_in_g", uid, edit)

    def no_imu(self, uid: str) -> None:
        path = self.csv(uid)
        path.unlink()
        v = self.video(uid)
        v["has_imu"], v["imu_metadata"] = False, None
        self.records.append(record("no_imu", self.rel(path), uid, "CSV removed, has_imu false in ego4d.json"))

    # --- metadata and narration quirks -------------------------------------------------------------------------
    def null_participant(self, uid: str) -> None:
        wearer = self.video(uid)["fb_participant_id"]
        hit = [v for v in self.meta["videos"] if v["fb_participant_id"] == wearer]
        for v in hit:
            v["fb_participant_id"] = None
        self.records.append(record("null_participant", "ego4d.json", uid,
                                   f"fb_participant_id {wearer} -> null on {len(hit)} videos",
                                   video_uids=[v["video_uid"] for v in hit]))

    def narration(self, kind: str, uid: str, value: float | None) -> None:
        items = self.narr[uid]["narration_pass_1"]["narrations"]
        k = len(items) // 2
        item = items[k]
        was = item["timestamp_sec"]
        item["timestamp_sec"] = value
        item["timestamp_frame"] = None if value is None else int(np.floor(value * 30))
        self.records.append(record(kind, self.rel(self.narr_path), uid, f"timestamp_sec {was} -> {json.dumps(value)}",
                                   narration_pass="narration_pass_1", index=k,
                                   annotation_uid=item["annotation_uid"], narration_text=item["narration_text"]))

    def narration_unknown_video(self) -> None:
        ghost = "00000000-0000-4000-8000-" + f"{int(self.rng.integers(16**12)):012x}"
        donor = self.narr[self.uids[0]]
        fresh = "00000000-0000-4000-9000-" + f"{int(self.rng.integers(16**12)):012x}"  # its own annotation
        self.narr[ghost] = {"narration_pass_1": {"narrations": [{**n, "annotation_uid": fresh} for n in
                                                                donor["narration_pass_1"]["narrations"][:2]],
                                                 "summaries": []}, "status": "complete"}
        self.records.append(record("narration_unknown_video", self.rel(self.narr_path), ghost,
                                   "2 pass-1 narrations of a video_uid absent from ego4d.json", rows=2))

    def finish(self) -> list[dict]:
        (self.out / "ego4d.json").write_text(canonical_json(self.meta), encoding="utf-8")
        self.narr_path.write_text(canonical_json(self.narr), encoding="utf-8")
        (self.out / "synth_truth" / "faults.json").write_text(canonical_json({"faults": self.records}),
                                                             encoding="utf-8")
        return self.records


def parse_fault_kinds(text: str) -> tuple[str, ...]:
    """``all`` or a comma-separated list of :data:`FAULT_KINDS` -> the kinds in catalogue order (ValueError naming
    an unknown kind)."""
    if text.strip() == "all":
        return FAULT_KINDS
    asked = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in asked if k not in FAULT_KINDS]
    if unknown or not asked:
        raise ValueError(f"unknown fault kind {', '.join(unknown) or repr(text)}; choose 'all' or from "
                         f"{', '.join(FAULT_KINDS)}")
    return tuple(k for k in FAULT_KINDS if k in asked)


def plant_ego4d_faults(out: Path, uids: list[str], rng: np.random.Generator,
                       kinds: tuple[str, ...] = FAULT_KINDS) -> list[dict]:
    """Plant ``kinds`` (default every kind of :data:`FAULT_KINDS`) into ``out`` (videos ``uids`` in ego4d.json
    order, at least :data:`MIN_FAULT_VIDEOS`); writes ``synth_truth/faults.json`` and returns its records."""
    if len(uids) < MIN_FAULT_VIDEOS:
        raise ValueError(f"faults need at least {MIN_FAULT_VIDEOS} videos, got {len(uids)}")
    p = _Planter(Path(out), uids, rng)
    for kind, uid in zip(IMU_KINDS, uids):
        if kind in kinds:
            getattr(p, kind)(uid)
    if "null_participant" in kinds:
        p.null_participant(uids[len(IMU_KINDS)])
    dur = float(p.video(uids[4])["duration_sec"])
    for kind, uid, value in (("narration_missing_time", uids[2], None), ("narration_negative_time", uids[3], -1.5),
                             ("narration_past_end", uids[4], round(dur + 5.0, 6))):
        if kind in kinds:
            p.narration(kind, uid, value)
    if "narration_unknown_video" in kinds:
        p.narration_unknown_video()
    return p.finish()
