"""The fault catalogue's planters: further damage for a synthetic EPIC-KITCHENS root, beyond the nine kinds of
``egoimu synth epic --faults`` (:mod:`egoimu.pipeline.synth.faults`).

:func:`plant_catalogue` plants every kind of :data:`PLANTERS` into a root that ``egoimu synth epic`` wrote (with or
without ``--faults``), each on its own annotation row or its own video, and appends the records to
``ROOT/faults.json``. A record is like the generator's: ``kind``, ``path`` (relative to ROOT), ``video_id``,
``detail``, where it applies (``narration_id``, ``clip_id`` when the build gives the row another clip id,
``line``), and the outcome the build must give (``expected``: a clips.csv reason, or ``written``) over its
``scope``: ``row`` (the clip of ``clip_id``, else ``narration_id``) or ``video`` (every clip of ``video_id``).

Where things go:

- row faults: rows appended to ``EPIC_100_train.csv`` (``EPIC_100_validation.csv`` for the two kinds about that
  file), each a copy of a clean row of the *donor* video with one thing changed; line numbers are file lines
  (header = 1). The unterminated quote is planted first, so that the rows after it show whether it swallowed
  them.
- video faults: the donor's MP4 and IMU files copied under a new video id of the donor's participant
  (``PXX_150``, ``PXX_151``, ...), with one annotation row each (a 1 s segment in the middle of the video), then
  damaged. The donor is the last IMU video whose three files carry no planted fault.
- link targets (a symlinked video or IMU file, a dangling link) lie in ``outside`` (default ``ROOT/linked``),
  which should be a folder outside ROOT, as on a real dataset whose files are links to other disks (the probe
  follows links wherever they lead).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from egoimu.pipeline.ffmpeg_bin import ffmpeg_exe
from egoimu.pipeline.sources.ids import printable
from egoimu.pipeline.synth import annotations as A
from egoimu.pipeline.synth.fault_catalogue import fault_record
from egoimu.pipeline.synth.faults import decodable_frames

TRAIN, VALIDATION = "EPIC_100_train.csv", "EPIC_100_validation.csv"
LINK_TARGETS = "linked"  # ROOT/linked/: where link targets go when no folder outside ROOT is given
MIN_IMU_VIDEOS = 7  # the generator's --faults damage the files of six IMU videos; the donor must be intact
FIRST_NEW_VIDEO = 150  # new videos PXX_150, PXX_151, ...
FIRST_NEW_ROW = 900  # new rows <video>_900, <video>_901, ...
_FFMPEG = ("-hide_banner", "-loglevel", "error", "-nostdin", "-y")


@dataclass(frozen=True)
class Donor:
    """The clean IMU video every planted row and video copies: its files (relative to the root), timing, and an
    annotation row of it that carries no fault (the template of new rows)."""

    video_id: str
    participant_id: str
    fps: Fraction
    duration_s: float
    row: tuple[str, ...]

    def rel(self, video_id: str, what: str) -> str:
        """``what`` = ``video`` | ``accl`` | ``gyro``: the root-relative path of that file of ``video_id``."""
        if what == "video":
            return f"{self.participant_id}/videos/{video_id}.MP4"
        return f"{self.participant_id}/meta_data/{video_id}-{what}.csv"


def _csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.reader(fh))[1:]


def find_donor(root: Path) -> Donor:
    """The last IMU video (by id) whose video and IMU files exist and carry no fault of ``ROOT/faults.json``.

    Raises:
        ValueError: no such video (``egoimu synth epic --faults`` damages the files of the first six IMU videos:
            the root needs at least seven).
    """
    records = json.loads((root / "faults.json").read_text()) if (root / "faults.json").is_file() else []
    damaged = {r["video_id"] for r in records if "/" in r["path"]}
    rows = _csv_rows(root / TRAIN)
    faulty_rows = {r.get("narration_id") for r in records}
    info = {r[0]: r for r in _csv_rows(root / "EPIC_100_video_info.csv")}
    for vid in sorted((v for v in info if A.IMU_VIDEO_RE.match(v)), reverse=True):
        pid = vid.split("_")[0]
        files = [root / pid / "videos" / f"{vid}.MP4", *(root / pid / "meta_data" / f"{vid}-{k}.csv"
                                                         for k in ("accl", "gyro"))]
        clean = [r for r in rows if r[2] == vid and r[0] not in faulty_rows and len(r) == len(A.ANNOTATION_COLUMNS)]
        if vid not in damaged and all(f.is_file() for f in files) and clean:
            fps = Fraction(info[vid][2]).limit_denominator(1001)
            return Donor(vid, pid, fps, float(info[vid][1]), tuple(clean[0]))
    raise ValueError(f"{root}: no IMU video with intact files to plant further faults on (egoimu synth epic "
                     f"--faults damages the first six IMU videos' files: generate at least seven, e.g. "
                     f"--participants 3 --videos-per-participant 3)")


def _text_lines(path: Path) -> int:
    """Lines of a text file (the last one counted also without a final newline)."""
    data = path.read_bytes()
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def csv_line(fields: list[str]) -> bytes:
    """One CSV line (minimal quoting, ``\\n``) as UTF-8 bytes."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(fields)
    return buf.getvalue().encode("utf-8")


class FaultRoot:
    """A synthetic EPIC root being damaged: the donor, new rows and videos, and the records of what was planted."""

    def __init__(self, root: Path, outside: Path | None = None):
        self.root = Path(root)
        self.outside = Path(outside) if outside is not None else self.root / LINK_TARGETS
        self.donor = find_donor(self.root)
        self._next_video, self._next_row = FIRST_NEW_VIDEO, FIRST_NEW_ROW
        self.records: list[dict] = []

    def record(self, kind: str, path: str, video_id: str, detail: str, **where) -> dict:
        """Add the record of a planted ``kind`` (its scope and expected outcome from the catalogue)."""
        rec = fault_record(kind, path, video_id, detail, **where)
        self.records.append(rec)
        return rec

    def row(self, on: str | None = None, segment: tuple[float, float] | None = None, **changes: str) -> list[str]:
        """A new row: the donor's template row on the video ``on`` (default the donor) with a new narration id,
        the segment ``(start_s, stop_s)`` (default 1 s around the middle of the donor video), and ``changes``
        (column name -> text)."""
        d = self.donor
        vid = on or d.video_id
        mid = round(d.duration_s * 50) / 100  # the middle, whole centiseconds
        start, stop = segment or (mid - 0.5, mid + 0.5)
        fields = dict(zip(A.ANNOTATION_COLUMNS, d.row))
        start_cs, stop_cs = round(start * 100), round(stop * 100)
        fields.update(narration_id=f"{vid}_{self._next_row}", participant_id=vid.split("_")[0], video_id=vid,
                      narration_timestamp=A.fmt_ms(start_cs * 10), start_timestamp=A.fmt_cs(start_cs),
                      stop_timestamp=A.fmt_cs(stop_cs), start_frame=str(A.frame_at(start_cs, d.fps)),
                      stop_frame=str(A.frame_at(stop_cs, d.fps)))
        fields.update(changes)
        self._next_row += 1
        return [fields[c] for c in A.ANNOTATION_COLUMNS]

    def append(self, line: bytes, name: str = TRAIN) -> int:
        """Append one raw line (ending in ``\\n``) to the annotation file ``name``; returns its line number."""
        path = self.root / name
        if path.read_bytes()[-1:] not in (b"\n", b""):
            with open(path, "ab") as fh:
                fh.write(b"\n")
        number = _text_lines(path) + 1
        with open(path, "ab") as fh:
            fh.write(line)
        return number

    def add_row(self, kind: str, detail: str, fields: list[str] | None = None, raw: bytes | None = None,
                name: str = TRAIN, **where) -> dict:
        """Append a row (``fields``, or the raw line ``raw``) for ``kind`` and record it (its narration id and
        line; ``where`` adds e.g. ``clip_id``)."""
        fields = fields if fields is not None else self.row()
        line = self.append(raw if raw is not None else csv_line(fields), name)
        return self.record(kind, name, fields[2], detail, narration_id=fields[0], line=line, **where)

    def new_video(self, kind: str, detail: str, segment: tuple[float, float] | None = None
                  ) -> tuple[dict, Path, Path, Path]:
        """A copy of the donor's three files under a new video id, with one annotation row (``segment``, default
        1 s around the middle), recorded as ``kind`` (scope ``video``). Returns ``(record, video, accl, gyro)``
        (absolute paths)."""
        d = self.donor
        vid = f"{d.participant_id}_{self._next_video}"
        self._next_video += 1
        paths = [self.root / d.rel(vid, what) for what in ("video", "accl", "gyro")]
        for what, path in zip(("video", "accl", "gyro"), paths):
            shutil.copyfile(self.root / d.rel(d.video_id, what), path)
        fields = self.row(vid, segment)
        line = self.append(csv_line(fields))
        rec = self.record(kind, d.rel(vid, "video"), vid, detail, narration_id=fields[0], line=line)
        return rec, *paths

    def link(self, path: Path, target: Path) -> None:
        """Make ``path`` a symbolic link to ``target`` (a relative link: the tree can be moved as a whole)."""
        path.unlink(missing_ok=True)
        path.symlink_to(os.path.relpath(target, path.parent))

    def link_out(self, path: Path) -> str:
        """Move ``path`` to ``outside`` and leave a symbolic link to it in its place; returns the link's text."""
        target = self.outside / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target)
        self.link(path, target)
        return os.readlink(path)


def raw_line(fields: list[str], column: str, raw: bytes) -> bytes:
    """The CSV line of ``fields`` with the field ``column`` replaced by the bytes ``raw`` as they are (not quoted,
    not UTF-8: what a writer that is not the csv module may leave)."""
    i = A.ANNOTATION_COLUMNS.index(column)
    return csv_line([*fields[:i], "\x00", *fields[i + 1:]]).replace(b"\x00", raw)


# --- row faults -------------------------------------------------------------------------------------------------

def unterminated_quote(r: FaultRoot) -> None:
    noun, noun_class = r.donor.row[11], r.donor.row[12]
    fields = r.row(all_nouns=f"['{noun}']", all_noun_classes=f"[{noun_class}]")  # no other quote on the line
    rec = r.add_row("unterminated_quote", "narration starts with a quote that never closes (the csv module would "
                    "read on across the following lines)", fields, raw_line(fields, "narration", b'"take the cup'))
    rec["clip_id"] = f"{TRAIN}:{rec['line']}"  # no fields: the row's clip id is its file and line


def _row_faults(r: FaultRoot) -> list[tuple[str, str, dict]]:
    d = r.donor
    other = "P01" if d.participant_id != "P01" else "P02"
    mid = round(d.duration_s * 50) / 100
    return [
        ("participant_mismatch", f"participant_id {other} on a {d.participant_id} video (a split leak)",
         dict(participant_id=other)),
        ("participant_path", "participant_id '../x'", dict(participant_id="../x")),
        ("video_id_path", "video_id with '/../' (not a file-name part)",
         dict(video_id=f"{d.participant_id}_1/../../etc")),
        ("narration_id_too_long", "narration_id of 33 bytes (the shard's field holds 32)",
         dict(narration_id=f"{d.video_id}_" + "9" * (32 - len(d.video_id)))),
        ("participant_id_too_long", "participant_id of 301 characters (the shard's field holds 16 bytes)",
         dict(participant_id=d.participant_id + "x" * 298)),
        ("verb_class_negative", "verb_class -5", dict(verb_class="-5")),
        ("verb_class_beyond_int32", "verb_class 2**31", dict(verb_class=str(2**31))),
        ("noun_class_unknown", "noun_class 99999, in no noun table", dict(noun_class="99999")),
        ("class_not_integer", "verb_class '3.5'", dict(verb_class="3.5")),
        ("timestamp_not_hms", "start_timestamp '00:00:xx.00'", dict(start_timestamp="00:00:xx.00")),
        ("timestamp_minute_61", "start_timestamp '00:61:00.00'", dict(start_timestamp="00:61:00.00")),
        ("stop_before_start", "stop 1 s before start",
         dict(start_timestamp=A.fmt_cs(round(mid * 100) + 50), stop_timestamp=A.fmt_cs(round(mid * 100) - 50))),
        ("empty_video_id", "video_id ''", dict(video_id="")),
        ("segment_zero_length", "start = stop, mid-video",
         dict(start_timestamp=A.fmt_cs(round(mid * 100)), stop_timestamp=A.fmt_cs(round(mid * 100)))),
        ("segment_after_video", "a segment starting 1 s after the video's end",
         dict(start_timestamp=A.fmt_cs(round(d.duration_s * 100) + 100),
              stop_timestamp=A.fmt_cs(round(d.duration_s * 100) + 200))),
        ("no_video_file", "a row of a video that has no file", dict(on=f"{d.participant_id}_{FIRST_NEW_VIDEO - 1}")),
    ]


def row_faults(r: FaultRoot) -> None:
    """The row faults that change one field (or the video) of a template row."""
    for kind, detail, changes in _row_faults(r):
        r.add_row(kind, detail, r.row(**changes))


def byte_faults(r: FaultRoot) -> None:
    """Rows with a byte that is not UTF-8, a NUL in an id or in free text, a control character, a huge field."""
    fields = r.row()
    r.add_row("latin1_byte", "narration 'caf\\xe9' (one Latin-1 byte)", fields,
              raw_line(fields, "narration", "café".encode("latin-1")))
    fields = r.row()
    fields[0] += "\x00"
    r.add_row("nul_in_id", "a NUL byte at the end of the narration_id", fields, clip_id=printable(fields[0]))
    r.add_row("nul_in_narration", "a NUL byte in the narration (free text, not stored)",
              r.row(narration="take\x00cup"))
    r.add_row("control_char_in_verb", "an escape character (0x1b) in the raw verb, which clips.csv stores",
              r.row(verb="take\x1b[31m"))
    rec = r.add_row("field_over_csv_limit", "a narration of 200,000 characters (the csv module's field limit is "
                    "131,072)", r.row(narration="x" * 200_000))
    rec["clip_id"] = f"{TRAIN}:{rec['line']}"


def duplicate_ids(r: FaultRoot) -> None:
    """A narration id twice in the train file, and a train id again in the validation file."""
    first = r.row()
    r.append(csv_line(first))  # the original (written)
    again = r.row()
    again[0] = first[0]
    rec = r.add_row("duplicate_id", f"{first[0]} a second time in {TRAIN}", again)
    rec["clip_id"] = f"{first[0]}@{TRAIN}:{rec['line']}"
    other = r.row()
    other[0] = first[0]
    rec = r.add_row("duplicate_id_across_files", f"{first[0]} of {TRAIN} again in {VALIDATION}", other,
                    name=VALIDATION)
    rec["clip_id"] = f"{first[0]}@{VALIDATION}:{rec['line']}"


def bom_annotation_file(r: FaultRoot) -> None:
    path = r.root / VALIDATION
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    r.add_row("bom_annotation_file", f"{VALIDATION} starts with a UTF-8 byte-order mark; this row of it is clean",
              name=VALIDATION)


# --- video faults -----------------------------------------------------------------------------------------------

def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), *_FFMPEG, *args], check=True, capture_output=True)


def _rewrite(video: Path, before_input: tuple[str, ...], after_input: tuple[str, ...]) -> None:
    """``video`` rewritten by ffmpeg (stream copy) with ``before_input`` options on the input and ``after_input``
    ones on the output."""
    tmp = video.with_suffix(".tmp.MP4")
    video.rename(tmp)
    _ffmpeg(*before_input, "-i", str(tmp), "-map", "0", "-c", "copy", *after_input, "-f", "mp4", str(video))
    tmp.unlink()


def _edit_lines(path: Path, edit: Callable[[list[str]], list[str]]) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(edit(lines)) + "\n", encoding="utf-8", newline="")


def _set_row(i: int, text: Callable[[str], str]) -> Callable[[list[str]], list[str]]:
    return lambda lines: [*lines[:i], text(lines[i]), *lines[i + 1:]]


def _cut_imu(paths: tuple[Path, ...], end_ms: float) -> None:
    """Keep the rows of the IMU files ``paths`` before Milliseconds ``end_ms``."""
    for path in paths:
        _edit_lines(path, lambda lines: [lines[0], *(t for t in lines[1:] if float(t.split(",")[0]) < end_ms)])


def video_file_faults(r: FaultRoot) -> None:
    """MP4 files that are not videos, or not upright, or damaged inside; links to files elsewhere."""
    _, video, _, _ = r.new_video("zero_byte_mp4", "the MP4 is 0 bytes")
    video.write_bytes(b"")
    _, video, _, _ = r.new_video("text_as_mp4", "a text file named .MP4")
    video.write_text("not a video\n")
    _, video, _, _ = r.new_video("audio_only_mp4", "an MP4 with an audio stream and no video stream")
    _ffmpeg("-f", "lavfi", "-i", f"sine=frequency=440:duration={r.donor.duration_s}", "-c:a", "aac", "-f", "mp4",
            str(video))
    _, video, _, _ = r.new_video("rotated_video", "display matrix: rotated 180 degrees (a camera upside down)")
    _rewrite(video, ("-display_rotation", "180"), ())
    n = round(Fraction(r.donor.duration_s) / 2 * r.donor.fps)
    rec, video, _, _ = r.new_video("garbled_video_packet", f"every byte of video packet {n} garbled (ffmpeg's noise "
                                   f"filter): all packets are there (the probe passes) but a frame does not decode")
    _rewrite(video, (), ("-bsf:v", f"noise=amount=if(eq(n\\,{n})\\,1\\,0)"))
    rec["frames_decodable"] = decodable_frames(video)
    rec, video, _, _ = r.new_video("dangling_video_link", "the MP4 is a symbolic link to a file that does not exist")
    r.link(video, r.outside / f"{rec['video_id']}-gone.MP4")
    rec, video, _, _ = r.new_video("symlinked_video", "the MP4 is a symbolic link to the file, moved elsewhere")
    rec["link"] = r.link_out(video)
    rec, _, accl, gyro = r.new_video("symlinked_imu", "both IMU files are symbolic links to the files, moved elsewhere")
    rec["link"] = [r.link_out(accl), r.link_out(gyro)]
    _, video, accl, gyro = r.new_video("video_too_short", "video and IMU cut to 1.5 s (a clip needs 2 s)",
                                       segment=(0.2, 1.2))
    _rewrite(video, (), ("-t", "1.5"))
    _cut_imu((accl, gyro), 1500)
    rec, video, _, _ = r.new_video("lowercase_mp4_extension", "the video is PXX_1YY.mp4, not .MP4")
    video.rename(video.with_suffix(".mp4"))
    rec["path"] = Path(rec["path"]).with_suffix(".mp4").as_posix()


def imu_file_faults(r: FaultRoot) -> None:
    """IMU files that cannot be read, or whose values or timestamps are unusable, and two that must be read."""
    _, _, accl, _ = r.new_video("imu_non_numeric", "AcclX 'abc' on line 301")
    _edit_lines(accl, _set_row(300, lambda t: t.split(",")[0] + ",abc,0,0"))
    _, _, _, gyro = r.new_video("imu_wrong_header", "gyro header 'Milliseconds,GyroX,GyroY,GyroW'")
    _edit_lines(gyro, _set_row(0, lambda t: "Milliseconds,GyroX,GyroY,GyroW"))
    _, _, accl, _ = r.new_video("imu_extra_field", "a fifth field on line 301")
    _edit_lines(accl, _set_row(300, lambda t: t + ",7"))
    _, _, accl, _ = r.new_video("imu_zero_bytes", "the accl file is 0 bytes")
    accl.write_bytes(b"")
    _, _, _, gyro = r.new_video("imu_latin1_byte", "a Latin-1 byte in a number on line 301")
    lines = gyro.read_bytes().split(b"\n")
    lines[300] = lines[300].replace(b".", "\xe9".encode("latin-1"), 1)
    gyro.write_bytes(b"\n".join(lines))
    _, _, accl, _ = r.new_video("imu_constant_ms", "every Milliseconds value of the accl file is 1000")
    _edit_lines(accl, lambda lines: [lines[0], *("1000," + t.split(",", 1)[1] for t in lines[1:])])
    _, _, _, gyro = r.new_video("imu_1e308", "GyroY = 1e308 on line 501 (finite in float64, inf in float32)")
    _edit_lines(gyro, _set_row(500, lambda t: ",".join([t.split(",")[0], "0.25", "1e308", "0"])))
    _, _, _, gyro = r.new_video("accl_gyro_lengths_differ", "the gyro file holds the first half of its rows only")
    _edit_lines(gyro, lambda lines: lines[:len(lines) // 2])
    _, _, accl, gyro = r.new_video("imu_ends_early", "both IMU files stop 2 s before the video's end")
    _cut_imu((accl, gyro), (r.donor.duration_s - 2) * 1000)
    _, _, accl, _ = r.new_video("imu_crlf", "the accl file has Windows line ends (\\r\\n)")
    accl.write_bytes(accl.read_bytes().replace(b"\n", b"\r\n"))
    _, _, _, gyro = r.new_video("imu_bom", "the gyro file starts with a UTF-8 byte-order mark")
    gyro.write_bytes(b"\xef\xbb\xbf" + gyro.read_bytes())


#: Every planter, in planting order (the unterminated quote first: the rows after it show that it swallows none).
PLANTERS: tuple[Callable[[FaultRoot], None], ...] = (unterminated_quote, row_faults, byte_faults, duplicate_ids,
                                                     bom_annotation_file, video_file_faults, imu_file_faults)


def plant_catalogue(root: Path, outside: Path | None = None) -> list[dict]:
    """Plant every kind of :data:`PLANTERS` into the synthetic EPIC root ``root``; append the records to
    ``ROOT/faults.json`` (created if absent) and return them. ``outside``: where link targets go."""
    r = FaultRoot(root, outside)
    for plant in PLANTERS:
        plant(r)
    path = Path(root) / "faults.json"
    earlier = json.loads(path.read_text()) if path.is_file() else []
    path.write_text(json.dumps(earlier + r.records, indent=1) + "\n", encoding="utf-8")
    return r.records
