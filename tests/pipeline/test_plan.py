"""The build plan, without Dask or video: rows, clip placement, splits, shard tasks."""

from fractions import Fraction

import pytest

from egoimu.pipeline.config import BuildConfig, ShardConfig, SplitConfig
from egoimu.pipeline.plan import assign_splits, place_clips, rows_from_sources, shard_tasks, window_rows, with_splits
from egoimu.pipeline.recordings import RecordingResult
from egoimu.pipeline.sources.epic import Rejection, Segment


def _seg(nid, pid, vid, a, b, line=2, source="a.csv"):
    return Segment(nid, pid, vid, a, b, "take", 0, 1, source, line)


def _rec(vid, pid, n_frames=3000, status="ok", reason=""):
    return RecordingResult(vid, pid, f"{pid}/videos/{vid}.MP4", "a", "g", status, reason, "", fps_num=50,
                           fps_den=1, n_frames=n_frames, width=456, height=256)


def test_every_source_row_becomes_one_clip_row():
    segs = [_seg("P01_101_0", "P01", "P01_101", 1, 2), _seg("P01_101_0", "P01", "P01_101", 3, 4, 9, "b.csv")]
    rej = [Rejection("a.csv:5", "", "", "malformed_row", "3 fields", "a.csv", 5)]
    rows = rows_from_sources(segs, rej)
    assert len(rows) == 3
    assert len({r.clip_id for r in rows}) == 3
    assert [r.reason for r in rows] == ["", "duplicate_id", "malformed_row"]


def test_place_clips_records_reasons():
    rows = rows_from_sources([_seg("a", "P01", "P01_101", 1, 2), _seg("b", "P01", "P01_102", 1, 2),
                              _seg("c", "P01", "P01_103", 1, 2), _seg("d", "P01", "P01_101", 70, 71)], [])
    recs = {"P01_101": _rec("P01_101", "P01"), "P01_103": _rec("P01_103", "P01", status="rejected",
                                                                   reason="video_unreadable")}
    placed = place_clips(rows, recs, BuildConfig().clip, {"P01_102": ("no_imu", "no gyro")})
    assert placed[0].start == Fraction(12, 24)
    assert [r.reason for r in placed] == ["", "no_imu", "video_unreadable", "segment_outside_video"]


def test_splits_are_subject_disjoint_and_shards_ordered():
    segs = [_seg(f"{p}_{i}", p, f"{p}_101", i, i + 1) for p, n in (("P01", 20), ("P02", 3), ("P03", 2))
            for i in range(n)]
    rows = place_clips(rows_from_sources(segs, []), {f"{p}_101": _rec(f"{p}_101", p) for p in ("P01", "P02", "P03")},
                       BuildConfig().clip, {})
    cfg = BuildConfig(shard=ShardConfig(clips_per_shard=8))
    assignment = assign_splits(rows, cfg)
    assert sorted(assignment.values()) == ["test", "train", "validation"]
    rows = with_splits(rows, assignment)
    tasks = shard_tasks(rows, {f"{p}_101": _rec(f"{p}_101", p) for p in ("P01", "P02", "P03")}, cfg)
    assert [t.rel_path for t in tasks if t.split == "train"] == ["shards/train/train-00000.h5",
                                                                 "shards/train/train-00001.h5",
                                                                 "shards/train/train-00002.h5"]
    for t in tasks:
        assert len({c.participant_id for c in t.clips} - {p for p, s in assignment.items() if s == t.split}) == 0
        starts = [(c.video_id, Fraction(*c.start)) for c in t.clips]
        assert starts == sorted(starts)
    assert sum(len(t.clips) for t in tasks) == 25


def test_canonical_split_refuses_unknown_participants():
    rows = place_clips(rows_from_sources([_seg("a", "P99", "P99_101", 1, 2)], []),
                       {"P99_101": _rec("P99_101", "P99")}, BuildConfig().clip, {})
    with pytest.raises(ValueError, match="P99"):
        assign_splits(rows, BuildConfig(split=SplitConfig(mode="canonical")))


def test_windows_only_for_train_videos():
    recs = {"P01_101": _rec("P01_101", "P01", n_frames=500), "P02_101": _rec("P02_101", "P02", n_frames=500)}
    cfg = BuildConfig().clip.__class__(ssl_stride_s=2.0)
    rows = window_rows(recs, {"P01": "train", "P02": "test"}, cfg)
    assert {r.video_id for r in rows} == {"P01_101"}
    assert all(r.kind == "window" and r.split == "train" and r.verb_class == -1 for r in rows)
    assert [r.start for r in rows] == [0, 2, 4, 6, 8]  # 10 s video: the last 2 s window starts at 8 s
