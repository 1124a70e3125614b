"""``egoimu build --source gopro`` with participants from a CSV, labels from an annotation CSV (EPIC-100's format
or the minimal ``video_id,start_s,stop_s,verb_class``) and subject-disjoint splits, on copies of the real GoPro
file (../shared/data/gopro/karma.mp4, hard-linked under several names)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from egoimu.manifests.audit import audit
from egoimu.manifests.schema import Manifest
from egoimu.pipeline.build import main as build_main
from egoimu.pipeline.build_args import make_config, parse_args
from egoimu.pipeline.clips import SEGMENT_OUTSIDE_VIDEO, VIDEO_TOO_SHORT
from egoimu.pipeline.gopro_build import gopro_rows, gopro_sources, unclipped_rows
from egoimu.pipeline.recordings import IMU_UNREADABLE, probe_recording
from egoimu.pipeline.sources.epic import (
    BAD_TIMESTAMP,
    EPIC100_COLUMNS,
    MALFORMED_ROW,
    NO_VIDEO_FILE,
    PARTICIPANT_MISMATCH,
    UNKNOWN_VERB_CLASS,
    AnnotationError,
)
from egoimu.pipeline.sources.gopro import NOT_A_VIDEO, UNANNOTATED_VIDEO, UNLISTED_VIDEO, read_participants
from egoimu.pipeline.sources.gopro_labels import read_gopro_annotations

KARMA_WINDOWS = 6  # 12.08 s: 2 s windows every 2 s start at 0, 2, ..., 10 s


def _copy(karma: Path, dest: Path) -> None:
    """``dest`` the real GoPro file (a hard link; a symlink where the file system refuses one)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(karma, dest)
    except OSError:
        dest.symlink_to(karma)


def _epic_row(narration_id: str, pid: str, vid: str, start: str, stop: str, verb: str, verb_class: int) -> str:
    fields = dict.fromkeys(EPIC100_COLUMNS, "")
    fields.update(narration_id=narration_id, participant_id=pid, video_id=vid, start_timestamp=start,
                  stop_timestamp=stop, verb=verb, verb_class=str(verb_class), noun="cup", noun_class="5")
    return ",".join(fields.values())


def test_build_gopro_participants_csv_and_labels(tmp_path, gopro_karma, capsys):
    root = tmp_path / "root"
    for rel in ("a.MP4", "b.MP4", "day2/c.MP4", "e.MP4", "extra.MP4"):
        _copy(gopro_karma, root / rel)
    (root / "notes.txt").write_text("settings\n")
    people = root / "participants.csv"  # inside ROOT: an option file, not an input
    people.write_text("participant_id,video\nP01,a.MP4\nP02,b.MP4\nP03,day2/c.MP4\nP03,gone.MP4\nP02,e.MP4\n")
    minimal = tmp_path / "labels.csv"
    minimal.write_text("video_id,start_s,stop_s,verb_class\n"
                       "a,1.0,2.5,0\na,4,6,1\nc,8,9,3\nc,2,1,3\nc,1,2,97\nnosuch,1,2,0\nb,20,21,0\n")
    epic = tmp_path / "epic.csv"
    epic.write_text(",".join(EPIC100_COLUMNS) + "\n" + _epic_row("b_e0", "P02", "b", "00:00:03.00", "00:00:03.50",
                                                               "wash", 2) + "\n"
                    + _epic_row("b_e1", "P01", "b", "00:00:05.00", "00:00:06.00", "take", 0) + "\n")
    out = tmp_path / "out"
    assert build_main([str(root), str(out), "--source", "gopro", "--participants", str(people), "--annotations",
                       str(minimal), str(epic), "--ssl-windows", "4", "--workers", "1", "--quiet",
                       "--no-dashboard"]) == 0
    err = capsys.readouterr().err
    assert "[gopro] 4 MP4s of 3 participant(s); 5 annotated segments + unlabelled 2 s windows every 4 s" in err
    m = Manifest.load(out)
    split_of = dict(zip(m.splits.participant_id, m.splits.split))
    assert sorted(split_of) == ["P01", "P02", "P03"] and sorted(split_of.values()) == ["test", "train", "validation"]
    written = m.clips[m.clips.status == "written"].set_index("clip_id")
    segments = written[written.kind == "segment"]
    assert segments.verb_class.to_dict() == {"a_0": 0, "a_1": 1, "b_e0": 2, "c_0": 3}
    assert segments.start_s["a_0"] == pytest.approx(0.75)  # centred on 1.75 s
    assert (written.split == written.participant_id.map(split_of)).all()  # subject-disjoint
    windows = written[written.kind == "window"]
    (trainee,) = [p for p, s in split_of.items() if s == "train"]
    assert len(windows) == 3 and set(windows.participant_id) == {trainee}  # 0, 4, 8 s over the train video
    rejected = m.clips[m.clips.status == "rejected"].set_index("clip_id").reason.to_dict()
    assert rejected == {"extra.MP4": UNLISTED_VIDEO, "notes.txt": NOT_A_VIDEO, "gone.MP4": NO_VIDEO_FILE,
                        "labels.csv:5": BAD_TIMESTAMP, "labels.csv:6": UNKNOWN_VERB_CLASS, "nosuch_0": NO_VIDEO_FILE,
                        "b_0": SEGMENT_OUTSIDE_VIDEO, "b_e1": PARTICIPANT_MISMATCH,
                        "e": UNANNOTATED_VIDEO}  # P02's, not in train: no row, no window
    assert m.summary["accounting"]["input"] == 3 + 7 + 2 + 3 + 1 == len(m.clips)
    assert m.summary["accounting"]["written"] == 7
    assert not audit(out, progress=False).failed


@pytest.mark.parametrize("text, line, words", [
    ("participant,video\nP01,a.MP4\n", 1, "participant_id missing"),
    ("participant_id,video\nP01,a.MP4,x\n", 2, "3 fields, the header has 2"),
    ("participant_id,video\nP01,a.MP4\nP02,\n", 3, "empty participant_id or video"),
    ("participant_id,video\nP01,/data/a.MP4\n", 2, "not a plain path relative to ROOT"),
    ("participant_id,video\nP01,../a.MP4\n", 2, "not a plain path relative to ROOT"),
    ("participant_id,video\nP01,a.mov\n", 2, "not an .MP4 file"),
    ("participant_id,video\nP 01,a.MP4\n", 2, "bad_id"),
    ("participant_id,video\nP01,a.MP4\nP02,day2/a.MP4\n", 3, "already on line 2 (participant 'P01')"),
    (b"participant_id,video\nP\xe9,a.MP4\n", 2, "0xe9 are not UTF-8"),
])
def test_participants_csv_bad_line_is_one_line_error(tmp_path, text, line, words):
    path = tmp_path / "people.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(AnnotationError) as exc:
        read_participants(path)
    assert str(exc.value).startswith(f"{path}, line {line}: ") and words in str(exc.value)


def test_participants_csv_read_and_cli_error(tmp_path, gopro_karma, capsys):
    path = tmp_path / "people.csv"
    path.write_text("video,participant_id,note\n\nGX01.MP4,P01,x\nday2/GX02.MP4,P02,\n")
    assert {k: v.participant_id for k, v in read_participants(path).items()} == {"GX01.MP4": "P01",
                                                                                   "day2/GX02.MP4": "P02"}
    _copy(gopro_karma, tmp_path / "root" / "GX01.MP4")
    path.write_text("participant_id,video\nP01,GX01.MP4\nP02,GX01.MP4\n")
    out = tmp_path / "out"
    assert build_main([str(tmp_path / "root"), str(out), "--source", "gopro", "--participants", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"egoimu build: {path}, line 3: video id 'GX01' (the file name) is already on line 2 "
                   f"(participant 'P01'): a video id must name one recording of one participant"]
    assert not out.exists()
    assert build_main([str(tmp_path / "root"), str(out), "--participants", str(path)]) == 2
    assert "--participants is for --source gopro" in capsys.readouterr().err


def test_minimal_annotations_rows(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("video_id,start_s,stop_s,verb_class,note\nGX01,1,2,,x\nGX01,1,2,take,x\nGX01,nan,2,0,x\n"
                    "GX01,1,2,0\nGX01,-1,2,0,x\nGX01,0.5,1.5,96,x\n")
    segments, rejections = read_gopro_annotations([path], {"GX01": "P01"})
    assert [(s.narration_id, s.participant_id, s.start_s, s.stop_s, s.verb_class) for s in segments] == [
        ("GX01_0", "P01", 1.0, 2.0, -1), ("GX01_1", "P01", 0.5, 1.5, 96)]  # an empty verb_class: unlabelled
    assert [(r.line, r.reason) for r in rejections] == [(3, MALFORMED_ROW), (4, BAD_TIMESTAMP), (5, MALFORMED_ROW),
                                                        (6, BAD_TIMESTAMP)]
    path.write_text("video,start,stop\nGX01,1,2\n")
    with pytest.raises(AnnotationError, match="neither EPIC-KITCHENS-100's .* nor the minimal"):
        read_gopro_annotations([path], {"GX01": "P01"})


def test_unlabelled_split_by_windows(tmp_path, gopro_karma, capsys):
    """No labels: windows over every participant's videos, split subject-disjoint by window counts; a build of
    one participant puts everything in train and says so (stages without Dask)."""
    root = tmp_path / "root"
    for pid, name in (("P01", "a"), ("P02", "b"), ("P03", "c"), ("P03", "d")):
        _copy(gopro_karma, root / pid / f"{name}.MP4")
    args = parse_args([str(root), str(tmp_path / "out"), "--source", "gopro", "--ssl-windows", "2"])
    rows, tasks, cfg = gopro_sources(root, args, make_config(args))
    assert "no labels (no --annotations): unlabelled 2 s windows every 2 s" in capsys.readouterr().err
    assert cfg.split.mode == "planned" and not rows
    probed = probe_recording(tasks[0], str(root), cfg.video, cfg.imu)
    recordings = {t.video_id: replace(probed, video_id=t.video_id, participant_id=t.participant_id, video=t.video)
                  for t in tasks}
    rows, assignment, _, record = gopro_rows(rows, recordings, cfg, labelled=False)
    assert record == {"requested": 2.0, "stride_s": 2.0, "train_video_s": pytest.approx(4 * 12.08, abs=0.1),
                      "train_segments": 0}
    assert assignment == {"P01": "validation", "P02": "test", "P03": "train"}  # 12 windows of 24 in train
    assert len(rows) == 4 * KARMA_WINDOWS and all(r.planned and r.split == assignment[r.participant_id] for r in rows)
    for other in ("P02", "P03"):
        for path in (root / other).iterdir():
            path.unlink()
        (root / other).rmdir()
    rows, tasks, cfg = gopro_sources(root, args, make_config(args))
    assert "1 MP4s of 1 participant(s)" in (err := capsys.readouterr().err) and "everything in train" in err
    assert cfg.split.mode == "single"
    rows, assignment, _, _ = gopro_rows(rows, {"a": recordings["a"]}, cfg, labelled=False)
    assert assignment == {"P01": "train"} and len(rows) == KARMA_WINDOWS
    short = replace(recordings["a"], n_frames=40)
    broken = replace(recordings["b"], status="rejected", reason=IMU_UNREADABLE)
    assert [(r.clip_id, r.reason) for r in unclipped_rows([], {"a": short, "b": broken}, cfg.clip)] == [
        ("a", VIDEO_TOO_SHORT), ("b", IMU_UNREADABLE)]  # 40 frames at 29.97 fps: 1.33 s
