"""``egoimu audit``'s out_files and sidecars checks: every leftover planted in a copy of the shared build is
reported, exactly, and nothing else is."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import h5py
import pandas as pd
import pytest

from egoimu.manifests import outputs
from egoimu.manifests.audit_files import Entry, check_out_files, check_sidecars, walk_out
from egoimu.manifests.audit_report import Finding
from egoimu.manifests.files import sha256_file, temp_path

LEFTOVER = "leftover temporary file of an interrupted write of {!r} (safe to delete; egoimu build --resume removes it)"
HDF5 = "unexpected HDF5 file: no shard of a build (shards are shards/<split>/<split>-NNNNN.h5, listed in shards.csv)"
OTHER = "unexpected file: a build writes no such file (egoimu.manifests.outputs.BUILD_OUTPUTS)"
TRAIN, TEST = "shards/train/train-00000.h5", "shards/test/test-00000.h5"


def _put(out: Path, rel: str, data: bytes = b"partial") -> str:
    (out / rel).parent.mkdir(parents=True, exist_ok=True)
    (out / rel).write_bytes(data)
    return rel


def _rel(out: Path, path: Path) -> str:
    return path.relative_to(out).as_posix()


def atomic_write_temp(out: Path, kit) -> list[tuple[str, str, str]]:
    """egoimu.manifests.files.atomic_write's temporary file of clips.csv (a build killed while writing it)."""
    rel = _put(out, _rel(out, temp_path(out / "clips.csv")))
    return [("out_files", rel, LEFTOVER.format("clips.csv"))]


def shard_writer_temps(out: Path, kit) -> list[tuple[str, str, str]]:
    """The shard writer's temporary shard and its compacted copy (a worker killed mid-shard), and an older build's
    names for both."""
    tmp = temp_path(out / TRAIN)
    rels = [_put(out, _rel(out, tmp)), _put(out, _rel(out, temp_path(tmp))),
            _put(out, "shards/test/.test-00000.h5.0123456789ab.tmp"),
            _put(out, "shards/test/.test-00000.h5.0123456789ab.tmp.compact")]
    names = ["train-00000.h5", "train-00000.h5", "test-00000.h5", "test-00000.h5"]
    return sorted(("out_files", rel, LEFTOVER.format(name)) for rel, name in zip(rels, names))


def unexpected_files(out: Path, kit) -> list[tuple[str, str, str]]:
    """A note beside the manifests and a stray file inside a split's folder."""
    return [("out_files", _put(out, "notes.txt"), OTHER), ("out_files", _put(out, "shards/train/readme.md"), OTHER)]


def stray_hdf5(out: Path, kit) -> list[tuple[str, str, str]]:
    """A copy of a shard named ``.H5``, ``OUT/extra.h5`` and an HDF5 file with no shard's name under shards/."""
    os.link(out / TRAIN, out / "shards/train/train-00000.H5")
    os.link(out / TEST, out / "extra.h5")
    _put(out, "shards/test/other.h5")
    return [("out_files", "extra.h5", HDF5), ("out_files", "shards/test/other.h5", HDF5),
            ("out_files", "shards/train/train-00000.H5", HDF5)]


def sidecar_deleted(out: Path, kit) -> list[tuple[str, str, str]]:
    (out / (TEST + ".json")).unlink()
    return [("sidecars", TEST + ".json", f"missing: the sidecar of shard task {TEST} (listed in shards.csv); "
                                         f"--resume cannot verify the shard without it")]


def sidecar_edited(out: Path, kit) -> list[tuple[str, str, str]]:
    """One clip fewer in the sidecar: its sha256 no longer is manifest.json's record, its count not the shard's."""
    before = kit.sha256(out / (TRAIN + ".json"))
    n = json.loads((out / (TRAIN + ".json")).read_text())["n_clips"]
    kit.edit_sidecar(out, TRAIN, n_clips=n - 1)
    return [("sidecars", TRAIN + ".json", f"edited after the build: sha256 {kit.sha256(out / (TRAIN + '.json'))}, "
                                          f"manifest.json records {before}"),
            ("sidecars", TRAIN + ".json", f"n_clips {n - 1} but the shard's is {n}")]


def sidecar_disagrees_with_its_shard(out: Path, kit) -> list[tuple[str, str, str]]:
    """The shard's bytes changed (a byte of a video chunk) and re-recorded in shards.csv only: the sidecar (and
    so --resume) still describes the old file."""
    old = kit.sha256(out / TEST)
    with h5py.File(out / TEST, "r") as h5:
        info = h5["video"].id.get_chunk_info(0)
    kit.flip(kit.own(out / TEST), info.byte_offset + info.size // 2)
    kit.rerecord(out, TEST, sidecar=False)
    return [("sidecars", TEST + ".json", f"sha256 {old!r} but the shard file's is {kit.sha256(out / TEST)!r}")]


def stray_sidecar(out: Path, kit) -> list[tuple[str, str, str]]:
    """A sidecar for a shard task the build did not have (e.g. left by an earlier plan)."""
    shutil.copy(out / (TEST + ".json"), out / "shards/test/test-00001.h5.json")
    return [("sidecars", "shards/test/test-00001.h5.json",
             "stray sidecar: no shard task of this build (manifest.json shard_tasks)")]


PLANTS = [atomic_write_temp, shard_writer_temps, unexpected_files, stray_hdf5, sidecar_deleted, sidecar_edited,
          sidecar_disagrees_with_its_shard, stray_sidecar]


@pytest.mark.parametrize("plant", PLANTS, ids=[p.__name__ for p in PLANTS])
def test_each_leftover_is_reported_exactly(linked_out, run_audit, kit, plant) -> None:
    expected = plant(linked_out, kit)
    run = run_audit(linked_out)
    checks = sorted({check for check, _, _ in expected})
    assert run.rc == 1 and run.data["failed"] == checks, run.text
    assert sorted((c, f, d) for c in checks for f, d in run.found(c)) == sorted(expected)
    assert f"FAIL  {checks[0]}" in run.text and f"{expected[0][1]}: {expected[0][2]}" in run.text


def test_the_one_list_of_what_a_build_writes(built_epic) -> None:
    """Every file of a real build is on the list, under its own entry; shard paths follow the plan's naming."""
    out = built_epic[1]
    entries = walk_out(out)
    assert check_out_files(entries) == [] and all(e.is_file for e in entries)
    kinds = {e.rel: outputs.build_output(e.rel).what for e in entries}
    assert sum("the summary" in w for w in kinds.values()) == 1 and sum("table" in w for w in kinds.values()) == 4
    shards = sorted(r for r, w in kinds.items() if w.startswith("a shard (HDF5)"))
    assert shards == sorted(outputs.shard_rel_path(s, i) for s, i in (("train", 0), ("train", 1), ("validation", 0),
                                                                        ("test", 0)))
    assert sorted(r for r, w in kinds.items() if "sidecar" in w) == [outputs.sidecar_rel_path(s) for s in shards]
    assert outputs.build_output(outputs.BENCH_MARKER) is not None
    moved = outputs.build_output("orphaned/shards/train/train-00000.h5")  # what --resume moved aside
    assert moved is not None and "moved aside" in moved.what
    for bad in ("shards/test/train-00000.h5", "shards/train/train-0000.h5", "shards/train/x.h5", "clips.csv.bak"):
        assert outputs.build_output(bad) is None


def test_a_link_to_a_folder_and_an_empty_record(tmp_path) -> None:
    """walk_out lists a link to a folder without entering it; a sidecar of a task that wrote no clip needs no
    shard; manifest.json without the record of the shard tasks is named."""
    (tmp_path / "shards" / "test").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.h5").write_bytes(b"x")
    (tmp_path / "shards" / "more").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    side = tmp_path / "shards" / "test" / "test-00000.h5.json"
    side.write_text(json.dumps({"bytes": 0, "imu_stats": {}, "n_clips": 0, "outcomes": [["c1", -1, "imu_window", ""]],
                                "participants": [], "plan_hash": "a" * 64, "rel_path": TEST, "sha256": "",
                                "spec_stats": {}, "split": "test"}, sort_keys=True))
    entries = walk_out(tmp_path)
    assert entries == [Entry("elsewhere/x.h5", True), Entry("shards/more", False), Entry(TEST + ".json", True)]
    assert [f.file for f in check_out_files(entries)] == ["elsewhere/x.h5", "shards/more"]
    clips = pd.DataFrame({"clip_id": ["c1"], "status": ["rejected"], "shard": [""], "row": [-1],
                          "reason": ["imu_window"]})
    summary = {outputs.SHARD_TASKS_KEY: {TEST: {"plan_hash": "a" * 64, "sidecar_sha256": sha256_file(side)}}}
    assert check_sidecars(tmp_path, entries, None, clips, summary, {}) == []
    clips.loc[0, "reason"] = "decode_error"
    assert check_sidecars(tmp_path, entries, None, clips, summary, {}) == [Finding(
        "sidecars", TEST + ".json", "clip 'c1' rejected (imu_window) here, but clips.csv line 2 says rejected "
                                    "(decode_error)")]
    assert [f.file for f in check_sidecars(tmp_path, entries, None, clips, {}, {})] == ["manifest.json",
                                                                                         TEST + ".json"]
