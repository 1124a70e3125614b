"""``egoimu build --source ego4d``'s source stage without Dask or video (files stand in where only their presence
counts): wearers, files, ids, clip windows and the record; the whole build runs in test_build_ego4d.py."""

from __future__ import annotations

import argparse
import base64
import json
import uuid
from pathlib import Path

import pytest

from egoimu.pipeline.ego4d_build import ego4d_sources
from egoimu.pipeline.sources import ego4d

UIDS = [str(uuid.UUID(int=k * 0x1234567890ABCDEF)) for k in (1, 2, 3, 4)]


def _root(tmp_path: Path) -> Path:
    """Four videos: wearer 7 (files, IMU), wearer 8 (no IMU CSV), no wearer (null), wearer 9 (has_imu false)."""
    root = tmp_path / "ego4d"
    (root / ego4d.VIDEO_DIR).mkdir(parents=True)
    (root / ego4d.IMU_DIR).mkdir(parents=True)
    (root / ego4d.NARRATIONS).parent.mkdir(parents=True)
    wearers = [7, 8, None, 9]
    videos = [{"video_uid": u, "duration_sec": 30.0, "fb_participant_id": w, "device": "GoPro Hero 7",
               "has_imu": k != 3} for k, (u, w) in enumerate(zip(UIDS, wearers))]
    (root / ego4d.METADATA).write_text(json.dumps({"version": "v2", "videos": videos}))
    for k, u in enumerate(UIDS):
        (root / ego4d.VIDEO_DIR / f"{u}.mp4").write_bytes(b"")
        if k != 1:
            (root / ego4d.IMU_DIR / f"{u}.csv").write_bytes(b"")

    def narr(t: float, i: int) -> dict:
        return {"timestamp_sec": t, "timestamp_frame": int(t * 30), "narration_text": f"#C C does thing {i}",
                "annotation_uid": str(uuid.UUID(int=1000 + i))}

    data = {u: {"narration_pass_1": {"narrations": [narr(0.4, 10 * k), narr(15.0, 10 * k + 1),
                                                    narr(29.7, 10 * k + 2)]},
                "narration_pass_2": {"narrations": [narr(5.0, 100 + k)]}} for k, u in enumerate(UIDS)}
    (root / ego4d.NARRATIONS).write_text(json.dumps(data))
    return root


def _args(**kw) -> argparse.Namespace:
    return argparse.Namespace(**{"narration_pass": None, "annotations": None, **kw})


def test_sources_reject_unknown_wearers_and_missing_files_and_compact_the_ids(tmp_path, capsys):
    root = _root(tmp_path)
    rows, tasks, missing, record = ego4d_sources(root, _args())
    assert len(rows) == 12  # every narration of pass 1 is one row
    by_video = {}
    for r in rows:
        by_video.setdefault(r.video_id, []).append(r)
    ids = [ego4d.compact_id(u) for u in UIDS]
    assert all(len(i) == 32 and "-" not in i for i in ids) and set(by_video) == set(ids)
    assert str(uuid.UUID(hex=ids[0])) == UIDS[0]  # lossless
    assert {r.reason for r in by_video[ids[2]]} == {ego4d.UNKNOWN_WEARER}  # null fb_participant_id
    assert all(r.planned for k in (0, 1, 3) for r in by_video[ids[k]])  # files are checked when placing clips
    assert missing[ids[1]][0] == ego4d.NO_IMU and missing[ids[3]][0] == ego4d.NO_IMU
    assert [t.video_id for t in tasks] == [ids[0]] and tasks[0].imu_format == "ego4d"
    assert tasks[0].participant_id == "7" and tasks[0].video == f"{ego4d.VIDEO_DIR}/{UIDS[0]}.mp4"
    first = by_video[ids[0]]
    assert [(r.seg_start_s, r.seg_stop_s) for r in first] == [(0.0, 1.4), (14.0, 16.0), (28.7, 30.0)]  # cut to video
    assert [r.clip_id for r in first] == [f"{ego4d.short_uuid(str(uuid.UUID(int=1000 + i)))}_{i}" for i in range(3)]
    assert all(len(r.clip_id) == 24 for r in first) and first[0].verb == "#C C does thing 0"
    nid, _, i = first[2].narration_id.rpartition("_")  # lossless: the annotation_uid and the index come back
    assert (str(uuid.UUID(bytes=base64.urlsafe_b64decode(nid + "=="))), i) == (str(uuid.UUID(int=1002)), "2")
    assert record["narration_file"] == ego4d.NARRATIONS and record["videos_of_unknown_wearer"] == [UIDS[2]]
    assert "1 videos of unknown wearer (3 narrations rejected)" in capsys.readouterr().err


def test_the_second_pass_and_another_narration_file(tmp_path):
    root = _root(tmp_path)
    rows, *_ = ego4d_sources(root, _args(narration_pass=2))
    assert len(rows) == 4 and {r.seg_start_s for r in rows if r.planned} == {4.0}
    other = tmp_path / "mine.json"
    other.write_text(json.dumps({UIDS[0]: {"narration_pass_1": {"narrations": []}}}))
    rows, tasks, _, record = ego4d_sources(root, _args(annotations=[other]))
    assert rows == [] and tasks == [] and record["narration_file"] == str(other)


def test_an_unreadable_metadata_file_is_one_line(tmp_path):
    root = _root(tmp_path)
    (root / ego4d.METADATA).write_text("{not json")
    with pytest.raises(ValueError, match=r"ego4d\.json.*line 1"):
        ego4d_sources(root, _args())
