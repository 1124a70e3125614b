"""What a build finds and leaves in OUT (egoimu.pipeline.outdir), and the empty outcome of the shard stage, without
Dask: real files, real sidecars, real manifests."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

from egoimu.manifests.audit import audit
from egoimu.manifests.files import atomic_write_text, is_temp_name, remove_temp_files, temp_path
from egoimu.manifests.schema import Manifest
from egoimu.pipeline.config import BuildConfig
from egoimu.pipeline.manifest_writer import write_manifests
from egoimu.pipeline.outdir import drop_shards, earlier_build, remove_temporaries, tidy_shards
from egoimu.pipeline.plan import NO_TRAIN_CLIP, ClipRow, empty_written
from egoimu.pipeline.recordings import RecordingResult
from egoimu.pipeline.shard_writer import ShardResult, ShardTask, sidecar_path, withdrawn


def test_temporary_names_are_ours_only(tmp_path):
    ours = [temp_path(tmp_path / "clips.csv").name, ".train-00000.h5.0123456789ab.tmp",
            ".train-00000.h5.0123456789ab.tmp.compact", ".ckpt-0000002.pt.tmp-4242"]
    others = ["clips.tmp", ".clips.tmp", "notes.h5.12-0123abcd.tmp", ".x.12-0123ABCD.tmp", ".x.tmp-", ".x.h5"]
    assert all(is_temp_name(n) for n in ours) and not any(is_temp_name(n) for n in others)
    for name in ours + others:
        (tmp_path / name).write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ours[0]).write_text("x")
    assert [p.name for p in remove_temp_files(tmp_path)] == sorted(ours)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == sorted(others)
    assert (tmp_path / "sub" / ours[0]).exists()  # not recursive unless asked
    assert remove_temporaries(tmp_path) == []  # OUT/sub is not a place a build writes


def test_earlier_build_means_files_under_shards(tmp_path):
    assert not earlier_build(tmp_path)
    (tmp_path / "shards" / "train").mkdir(parents=True)
    (tmp_path / "manifest.json").write_text("{}")
    assert not earlier_build(tmp_path)  # manifests and empty folders: an empty outcome, re-run as it is
    (tmp_path / "shards" / "train" / "x.txt").write_text("x")
    assert earlier_build(tmp_path)


def _written(out: Path, rel: str, split: str, clip_ids: list[str]) -> ShardResult:
    """A shard file and its sidecar as build_shard leaves them (the file's bytes do not matter here)."""
    path = out / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * (100 * len(clip_ids)))
    result = ShardResult(rel_path=rel, split=split, plan_hash="0" * 64, sha256="1" * 64, bytes=path.stat().st_size,
                         n_clips=len(clip_ids), participants=["P02"],
                         outcomes=[(c, i, "", "") for i, c in enumerate(clip_ids)])
    atomic_write_text(sidecar_path(out, rel), result.to_json())
    return result


def test_tidy_keeps_planned_removes_own_stale_moves_foreign(tmp_path):
    kept = _written(tmp_path, "shards/train/train-00000.h5", "train", ["a"])
    _written(tmp_path, "shards/train/train-00001.h5", "train", ["b"])
    (tmp_path / "shards" / "test").mkdir()
    (tmp_path / "shards" / "test" / "x.h5").write_bytes(b"foreign")
    messages = tidy_shards(tmp_path, {kept.rel_path})
    assert messages == ["moved shards/test/x.h5 to orphaned/shards/test/x.h5: no sidecar of this build describes it "
                        "(nothing was deleted)",
                        "removed shards/train/train-00001.h5 and its sidecar: a shard of this build that the plan no "
                        "longer contains"]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        "orphaned/shards/test/x.h5", "shards/train/train-00000.h5", "shards/train/train-00000.h5.json"]
    (tmp_path / "shards" / "test" / "x.h5").write_bytes(b"foreign again")  # a second one: a free name
    assert tidy_shards(tmp_path, {kept.rel_path})[0].startswith("moved shards/test/x.h5 to orphaned/shards/test/x.h5.1")


def test_no_train_clip_written_is_an_empty_outcome(tmp_path):
    """The shard stage rejected every train clip (case: normalisation crashed and OUT blocked a re-run): the
    written clips of the other splits are withdrawn with their shards, the manifests hold every row."""
    cfg = BuildConfig()
    rec = RecordingResult("P02_101", "P02", "P02/videos/P02_101.MP4", "a.csv", "g.csv", "ok", "", "",
                          video_sha256="2" * 64, accl_sha256="3" * 64, gyro_sha256="4" * 64, fps_num=50, fps_den=1,
                          n_frames=500, width=456, height=256, accl_rate_hz=197.0, gyro_rate_hz=197.0,
                          accl_time_convention="epic-payload", gyro_time_convention="epic-payload")
    rows = [ClipRow(c, c, pid, f"{pid}_101", "segment", 1.0, 2.0, Fraction(1, 2), "take", 0, 1, split=split)
            for c, pid, split in (("a", "P01", "train"), ("b", "P02", "test"), ("c", "P02", "test"))]
    tasks = [ShardTask("train", 0, "shards/train/train-00000.h5", (), ()),
             ShardTask("test", 0, "shards/test/test-00000.h5", (), ())]
    train = ShardResult(tasks[0].rel_path, "train", "0" * 64, outcomes=[("a", -1, "imu_window", "a gap")])
    test = _written(tmp_path, tasks[1].rel_path, "test", ["b", "c"])
    results = [train, test]
    assert empty_written(results, needs_train=False) == ""
    failed = empty_written(results, needs_train=True)
    assert failed.startswith("every planned train clip was rejected") and "2 clips written for test" in failed
    drop_shards(tmp_path, results)
    assert not (tmp_path / "shards").exists()
    results = [withdrawn(r, NO_TRAIN_CLIP, failed) for r in results]
    recordings = {"P02_101": rec, "P01_101": replace(rec, video_id="P01_101", participant_id="P01")}
    summary = write_manifests(tmp_path, rows, recordings, {}, {"P01": "train", "P02": "test"}, tasks, results, cfg,
                              "0", failed=failed)
    m = Manifest.load(tmp_path)
    assert dict(zip(m.clips.clip_id, m.clips.reason)) == {"a": "imu_window", "b": NO_TRAIN_CLIP, "c": NO_TRAIN_CLIP}
    assert (m.clips.status == "rejected").all() and m.shards.empty and summary["failed"] == failed
    found = {name: found for name, found in audit(tmp_path, progress=False).checks.items() if found}
    assert list(found) == ["accounting"] and "a failed build (no clip written)" in found["accounting"][0].detail
    assert summary["normalisation"]["imu"] == {"mean": [0.0] * 6, "std": [1.0] * 6}
    assert "failed build" in summary["normalisation"]["note"]
    assert summary["accounting"] == {"input": 3, "written": 0,
                                     "rejected_by_reason": {NO_TRAIN_CLIP: 2, "imu_window": 1}}
