"""egoimu.pipeline.sources.ego4d on an ego4d.json and a narration.json written here in Ego4D's documented
structure (../shared/data/README.md; ego4d-data.org/docs/data/annotations-schemas), every record kind planted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from egoimu.pipeline.sources.ego4d import (
    BAD_TIMESTAMP,
    DUPLICATE_ID,
    MALFORMED_RECORD,
    NARRATIONS,
    NO_IMU,
    NO_VIDEO_FILE,
    OUTSIDE_VIDEO,
    UNKNOWN_VIDEO,
    UNKNOWN_WEARER,
    file_problem,
    find_files,
    read_metadata,
    read_narrations,
    wearer_problem,
)
from egoimu.pipeline.sources.epic import AnnotationError

GOOD_VIDEOS = [
    {"video_uid": "vid-a", "duration_sec": 100.0, "fb_participant_id": 123, "device": "GoPro Hero 7",
     "has_imu": True, "imu_metadata": {}, "scenarios": ["Cooking"], "origin_video_id": "x1"},
    {"video_uid": "vid-b", "duration_sec": 60, "fb_participant_id": None, "device": None, "has_imu": False},
    {"video_uid": "vid-c", "duration_sec": 50.5, "fb_participant_id": " 77 ", "device": "Vuzix", "has_imu": True},
    {"video_uid": "vid-e", "duration_sec": 30, "fb_participant_id": "", "device": "GoPro", "has_imu": True},
]
# (record, why it is bad) -- each a malformed_record
BAD_VIDEOS = [
    ({"duration_sec": 10, "fb_participant_id": 1}, "no video_uid"),
    ({"video_uid": "vid-x", "duration_sec": "long", "fb_participant_id": 1}, "duration_sec"),
    ({"video_uid": "vid-y", "duration_sec": float("nan"), "fb_participant_id": 1}, "duration_sec"),
    ({"video_uid": "vid-a", "duration_sec": 10, "fb_participant_id": 1}, "repeated (first at record 1)"),
    ({"video_uid": "vid-z", "duration_sec": 10, "fb_participant_id": [1]}, "fb_participant_id"),
    ("not a video", "not an object"),
]


def _narr(t, text="#C C picks a bag", uid=None, frame=0):
    item = {"timestamp_sec": t, "timestamp_frame": frame, "narration_text": text}
    if uid is not None:
        item["annotation_uid"] = uid
    return item


NARRATION_DOC = {
    "vid-a": {
        "narration_pass_1": {"narrations": [
            _narr(10.0, uid="n1"),                       # 1 segment
            _narr(0.5, text="#C C opens a door"),        # 2 segment, id vid-a:1, start < 0 passed through
            {"timestamp_frame": 3, "narration_text": "#C C waits", "annotation_uid": "n3"},  # 3 bad_timestamp
            _narr(-1.0, uid="n4"),                       # 4 bad_timestamp
            _narr(150.0, uid="n5"),                      # 5 outside_video
            _narr(12.0, text=5, uid="n6"),               # 6 malformed_record
            _narr(20.0, uid="n1"),                       # 7 segment: the pass's uid again, id n1:6
            "C picks",                                   # 8 malformed_record
        ], "summaries": [{"summary_text": "C cooks"}]},
        "narration_pass_2": {"narrations": [_narr(3.0, uid="p2-a")]},
        "status": "complete",
    },
    "vid-b": {"narration_pass_1": {"narrations": [_narr(5.0, text="#C C walks", uid="n9")]}},  # 9 segment, ''
    "vid-unknown": {"narration_pass_1": {"narrations": [_narr(1.0, uid="n10")]}},  # 10 unknown_video
    "vid-c": {"narration_pass_2": {"narrations": [_narr(7.0, uid="p2-c")]}},  # no pass 1: nothing
    "vid-d": {"narration_pass_1": 5},  # 11 malformed_record (the video entry)
}
N_PASS1 = 11
EXPECTED_REJECTED = {3: BAD_TIMESTAMP, 4: BAD_TIMESTAMP, 5: OUTSIDE_VIDEO, 6: MALFORMED_RECORD,
                     8: MALFORMED_RECORD, 10: UNKNOWN_VIDEO, 11: MALFORMED_RECORD}


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    videos = GOOD_VIDEOS[:2] + [b for b, _ in BAD_VIDEOS] + GOOD_VIDEOS[2:]
    (tmp_path / "ego4d.json").write_text(json.dumps({"date": "2022", "version": "v2", "videos": videos}))
    (tmp_path / NARRATIONS).parent.mkdir(parents=True)
    (tmp_path / NARRATIONS).write_text(json.dumps(NARRATION_DOC))
    return tmp_path


def test_metadata_records_and_rejections(root):
    videos, rejected = read_metadata(root)
    assert list(videos) == ["vid-a", "vid-b", "vid-c", "vid-e"]
    a, b, c = videos["vid-a"], videos["vid-b"], videos["vid-c"]
    assert (a.participant_id, a.device, a.has_imu, a.duration_s) == ("123", "GoPro Hero 7", True, 100.0)
    assert (b.participant_id, b.device, b.has_imu) == ("", "", False)  # null wearer -> ''
    assert (c.participant_id, videos["vid-e"].participant_id) == ("77", "")
    assert len(videos) + len(rejected) == len(GOOD_VIDEOS) + len(BAD_VIDEOS)
    assert [r.line for r in rejected] == [3, 4, 5, 6, 7, 8]  # 1-based index in 'videos'
    for r, (_, why) in zip(rejected, BAD_VIDEOS):
        assert r.reason == MALFORMED_RECORD and why in r.detail and r.source == "ego4d.json"


def test_narrations_centred_and_every_rejection_counted(root):
    videos, _ = read_metadata(root)
    segs, rej = read_narrations(root / NARRATIONS, videos)
    assert len(segs) + len(rej) == N_PASS1
    assert sorted(s.line for s in segs) + sorted(r.line for r in rej) == [1, 2, 7, 9] + sorted(EXPECTED_REJECTED)
    assert {r.line: r.reason for r in rej} == EXPECTED_REJECTED
    s1, s2, s7, s9 = segs
    assert (s1.narration_id, s1.video_id, s1.participant_id, s1.start_s, s1.stop_s) == ("n1:0", "vid-a", "123", 9.0,
                                                                                         11.0)
    assert s7.narration_id == "n1:6"  # the pass's annotation_uid is shared: the index tells narrations apart
    assert (s1.verb, s1.verb_class, s1.noun_class, s1.source) == ("#C C picks a bag", -1, -1, "narration.json")
    assert (s2.narration_id, s2.start_s, s2.stop_s) == ("vid-a:1", -0.5, 1.5)
    assert (s9.participant_id, s9.verb) == ("", "#C C walks")  # unknown wearer passed through
    assert not any(r.reason == DUPLICATE_ID for r in rej)  # a pass's shared annotation_uid is no duplicate
    assert all("\n" not in r.detail for r in rej)


def test_other_pass(root):
    videos, _ = read_metadata(root)
    segs, rej = read_narrations(root / NARRATIONS, videos, pass_name="narration_pass_2", half_window_s=0.5)
    assert [(s.narration_id, s.start_s, s.stop_s) for s in segs] == [("p2-a:0", 2.5, 3.5), ("p2-c:0", 6.5, 7.5)]
    assert rej == []  # the other videos have no pass 2: they contribute nothing


def test_unreadable_files_raise_one_line(tmp_path):
    with pytest.raises(AnnotationError, match="ego4d.json: file not found"):
        read_metadata(tmp_path)
    (tmp_path / "ego4d.json").write_text('{"videos": [\n{"video_uid": }]}')
    with pytest.raises(AnnotationError, match=r"ego4d.json, line 2: not valid JSON"):
        read_metadata(tmp_path)
    (tmp_path / "ego4d.json").write_text('{"clips": []}')
    with pytest.raises(AnnotationError, match="no 'videos' list"):
        read_metadata(tmp_path)
    (tmp_path / "n.json").write_text("[1, 2]")
    with pytest.raises(AnnotationError, match="not a video_uid -> narrations object") as e:
        read_narrations(tmp_path / "n.json", {})
    assert "\n" not in str(e.value)


def test_files_and_file_problems(root):
    videos, _ = read_metadata(root)
    for rel in ("v2/full_scale/vid-a.mp4", "v2/imu/vid-a.csv", "v2/full_scale/vid-b.mp4", "v2/full_scale/vid-e.mp4"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    assert find_files(root, "vid-a") == ("v2/full_scale/vid-a.mp4", "v2/imu/vid-a.csv")
    assert find_files(root, "vid-c") == ("", "")
    assert file_problem(videos["vid-a"], find_files(root, "vid-a")) is None
    assert file_problem(videos["vid-b"], find_files(root, "vid-b"))[0] == NO_IMU  # has_imu false
    assert file_problem(videos["vid-c"], find_files(root, "vid-c"))[0] == NO_VIDEO_FILE
    reason, detail = file_problem(videos["vid-e"], find_files(root, "vid-e"))
    assert reason == NO_IMU and "v2/imu/vid-e.csv is not there" in detail
    assert wearer_problem(videos["vid-e"])[0] == UNKNOWN_WEARER and wearer_problem(videos["vid-a"]) is None
