"""``egoimu audit``: passes on a fresh build; fails, naming the file and the check, on each kind of damage."""

from __future__ import annotations

import copy
import hashlib
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


@pytest.fixture
def out(built_epic, tmp_path) -> Path:
    """A private copy of the shared build, free to damage."""
    dst = tmp_path / "out"
    shutil.copytree(built_epic[1], dst)
    return dst


def audit_run(out: Path, tmp_path: Path, capsys, *flags: str) -> tuple[int, dict, str]:
    """``egoimu audit OUT [flags] --json FILE`` in-process: (exit status, the JSON, the printed report)."""
    report = tmp_path / f"audit-{len(list(tmp_path.glob('audit-*.json')))}.json"
    rc = audit.main([str(out), *flags, "--json", str(report), "--quiet"])
    return rc, json.loads(report.read_text()), capsys.readouterr().out


def findings(data: dict, check: str) -> list[dict]:
    return next(c["findings"] for c in data["checks"] if c["check"] == check)


def edit_csv(path: Path, rows, column: str, value: str) -> None:
    """Set ``column`` of the data rows selected by ``rows(df)`` (a mask or labels) to ``value``, keeping every
    other cell's text; ``rows=None`` appends a copy of data row ``value`` instead."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    if rows is None:
        df.loc[len(df)] = df.loc[int(value)]
    else:
        df.loc[rows(df), column] = value
    df.to_csv(path, index=False, lineterminator="\n")


def flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)[0]
        fh.seek(offset)
        fh.write(bytes([byte ^ 0x5A]))


def first_shard(out: Path, split: str = "train") -> str:
    shards = read_table(out / "shards.csv", "shards")
    return str(shards.shard[shards.split == split].iloc[0])


def test_fresh_build_passes_default_deep_and_console_script(built_epic, tmp_path, capsys) -> None:
    src = built_epic[1]  # the audit only reads: no copy needed
    rc, data, text = audit_run(src, tmp_path, capsys)
    assert rc == 0, text
    assert data["passed"] and {c["check"]: c["status"] for c in data["checks"]} == {
        **{name: "PASS" for name in audit.CHECKS}, "deep": "SKIP"}
    rc, deep, text = audit_run(src, tmp_path, capsys, "--deep")
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
        names = set(mine.verb[mine.verb_class == rep["majority_verb"]["verb_class"]])
        assert set(rep["majority_verb"]["verb"].split("/")) <= names
        assert f"  participants: {' '.join(rep['participants'])}" in text
    # the console script (egoimu/cli.py dispatches "audit" to egoimu.manifests.audit)
    exe = Path(sys.executable).with_name("egoimu")
    proc = subprocess.run([str(exe), "audit", str(src), "--json", str(tmp_path / "cli.json")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "result: PASS" in proc.stdout and json.loads((tmp_path / "cli.json").read_text())["passed"]


@pytest.mark.parametrize("where", ["clips", "splits"])
def test_participant_in_two_splits_fails(out, tmp_path, capsys, where) -> None:
    clips = read_table(out / "clips.csv", "clips")
    pid = clips.participant_id[(clips.split == "train") & (clips.status == "written")].iloc[0]
    if where == "clips":  # one of its clips moved to test: clips.csv alone puts it in two splits
        line = int(clips.index[(clips.participant_id == pid) & (clips.split == "train")][0]) + 2
        edit_csv(out / "clips.csv", lambda df: [line - 2], "split", "test")
    else:  # splits.csv moves it to test; its clips and shards stay in train
        edit_csv(out / "splits.csv", lambda df: df.participant_id == pid, "split", "test")
    rc, data, text = audit_run(out, tmp_path, capsys)
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


def test_subject_disjoint_sees_the_shards_own_split(scanned) -> None:
    """Check on its own: a shard whose split attribute disagrees puts its participants in a second split."""
    src, tables, scans = scanned
    scans = copy.deepcopy(scans)
    assert audit.check_subject_disjoint(tables.clips, tables.splits, tables.shards, scans) == []
    rel = first_shard(src, "validation")
    scans[rel].attrs["split"] = "test"
    found = audit.check_subject_disjoint(tables.clips, tables.splits, tables.shards, scans)
    pid = next(iter(set(scans[rel].small["participant_id"])))
    assert [(f.check, f.file) for f in found] == [("subject_disjoint", rel)]
    assert pid in found[0].detail and "'test' here" in found[0].detail


def test_config_hash_of_one_shard_differs(scanned) -> None:
    src, tables, scans = scanned
    scans = copy.deepcopy(scans)
    assert audit_shards.check_config_hash(tables.shards, scans, tables.summary) == []
    rel = first_shard(src, "test")
    scans[rel].attrs["config_sha256"] = "0" * 64
    found = audit_shards.check_config_hash(tables.shards, scans, tables.summary)
    assert [(f.check, f.file) for f in found] == [("config_hash", rel)] and "0" * 64 in found[0].detail
    summary = {**tables.summary, "config_sha256": "1" * 64}
    assert {f.file for f in audit_shards.check_config_hash(tables.shards, scans, summary)} == {
        "manifest.json", "shards.csv", rel}


def test_shard_geometry_differing_from_the_manifest_fails(out, tmp_path, capsys) -> None:
    """A shard whose geometry attributes were rewritten (same dataset shapes: half the frame rate and half the IMU
    rate over twice the window) passes every other check once its sha256 and size are re-recorded; the geometry
    check names the shard and the fields that differ from manifest.json's config.geometry."""
    rc, data, text = audit_run(out, tmp_path, capsys)
    assert rc == 0 and {c["check"]: c["status"] for c in data["checks"]}["geometry"] == "PASS", text
    rel = first_shard(out, "validation")
    with h5py.File(out / rel, "r+") as h5:
        fps, rate = int(h5.attrs["out_fps"]), int(h5.attrs["imu_rate_hz"])
        assert fps % 2 == 0 and rate % 2 == 0
        h5.attrs["out_fps"], h5.attrs["imu_rate_hz"] = np.int64(fps // 2), np.int64(rate // 2)
    _update_sha(out, rel)
    edit_csv(out / "shards.csv", lambda df: df.shard == rel, "bytes", str(_size(out / rel)))
    rc, data, text = audit_run(out, tmp_path, capsys)
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


def _size(path: Path) -> int:
    return path.stat().st_size


@pytest.mark.parametrize("at,mode", [("start", "default"), ("start", "deep"), ("middle", "default"),
                                     ("middle", "deep"), ("end", "default")])
def test_flipped_byte_anywhere_fails_naming_the_shard(out, tmp_path, capsys, at, mode) -> None:
    """start: the superblock; middle: inside a data chunk; end: the file's last byte."""
    rel = first_shard(out)
    path = out / rel
    flip(path, {"start": 8, "middle": _size(path) // 2, "end": _size(path) - 1}[at])
    rc, data, text = audit_run(out, tmp_path, capsys, *(["--deep"] if mode == "deep" else []))
    assert rc == 1, text
    files = {f["file"] for f in findings(data, "shard_files") if "sha256" in f["detail"]}
    assert files == {rel}
    assert "FAIL  shard_files" in text and f"{rel}: sha256" in text
    if mode == "deep" and at == "start":  # superblock damaged: the file no longer opens
        assert {f["file"] for f in findings(data, "shard_format")} == {rel}


def _update_sha(out: Path, rel: str) -> None:
    sha = hashlib.sha256((out / rel).read_bytes()).hexdigest()
    edit_csv(out / "shards.csv", lambda df: df.shard == rel, "sha256", sha)


@pytest.mark.parametrize("dataset,row", [("imu", 3), ("video", 1)])
def test_deep_catches_a_chunk_flip_that_the_sha256_no_longer_sees(out, tmp_path, capsys, dataset, row) -> None:
    rel = first_shard(out)
    with h5py.File(out / rel, "r") as h5:
        info = h5[dataset].id.get_chunk_info(row)
    flip(out / rel, info.byte_offset + info.size // 2)
    _update_sha(out, rel)
    rc, data, text = audit_run(out, tmp_path, capsys)
    assert rc == 0, text  # size and sha256 match: only Fletcher32 can see the damage
    rc, data, text = audit_run(out, tmp_path, capsys, "--deep")
    assert rc == 1 and data["failed"] == ["deep"], text
    found = findings(data, "deep")
    assert len(found) == 1 and found[0]["file"] == rel
    assert f"dataset {dataset!r} row {row}" in found[0]["detail"] and "Fletcher32" in found[0]["detail"]
    assert f"{rel}: dataset {dataset!r} row {row}" in text


def test_small_dataset_chunk_flip_is_caught_without_deep(out, tmp_path, capsys) -> None:
    """The id/label datasets are read whole in every mode, so their checksums are always verified."""
    rel = first_shard(out)
    with h5py.File(out / rel, "r") as h5:
        info = h5["verb_class"].id.get_chunk_info(2)
    flip(out / rel, info.byte_offset)
    _update_sha(out, rel)
    rc, data, text = audit_run(out, tmp_path, capsys)
    assert rc == 1 and data["failed"] == ["shard_format"], text  # the unreadable row is not compared
    assert [(f["file"], "dataset 'verb_class' row 2" in f["detail"]) for f in findings(data, "shard_format")] == [
        (rel, True)]


def test_label_swapped_in_clips_csv_fails_clip_rows(out, tmp_path, capsys) -> None:
    """clips.csv stays valid and its verb histogram unchanged; only the comparison with the shard sees it."""
    clips = read_table(out / "clips.csv", "clips")
    train = clips[(clips.status == "written") & (clips.split == "train")]
    i = int(train.index[0])
    j = int(train.index[train.verb_class != train.verb_class[i]][0])
    vi, vj = str(clips.verb_class[i]), str(clips.verb_class[j])
    edit_csv(out / "clips.csv", lambda df: [i], "verb_class", vj)
    edit_csv(out / "clips.csv", lambda df: [j], "verb_class", vi)
    rc, data, text = audit_run(out, tmp_path, capsys)
    assert rc == 1 and data["failed"] == ["clip_rows"], text
    found = findings(data, "clip_rows")
    assert sorted((f["file"], f["detail"].split(":")[0]) for f in found) == sorted(
        (clips.shard[k], f"row {clips.row[k]}") for k in (i, j))
    assert all("verb_class" in f["detail"] for f in found)


def test_deleted_shard_fails(out, tmp_path, capsys) -> None:
    rel = first_shard(out)
    (out / rel).unlink()
    rc, data, text = audit_run(out, tmp_path, capsys, "--deep")
    assert rc == 1 and {"shard_files", "clip_rows"} <= set(data["failed"]), text
    assert [(f["file"], f["detail"].startswith("missing")) for f in findings(data, "shard_files")] == [(rel, True)]
    assert [f["file"] for f in findings(data, "clip_rows")] == [rel]
    assert f"{rel}: missing" in text


def test_duplicated_clip_row_fails(out, tmp_path, capsys) -> None:
    clips = read_table(out / "clips.csv", "clips")
    i = int(clips.index[clips.status == "written"][3])
    clip_id = clips.clip_id[i]
    edit_csv(out / "clips.csv", None, "", str(i))
    rc, data, text = audit_run(out, tmp_path, capsys)
    assert rc == 1 and {"manifests", "clip_rows"} <= set(data["failed"]), text
    assert any(f["file"] == "clips.csv" for f in findings(data, "manifests"))
    dup = findings(data, "clip_rows")
    assert [(f["file"], clip_id in f["detail"], "duplicated" in f["detail"]) for f in dup] == [
        ("clips.csv", True, True)]
    assert f"lines {i + 2}, {len(clips) + 2}" in dup[0]["detail"]


def test_dotdot_shard_path_fails(out, tmp_path, capsys) -> None:
    rel = first_shard(out)
    head, name = rel.rsplit("/", 1)
    bad = f"{head}/../{head.rsplit('/', 1)[1]}/{name}"  # shards/train/../train/x.h5: inside, but refused
    edit_csv(out / "shards.csv", lambda df: df.shard == rel, "shard", bad)
    rc, data, text = audit_run(out, tmp_path, capsys)
    assert rc == 1 and {"manifests", "shard_files"} <= set(data["failed"]), text
    refused = [f for f in findings(data, "shard_files") if f["file"] == "shards.csv"]
    assert len(refused) == 1 and bad in refused[0]["detail"] and "'..'" in refused[0]["detail"]
    stray = [f for f in findings(data, "shard_files") if f["file"] == rel]
    assert len(stray) == 1 and "stray" in stray[0]["detail"]  # the real file is no longer listed


def test_symlink_out_of_the_root_fails(out, tmp_path, capsys) -> None:
    rel = first_shard(out)
    outside = tmp_path / "elsewhere.h5"
    shutil.move(out / rel, outside)
    (out / rel).symlink_to(outside)
    rc, data, text = audit_run(out, tmp_path, capsys)
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
