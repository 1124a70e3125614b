"""Realistic damage for ``egoimu synth epic --faults`` and its record ``OUT/faults.json``.

Kinds, planted in this order, fault i on IMU video i mod n (videos sorted by id), so that all nine
sit on distinct videos when there are at least 9 IMU videos (e.g. 3 participants x 3 videos); with
fewer, several faults share a video (default 3 x 2: the three CSV faults share the videos of the first
three file faults):

=====================  ==================================================================================
kind                   what, and where it is recorded
=====================  ==================================================================================
truncated_mp4          MP4 cut to 60 % of its bytes (moov first, so frames decode up to the cut):
                       ``time_s`` = video time of the first frame that no longer decodes
missing_gyro           ``-gyro.csv`` deleted
empty_accl             ``-accl.csv`` reduced to its header line only (not 0 bytes)
imu_gap                rows with Milliseconds in [m, m + 800) removed (0.8 s) from each intact IMU file:
                       ``time_s`` = m / 1000 (file time), ``line`` = first line after the gap
nan_rows               3 consecutive gyro rows (accl if the gyro file is gone) get X,Y,Z = ``NaN``:
                       ``line`` (first) and ``lines``
non_monotonic_ms       one payload of the accl file (gyro if accl is empty) re-stamped 1000 ms early:
                       ``line`` = the row where Milliseconds first decreases
segment_past_end       a train-CSV row whose stop lies 2 s past the video end: ``narration_id``, ``line``
unknown_verb_class     a train-CSV row with verb_class 97 (in no EPIC table): ``narration_id``, ``line``
malformed_row          a train-CSV row with an unquoted comma in ``narration`` (16 fields): ``line``
=====================  ==================================================================================

Line numbers are 1-based file lines (the header is line 1), valid in the final files. A fault that
cannot be planted (with a single IMU video the IMU-content faults find no intact IMU file) is skipped
and named in the summary's ``faults_skipped``. Every record has ``kind``, ``path`` (relative to OUT),
``video_id``, ``scope`` and ``expected`` (the outcome a build must give it, from the fault catalogue
:mod:`egoimu.pipeline.synth.fault_catalogue`) and ``detail``.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import numpy as np

from egoimu.pipeline.ffmpeg_bin import ffmpeg_exe
from egoimu.pipeline.synth import annotations as A
from egoimu.pipeline.synth.fault_catalogue import fault_record
from egoimu.pipeline.synth.imu import js_number

FAULT_KINDS = ("truncated_mp4", "missing_gyro", "empty_accl", "imu_gap", "nan_rows", "non_monotonic_ms",
               "segment_past_end", "unknown_verb_class", "malformed_row")
UNKNOWN_VERB_CLASS = 97
GAP_MS = 800
TRUNCATE_FRACTION = 0.6


def decodable_frames(path: Path) -> int:
    """Number of video frames ffmpeg decodes from ``path`` (errors ignored)."""
    res = subprocess.run([ffmpeg_exe(), "-hide_banner", "-v", "quiet", "-i", str(path), "-map", "0:v:0",
                          "-f", "framemd5", "-"], capture_output=True, text=True)
    return sum(1 for line in res.stdout.splitlines() if line and not line.startswith("#"))


def _imu_path(out: Path, job, stream: str) -> Path:
    return out / job.participant_id / "meta_data" / f"{job.video_id}-{stream}.csv"


def _read(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")


def _ms(lines: list[str]) -> np.ndarray:
    """The Milliseconds column (float64) of an IMU file's data lines."""
    return np.array([float(x.split(",", 1)[0]) for x in lines[1:]])


def _usable(path: Path) -> bool:
    return path.is_file() and len(_read(path)) > 10


class _Planter:
    def __init__(self, out: Path, rng: np.random.Generator):
        self.out, self.rng = out, rng
        self.records: list[dict] = []
        self.csv_targets: dict[str, tuple[str, dict]] = {}  # narration_id -> (kind, record)

    def rel(self, path: Path) -> str:
        return path.relative_to(self.out).as_posix()

    def add(self, kind: str, path: Path, job, detail: str, **where) -> dict:
        rec = fault_record(kind, self.rel(path), job.video_id, detail, **where)
        self.records.append(rec)
        return rec

    def truncated_mp4(self, job) -> bool:
        path = self.out / job.participant_id / "videos" / f"{job.video_id}.MP4"
        size = path.stat().st_size
        cut = int(size * TRUNCATE_FRACTION)
        with open(path, "r+b") as fh:
            fh.truncate(cut)
        k = decodable_frames(path)
        self.add("truncated_mp4", path, job, f"cut to {cut} of {size} bytes; {k} of {job.n_frames} frames "
                 "still decode, the rest is missing", time_s=float(k / job.fps), frames_decodable=k)
        return True

    def missing_gyro(self, job) -> bool:
        path = _imu_path(self.out, job, "gyro")
        path.unlink()
        self.add("missing_gyro", path, job, "gyro file deleted; the accl file is kept")
        return True

    def empty_accl(self, job) -> bool:
        path = _imu_path(self.out, job, "accl")
        _write(path, _read(path)[:1])
        self.add("empty_accl", path, job, "header only (one line, no data rows; not 0 bytes)")
        return True

    def _intact(self, job, streams: tuple[str, ...]):
        """(path, lines, Milliseconds) of the job's IMU files that still hold data, in ``streams`` order."""
        for stream in streams:
            path = _imu_path(self.out, job, stream)
            if _usable(path):
                lines = _read(path)
                yield path, lines, _ms(lines)

    def imu_gap(self, job) -> bool:
        done = False
        for path, lines, ms in self._intact(job, ("accl", "gyro")):
            m0 = 1000.0 * int(0.4 * ms[-1] / 1000) + 300.0
            gone = (ms >= m0) & (ms < m0 + GAP_MS)
            line_after = int(np.flatnonzero(gone)[0]) + 2  # first kept row after the gap, 1-based line
            _write(path, [lines[0]] + [x for x, g in zip(lines[1:], gone) if not g])
            self.add("imu_gap", path, job, f"{int(gone.sum())} rows with {m0:g} <= Milliseconds < "
                     f"{m0 + GAP_MS:g} removed ({GAP_MS / 1000:g} s); line {line_after} follows the gap",
                     time_s=m0 / 1000, line=line_after)
            done = True
        return done

    def nan_rows(self, job) -> bool:
        for path, lines, _ in self._intact(job, ("gyro", "accl")):
            first = 1 + int(0.6 * (len(lines) - 1))
            for i in range(first - 1, first + 2):
                lines[i] = lines[i].split(",")[0] + ",NaN,NaN,NaN"
            _write(path, lines)
            self.add("nan_rows", path, job, "X, Y and Z are NaN on 3 consecutive rows (Milliseconds kept)",
                     line=first, lines=[first, first + 1, first + 2])
            return True
        return False

    def non_monotonic_ms(self, job) -> bool:
        for path, lines, ms in self._intact(job, ("accl", "gyro")):
            nan_lines = {ln for r in self.records if r["path"] == self.rel(path) for ln in r.get("lines", [])}
            last = int(ms[-1] // 1000)
            start = max(1, int(0.75 * last))
            for k in [*range(start, last + 1), *range(start - 1, 0, -1)]:
                rows = np.flatnonzero(ms // 1000 == k)
                if rows.size and rows[0] > 0 and not {int(r) + 2 for r in rows} & nan_lines:
                    break
            else:
                continue
            for r in rows:
                lines[r + 1] = js_number(ms[r] - 1000.0) + "," + lines[r + 1].split(",", 1)[1]
            _write(path, lines)
            ln = int(rows[0]) + 2
            self.add("non_monotonic_ms", path, job, f"payload {k} ({rows.size} rows) re-stamped 1000 ms early: "
                     f"Milliseconds drops from {js_number(ms[rows[0] - 1])} to "
                     f"{js_number(ms[rows[0]] - 1000.0)} at line {ln}", line=ln)
            return True
        return False

    # --- train CSV faults: rows are edited in memory, written once, then line numbers recorded ---
    def _pick_row(self, rows: list[list[str]], job) -> int | None:
        idx = [i for i, r in enumerate(rows) if r[2] == job.video_id and r[0] not in self.csv_targets]
        return idx[len(idx) // 2] if idx else None

    def segment_past_end(self, rows: list[list[str]], job) -> bool:
        ks = [int(r[0].rsplit("_", 1)[1]) for r in rows if r[2] == job.video_id]
        end_cs = int(round(100 * job.n_frames / job.fps))
        start, stop = end_cs - 50, end_cs + 200
        label = A.draw_label(self.rng)
        seg = A.Segment(narration_id=f"{job.video_id}_{max(ks, default=-1) + 1}",
                        participant_id=job.participant_id, video_id=job.video_id, start_cs=start, stop_cs=stop,
                        narration_ms=start * 10 + 200, **label)
        rows.append(A.segment_row(seg, job.fps))
        rec = self.add("segment_past_end", self.out / "EPIC_100_train.csv", job,
                       f"stop {A.fmt_cs(stop)} (frame {A.frame_at(stop, job.fps)}) is 2 s past the video end "
                       f"{A.fmt_cs(end_cs)} ({job.n_frames} frames)", narration_id=seg.narration_id)
        self.csv_targets[seg.narration_id] = ("segment_past_end", rec)
        return True

    def unknown_verb_class(self, rows: list[list[str]], job) -> bool:
        i = self._pick_row(rows, job)
        if i is None:
            return False
        old = rows[i][10]
        rows[i][10] = str(UNKNOWN_VERB_CLASS)
        rec = self.add("unknown_verb_class", self.out / "EPIC_100_train.csv", job,
                       f"verb_class {UNKNOWN_VERB_CLASS} is in no EPIC verb table (was {old})",
                       narration_id=rows[i][0])
        self.csv_targets[rows[i][0]] = ("unknown_verb_class", rec)
        return True

    def malformed_row(self, rows: list[list[str]], job) -> bool:
        i = self._pick_row(rows, job)
        if i is None:
            return False
        rec = self.add("malformed_row", self.out / "EPIC_100_train.csv", job,
                       "unquoted comma in the narration field: 16 fields instead of 15",
                       narration_id=rows[i][0])
        self.csv_targets[rows[i][0]] = ("malformed_row", rec)
        return True

    def write_train(self, rows: list[list[str]]) -> None:
        """Sort and write the train CSV, break the malformed row, record every CSV fault's line."""
        rows = sorted(rows, key=lambda r: r[0])
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(A.ANNOTATION_COLUMNS)
        for line, r in enumerate(rows, start=2):
            target = self.csv_targets.get(r[0])
            if target is None:
                writer.writerow(r)
                continue
            target[1]["line"] = line
            if target[0] == "malformed_row":
                bad = list(r)
                bad[8] = "\x00"
                one = io.StringIO()
                csv.writer(one, lineterminator="\n").writerow(bad)
                buf.write(one.getvalue().replace("\x00", f"{r[8]}, then {r[11]}"))
            else:
                writer.writerow(r)
        (self.out / "EPIC_100_train.csv").write_text(buf.getvalue(), encoding="utf-8", newline="")


def plant_faults(out: Path, jobs: list, rng: np.random.Generator) -> tuple[list[dict], list[str]]:
    """Plant the faults of ``FAULT_KINDS`` into the written dataset ``out``; write ``out/faults.json``.

    ``jobs``: the IMU videos (objects with ``video_id, participant_id, fps, n_frames``). Returns the
    records (as in faults.json) and the kinds that could not be planted.
    """
    jobs = sorted(jobs, key=lambda j: j.video_id)
    planter = _Planter(out, rng)
    with open(out / "EPIC_100_train.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))[1:]
    skipped = []
    for i, kind in enumerate(FAULT_KINDS):
        job = jobs[i % len(jobs)]
        method = getattr(planter, kind)
        ok = method(rows, job) if kind in ("segment_past_end", "unknown_verb_class", "malformed_row") \
            else method(job)
        if not ok:
            skipped.append(kind)
    planter.write_train(rows)
    (out / "faults.json").write_text(json.dumps(planter.records, indent=1) + "\n", encoding="utf-8")
    return planter.records, skipped
