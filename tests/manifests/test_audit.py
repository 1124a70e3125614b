"""``egoimu audit``: passes on a fresh build; fails, naming the file and the check, on each kind of damage."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from egoimu.manifests import audit, audit_shards
from egoimu.manifests import shardfmt as sf
from egoimu.manifests.geometry import ClipGeometry
from egoimu.manifests.schema import read_table

REPO = Path(__file__).resolve().parents[2]


def findings(data: dict, check: str) -> list[dict]:
    return next(c["findings"] for c in data["checks"] if c["check"] == check)


def test_fresh_build_passes_default_deep_and_console_script(built_epic, tmp_path, run_audit) -> None:
    src = built_epic[1]  # the audit only reads: no copy needed
    rc, data, text = run_audit(src)
    assert rc == 0, text
    assert data["passed"] and {c["check"]: c["status"] for c in data["checks"]} == {
        **{name: "PASS" for name in audit.CHECKS}, "deep": "SKIP"}
    rc, deep, text = run_audit(src, "--deep")
    assert rc == 0 and all(c["status"] == "PASS" for c in deep["checks"]), text
    assert "result: PASS" in text and "PASS  deep" in text
    clips = read_table(src / "clips.csv", "clips")
    written = clips[clips.status == "written"]
    for split, rep in data["splits"].items():
        mine = written[written.split == split]
        assert rep["clips"] == len(mine) > 0 and rep["videos"] == mine.video_id.nunique()
        assert rep["participants"] == sorted(set(mine.participant_id))
        counts = mine.verb_class[mine.verb_class >= 0].value_counts()
        assert rep["majority_verb"]["clips"] == counts.max()
        assert rep["majority_verb"]["share"] == pytest.approx(counts.max() / counts.sum())
        keys = json.loads((src / "manifest.json").read_text())["source"]["class_names"]  # EPIC's class keys
        assert all(v["verb"] == keys[str(v["verb_class"])] for v in [rep["majority_verb"], *rep["top_verbs"]])
        assert f"{rep['majority_verb']['verb']} ({rep['majority_verb']['verb_class']})" in text
        assert f"  participants: {' '.join(rep['participants'])}" in text
    # the console script (egoimu/cli.py dispatches "audit" to egoimu.manifests.audit)
    exe = Path(sys.executable).with_name("egoimu")
    proc = subprocess.run([str(exe), "audit", str(src), "--json", str(tmp_path / "cli.json")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "result: PASS" in proc.stdout and json.loads((tmp_path / "cli.json").read_text())["passed"]


@pytest.mark.parametrize("where", ["clips", "splits"])
def test_participant_in_two_splits_fails(out, run_audit, kit, where) -> None:
    clips = read_table(out / "clips.csv", "clips")
    pid = clips.participant_id[(clips.split == "train") & (clips.status == "written")].iloc[0]
    if where == "clips":  # one of its clips moved to test: clips.csv alone puts it in two splits
        line = int(clips.index[(clips.participant_id == pid) & (clips.split == "train")][0]) + 2
        kit.edit_csv(out / "clips.csv", lambda df: [line - 2], "split", "test")
    else:  # splits.csv moves it to test; its clips and shards stay in train
        kit.edit_csv(out / "splits.csv", lambda df: df.participant_id == pid, "split", "test")
    rc, data, text = run_audit(out)
    assert rc == 1 and "subject_disjoint" in data["failed"]
    found = findings(data, "subject_disjoint")
    assert [f["file"] for f in found] == [f"{where}.csv"], found
    assert pid in found[0]["detail"] and "'test' here" in found[0]["detail"]
    if where == "clips":
        assert f"line {line}" in found[0]["detail"]
    assert "FAIL  subject_disjoint" in text and f"{where}.csv: participant {pid}" in text


@pytest.fixture(scope="module")
def scanned(built_epic):
    """(output, tables, scans) of the shared build, read once; tests deep-copy the scans to alter them."""
    src = built_epic[1]
    tables, loaded = audit.load_manifests(src)
    assert loaded == []
    return src, tables, audit_shards.scan_shards(src, tables.shards, progress=False)


def test_subject_disjoint_sees_the_shards_own_split(scanned, kit) -> None:
    """Check on its own: a shard whose split attribute disagrees puts its participants in a second split."""
    src, tables, scans = scanned
    scans = copy.deepcopy(scans)
    assert audit.check_subject_disjoint(tables.clips, tables.splits, tables.shards, scans) == []
    rel = kit.first_shard(src, "validation")
    scans[rel].attrs["split"] = "test"
    found = audit.check_subject_disjoint(tables.clips, tables.splits, tables.shards, scans)
    pid = next(iter(set(scans[rel].small["participant_id"])))
    assert [(f.check, f.file) for f in found] == [("subject_disjoint", rel)]
    assert pid in found[0].detail and "'test' here" in found[0].detail


def _plant_foreign_clip(out: Path, kit, column: str) -> tuple[pd.Series, str, str, str]:
    """One test clip gets, in clips.csv and in its shard's own dataset, another participant's ``column`` value
    (``video_id``: a train video; ``participant_id``: a train participant), everything else re-recorded so that
    only the split and id checks can see it. Returns (the clip's clips.csv row, the new value, the train
    participant, the train video)."""
    clips = read_table(out / "clips.csv", "clips")
    written = clips[clips.status == "written"]
    other = written[written.split == "train"].iloc[-1]  # P03's video P03_101 lies in two train shards
    clip = written[written.split == "test"].iloc[3]
    value = other[column]
    kit.edit_csv(out / "clips.csv", lambda df: [clip.name], column, value)
    with h5py.File(kit.own(out / clip.shard), "r+") as h5:
        h5[column][clip.row] = value.encode()
        parts = sorted({bytes(p).decode() for p in h5["participant_id"][()]})
    kit.edit_csv(out / "shards.csv", lambda df: df.shard == clip.shard, "participants", ";".join(parts))
    kit.edit_sidecar(out, clip.shard, participants=parts)
    kit.rerecord(out, clip.shard)
    return clip, value, other.participant_id, other.video_id


def test_a_clip_of_another_participants_video_is_a_split_leak(linked_out, run_audit, kit) -> None:
    """Issue 12's leak: an annotation row whose participant disagrees with its video (P04 on P03's P03_101) puts
    the clip in P04's split (test) while the video is P03's (train): one video in two splits, which no
    participant check can see. Planted in clips.csv and the shard's own video_id dataset, it fails exactly
    video_disjoint and ids_agree, naming the video, the clip, both participants and every file."""
    out = linked_out
    clip, vid, owner, _ = _plant_foreign_clip(out, kit, "video_id")
    clips, recs = read_table(out / "clips.csv", "clips"), read_table(out / "recordings.csv", "recordings")
    train_shards = sorted(set(clips.shard[(clips.video_id == vid) & (clips.split == "train")]))
    assert len(train_shards) == 2
    rec_line = int(recs.index[recs.video_id == vid][0]) + 2
    run = run_audit(out)
    assert run.rc == 1 and run.data["failed"] == ["video_disjoint", "ids_agree"], run.text
    seen = f"test: clips.csv, {clip.shard}; train: clips.csv, recordings.csv, {', '.join(train_shards)}"
    line = clip.name + 2
    assert run.found("video_disjoint") == [
        ("clips.csv", f"video {vid} is in 'test' here at line {line} but in 'train' elsewhere ({seen})"),
        (clip.shard, f"video {vid} is in 'test' here but in 'train' elsewhere ({seen})")]
    says = (f"clip {clip.clip_id!r} of video {vid} says participant {clip.participant_id}, but recordings.csv "
            f"line {rec_line} gives {vid} to {owner}")
    assert run.found("ids_agree") == [("clips.csv", f"line {line}: {says}"), (clip.shard, f"row {clip.row}: {says}")]
    assert "FAIL  video_disjoint" in run.text and f"clips.csv: video {vid} is in 'test' here" in run.text


def test_a_clip_given_another_participant_fails_subject_disjoint_and_ids_agree(linked_out, run_audit, kit) -> None:
    """The same row the other way: a test clip of P04_101 says participant P03 (train), in clips.csv, the shard's
    participant_id dataset, shards.csv and the sidecar: P03 is in two splits (which the cross-table rules and the
    per-split participant counts see too) and the clip disagrees with its video's recording."""
    out = linked_out
    clip, pid, _, _ = _plant_foreign_clip(out, kit, "participant_id")
    recs = read_table(out / "recordings.csv", "recordings")
    rec_line = int(recs.index[recs.video_id == clip.video_id][0]) + 2
    run = run_audit(out)
    assert run.rc == 1 and run.data["failed"] == ["manifests", "accounting", "subject_disjoint", "ids_agree"], run.text
    assert run.found("manifests") == [("clips.csv", f"column 'split', row {clip.name} (line {clip.name + 2}): "
                                                    f"participant's split differs from splits.csv")]
    assert [f for f, _ in run.found("subject_disjoint")] == ["clips.csv", "shards.csv", clip.shard]
    assert all(d.startswith(f"participant {pid} is in 'test' here") for _, d in run.found("subject_disjoint"))
    says = (f"clip {clip.clip_id!r} of video {clip.video_id} says participant {pid}, but recordings.csv line "
            f"{rec_line} gives {clip.video_id} to {clip.participant_id}")
    assert run.found("ids_agree") == [("clips.csv", f"line {clip.name + 2}: {says}"),
                                      (clip.shard, f"row {clip.row}: {says}")]


def test_recordings_split_must_follow_splits_csv(scanned) -> None:
    """ids_agree on its own: a recording whose split is not its participant's in splits.csv; video_disjoint sees
    the same recording in a second split."""
    src, tables, scans = scanned
    assert audit.check_ids_agree(tables.clips, tables.recordings, tables.splits, scans) == []
    assert audit.check_video_disjoint(tables.clips, tables.recordings, scans) == []
    recs = tables.recordings.copy()
    i = int(recs.index[(recs.status == "ok") & (recs.split == "validation")][0])
    vid, pid = recs.video_id[i], recs.participant_id[i]
    recs.loc[i, "split"] = "test"
    assert audit.check_ids_agree(tables.clips, recs, tables.splits, scans) == [audit.Finding(
        "ids_agree", "recordings.csv", f"line {i + 2}: video {vid} of participant {pid} in split 'test', but "
                                       f"splits.csv puts {pid} in 'validation'")]
    found = audit.check_video_disjoint(tables.clips, recs, scans)
    assert [(f.file, f.detail.split(" elsewhere")[0]) for f in found] == [
        ("recordings.csv", f"video {vid} is in 'test' here but in 'validation'")]
    assert audit.check_ids_agree(tables.clips, None, tables.splits, scans)[0].detail == "unreadable: cannot check"


def test_config_hash_of_one_shard_differs(scanned, kit) -> None:
    src, tables, scans = scanned
    scans = copy.deepcopy(scans)
    assert audit_shards.check_config_hash(tables.shards, scans, tables.summary) == []
    rel = kit.first_shard(src, "test")
    scans[rel].attrs["config_sha256"] = "0" * 64
    found = audit_shards.check_config_hash(tables.shards, scans, tables.summary)
    assert [(f.check, f.file) for f in found] == [("config_hash", rel)] and "0" * 64 in found[0].detail
    summary = {**tables.summary, "config_sha256": "1" * 64}
    assert {f.file for f in audit_shards.check_config_hash(tables.shards, scans, summary)} == {
        "manifest.json", "shards.csv", rel}


def test_shard_geometry_differing_from_the_manifest_fails(out, run_audit, kit) -> None:
    """A shard whose geometry attributes were rewritten (same dataset shapes: half the frame rate and half the IMU
    rate over twice the window) passes every other check once its sha256 and size are re-recorded (shards.csv, its
    sidecar and manifest.json's record of the sidecar); the geometry check names the shard and the fields that
    differ from manifest.json's config.geometry."""
    rc, data, text = run_audit(out)
    assert rc == 0 and {c["check"]: c["status"] for c in data["checks"]}["geometry"] == "PASS", text
    rel = kit.first_shard(out, "validation")
    with h5py.File(out / rel, "r+") as h5:
        fps, rate = int(h5.attrs["out_fps"]), int(h5.attrs["imu_rate_hz"])
        assert fps % 2 == 0 and rate % 2 == 0
        h5.attrs["out_fps"], h5.attrs["imu_rate_hz"] = np.int64(fps // 2), np.int64(rate // 2)
    kit.rerecord(out, rel)
    rc, data, text = run_audit(out)
    assert rc == 1 and data["failed"] == ["geometry"], text
    found = findings(data, "geometry")
    assert [f["file"] for f in found] == [rel]
    detail = found[0]["detail"]
    assert "window_s 4.0 (manifest 2.0)" in detail and f"fps {fps // 2} (manifest {fps})" in detail
    assert f"imu_rate_hz {rate // 2} (manifest {rate})" in detail
    assert "nfft" not in detail and "frame_size" not in detail
    assert "FAIL  geometry" in text and f"{rel}: clip geometry" in text


def test_geometry_check_without_a_reference(scanned) -> None:
    src, tables, scans = scanned
    assert audit_shards.check_geometry(scans, tables.summary) == []
    summary = {**tables.summary, "config": {k: v for k, v in tables.summary["config"].items() if k != "geometry"}}
    found = audit_shards.check_geometry(scans, summary)
    assert [(f.check, f.file) for f in found] == [("geometry", "manifest.json")]
    assert "config.geometry" in found[0].detail
    assert [f.file for f in audit_shards.check_geometry(scans, None)] == ["manifest.json"]


@pytest.mark.parametrize("at,mode", [("start", "default"), ("start", "deep"), ("middle", "default"),
                                     ("middle", "deep"), ("end", "default")])
def test_flipped_byte_anywhere_fails_naming_the_shard(out, run_audit, kit, at, mode) -> None:
    """start: the superblock; middle: inside a data chunk; end: the file's last byte."""
    rel = kit.first_shard(out)
    path = out / rel
    kit.flip(path, {"start": 8, "middle": kit.size(path) // 2, "end": kit.size(path) - 1}[at])
    rc, data, text = run_audit(out, *(["--deep"] if mode == "deep" else []))
    assert rc == 1, text
    files = {f["file"] for f in findings(data, "shard_files") if "sha256" in f["detail"]}
    assert files == {rel}
    assert "FAIL  shard_files" in text and f"{rel}: sha256" in text
    if mode == "deep" and at == "start":  # superblock damaged: the file no longer opens
        assert {f["file"] for f in findings(data, "shard_format")} == {rel}


@pytest.mark.parametrize("dataset,row", [("imu", 3), ("video", 1)])
def test_deep_catches_a_chunk_flip_that_the_sha256_no_longer_sees(out, run_audit, kit, dataset, row) -> None:
    rel = kit.first_shard(out)
    with h5py.File(out / rel, "r") as h5:
        info = h5[dataset].id.get_chunk_info(row)
    kit.flip(out / rel, info.byte_offset + info.size // 2)
    kit.rerecord(out, rel)
    rc, data, text = run_audit(out)
    assert rc == 0, text  # size and sha256 match: only Fletcher32 can see the damage
    rc, data, text = run_audit(out, "--deep")
    assert rc == 1 and data["failed"] == ["deep"], text
    found = findings(data, "deep")
    assert len(found) == 1 and found[0]["file"] == rel
    assert f"dataset {dataset!r} row {row}" in found[0]["detail"] and "Fletcher32" in found[0]["detail"]
    assert f"{rel}: dataset {dataset!r} row {row}" in text


def test_small_dataset_chunk_flip_is_caught_without_deep(out, run_audit, kit) -> None:
    """The id/label datasets are read whole in every mode, so their checksums are always verified."""
    rel = kit.first_shard(out)
    with h5py.File(out / rel, "r") as h5:
        info = h5["verb_class"].id.get_chunk_info(2)
    kit.flip(out / rel, info.byte_offset)
    kit.rerecord(out, rel)
    rc, data, text = run_audit(out)
    assert rc == 1 and data["failed"] == ["shard_format"], text  # the unreadable row is not compared
    assert [(f["file"], "dataset 'verb_class' row 2" in f["detail"]) for f in findings(data, "shard_format")] == [
        (rel, True)]


def test_label_swapped_in_clips_csv_fails_clip_rows(out, run_audit, kit) -> None:
    """clips.csv stays valid and its verb histogram unchanged; only the comparison with the shard sees it."""
    clips = read_table(out / "clips.csv", "clips")
    train = clips[(clips.status == "written") & (clips.split == "train")]
    i = int(train.index[0])
    j = int(train.index[train.verb_class != train.verb_class[i]][0])
    vi, vj = str(clips.verb_class[i]), str(clips.verb_class[j])
    kit.edit_csv(out / "clips.csv", lambda df: [i], "verb_class", vj)
    kit.edit_csv(out / "clips.csv", lambda df: [j], "verb_class", vi)
    rc, data, text = run_audit(out)
    assert rc == 1 and data["failed"] == ["clip_rows"], text
    found = findings(data, "clip_rows")
    assert sorted((f["file"], f["detail"].split(":")[0]) for f in found) == sorted(
        (clips.shard[k], f"row {clips.row[k]}") for k in (i, j))
    assert all("verb_class" in f["detail"] for f in found)


def test_deleted_shard_fails(out, run_audit, kit) -> None:
    rel = kit.first_shard(out)
    (out / rel).unlink()
    rc, data, text = run_audit(out, "--deep")
    assert rc == 1 and {"shard_files", "clip_rows"} <= set(data["failed"]), text
    assert [(f["file"], f["detail"].startswith("missing")) for f in findings(data, "shard_files")] == [(rel, True)]
    assert [f["file"] for f in findings(data, "clip_rows")] == [rel]
    assert f"{rel}: missing" in text


def test_duplicated_clip_row_fails(out, run_audit, kit) -> None:
    clips = read_table(out / "clips.csv", "clips")
    i = int(clips.index[clips.status == "written"][3])
    clip_id = clips.clip_id[i]
    kit.edit_csv(out / "clips.csv", None, "", str(i))
    rc, data, text = run_audit(out)
    assert rc == 1 and {"manifests", "clip_rows"} <= set(data["failed"]), text
    assert any(f["file"] == "clips.csv" for f in findings(data, "manifests"))
    dup = findings(data, "clip_rows")
    assert [(f["file"], clip_id in f["detail"], "duplicated" in f["detail"]) for f in dup] == [
        ("clips.csv", True, True)]
    assert f"lines {i + 2}, {len(clips) + 2}" in dup[0]["detail"]


def test_dotdot_shard_path_fails(out, run_audit, kit) -> None:
    rel = kit.first_shard(out)
    head, name = rel.rsplit("/", 1)
    bad = f"{head}/../{head.rsplit('/', 1)[1]}/{name}"  # shards/train/../train/x.h5: inside, but refused
    kit.edit_csv(out / "shards.csv", lambda df: df.shard == rel, "shard", bad)
    rc, data, text = run_audit(out)
    assert rc == 1 and {"manifests", "shard_files"} <= set(data["failed"]), text
    refused = [f for f in findings(data, "shard_files") if f["file"] == "shards.csv"]
    assert len(refused) == 1 and bad in refused[0]["detail"] and "'..'" in refused[0]["detail"]
    stray = [f for f in findings(data, "shard_files") if f["file"] == rel]
    assert len(stray) == 1 and "stray" in stray[0]["detail"]  # the real file is no longer listed


def test_symlink_out_of_the_root_fails(out, run_audit, kit) -> None:
    rel = kit.first_shard(out)
    outside = out.parent / "elsewhere.h5"
    shutil.move(out / rel, outside)
    (out / rel).symlink_to(outside)
    rc, data, text = run_audit(out)
    assert rc == 1 and "shard_files" in data["failed"], text
    found = [f for f in findings(data, "shard_files") if f["file"] == "shards.csv"]
    assert len(found) == 1 and rel in found[0]["detail"] and "outside the root" in found[0]["detail"]


def test_stray_shard_and_single_checks(tmp_path) -> None:
    """The small checks on their own, on hand-made inputs."""
    (tmp_path / "shards" / "train").mkdir(parents=True)
    for name in ("train-00000.h5", "train-00001.h5", "train-00000.h5.json"):
        (tmp_path / "shards" / "train" / name).write_bytes(b"x")
    shards = pd.DataFrame({"shard": ["shards/train/train-00000.h5"]})
    assert audit_shards.find_stray_shards(tmp_path, shards) == [
        audit.Finding("shard_files", "shards/train/train-00001.h5", "stray shard: not listed in shards.csv")]
    clips = pd.DataFrame({"status": ["written", "written", "rejected"], "reason": ["", "", "no_imu"],
                          "split": ["train", "test", ""], "verb_class": [1, 2, 3],
                          "participant_id": ["P1", "P2", "P1"]})
    summary = {"accounting": {"input": 3, "written": 2, "rejected_by_reason": {"no_imu": 1}},
               "counts": {"train": {"clips": 1, "participants": 1, "verbs": {"1": 1}},
                          "validation": {"clips": 0, "participants": 0, "verbs": {}},
                          "test": {"clips": 1, "participants": 1, "verbs": {"2": 1}}}}
    assert audit.check_accounting(summary, clips) == []
    summary["accounting"]["input"] = 4
    found = audit.check_accounting(summary, clips)
    assert {f.file for f in found} == {"manifest.json"} and any("input 4 != written 2" in f.detail for f in found)
    summary["accounting"]["input"] = 3
    summary["failed"] = "no train clip survived planning"  # an empty outcome's manifest
    assert audit.check_accounting(summary, clips) == [audit.Finding(
        "accounting", "manifest.json", "a failed build (no clip written): no train clip survived planning; its "
                                       "rejections are in clips.csv")]


def _tiny_shard(path: Path, encoding: str) -> sf.ShardLayout:
    geometry = ClipGeometry(window_s=1 / 12, fps=24, imu_rate_hz=396, frame_size=4)  # 2 frames of 4², 33 samples
    layout = sf.ShardLayout(encoding=encoding, geometry=geometry, jpeg_len=64 if encoding == "jpeg" else 0)
    rng = np.random.default_rng(0)
    with sf.new_shard_file(path) as f:
        sf.create_shard(f, layout, 2, {"config_sha256": "ab" * 32, "split": "train", "shard_index": 0,
                                       "egoimu_version": "0"})
        for i in range(2):
            rec = {"imu": rng.normal(size=(33, 6)), "spec": np.zeros((6, 33, 5)), "verb_class": 1, "noun_class": -1,
                   "clip_id": f"c{i}", "narration_id": "", "participant_id": "P01", "video_id": "P01_01",
                   "start_s": 1.0 * i, "end_s": 1.0 * i + 2}
            if encoding == "jpeg":
                rec["video_jpeg_frames"] = [b"abc", b"defg"]
            else:
                rec["video"] = np.zeros((2, 4, 4, 3), np.uint8)
            sf.write_clip(f, i, rec, layout)
    return layout


def test_deep_read_values(tmp_path) -> None:
    """deep_read on its own: non-finite imu/spec and bad jpeg offsets are named by dataset and row."""
    path = tmp_path / "s.h5"
    layout = _tiny_shard(path, "jpeg")
    with h5py.File(path, "r") as h5:
        assert audit_shards.deep_read(h5, "s.h5", layout) == []
    with h5py.File(path, "r+") as h5:
        h5["video_jpeg_offsets"][1] = [0, 5, 3]
        spec = h5["spec"][0]
        spec[1, 2, 0] = np.nan
        h5["spec"][0] = spec
    with h5py.File(path, "r") as h5:
        found = audit_shards.deep_read(h5, "s.h5", layout)
    assert [(f.check, f.file, f.detail.split(":")[0]) for f in found] == [
        ("deep", "s.h5", "dataset 'video_jpeg_offsets' row 1"), ("deep", "s.h5", "dataset 'spec' row 0")]


def test_audit_imports_only_the_ground_floor() -> None:
    code = "import json, sys, egoimu.manifests.audit; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    forbidden = {"pipeline", "train", "torch", "dask", "distributed", "decord", "simplejpeg", "PIL", "cv2"}
    assert not set(json.loads(proc.stdout)) & forbidden
