"""The fault-injection suite: every kind of the fault catalogue (egoimu.pipeline.synth.fault_catalogue) asserted
exactly, and written + rejected = input.

One real build (LocalCluster, 2 workers) of a small synthetic root into which ``egoimu synth epic --faults all``
planted every plantable kind on its own row or video; stage tests without Dask for the inputs that stop a build
before any work; the kinds that other tests assert (arguments, the audit's leftovers, resume, empty outcomes) are
referenced by the catalogue, and checked to be there.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from egoimu.manifests import audit
from egoimu.manifests.schema import Manifest
from egoimu.pipeline.build import main as build_main
from egoimu.pipeline.synth.epic import SynthEpicConfig
from egoimu.pipeline.synth.epic import main as synth_main
from egoimu.pipeline.synth.fault_catalogue import (
    BUILD_TEST,
    CATALOGUE,
    IN_TEST,
    STOP_TEST,
    WRITTEN,
    fault_kind,
    planted_kinds,
)

REPO = Path(__file__).resolve().parents[2]
THIS = Path(__file__).resolve().relative_to(REPO).as_posix()
GAP_S = 0.8  # the generator's imu_gap (egoimu.pipeline.synth.faults.GAP_MS)


@pytest.fixture(scope="module")
def planted_build(epic_faulty_all, tmp_path_factory) -> tuple[Path, Path]:
    """(root, out): the root with every planted kind, built once on a 2-worker LocalCluster."""
    root, _ = epic_faulty_all
    out = tmp_path_factory.mktemp("faults") / "out"
    assert build_main([str(root), str(out), "--workers", "2", "--ssl-windows", "off", "--quiet"]) == 0
    return root, out


def _data_rows(path: Path) -> int:
    """Data rows of an annotation file: its non-blank lines but the header."""
    return sum(1 for line in path.read_bytes().splitlines() if line.strip()) - 1


def _outcome(rows: pd.DataFrame) -> set[str]:
    return {WRITTEN if s == "written" else r for s, r in zip(rows.status, rows.reason)}


def _misses(rec: dict, clips: pd.DataFrame) -> str:
    """'' when the record's clips have the catalogue's outcome over its scope, else what differs."""
    entry = fault_kind(rec["kind"])
    if entry.scope == "row":
        cid = rec.get("clip_id", rec.get("narration_id"))
        rows = clips[clips.clip_id == cid]
        got = _outcome(rows) if len(rows) == 1 else f"{len(rows)} clips with clip_id {cid!r}"
        return "" if got == {entry.expected} else f"{cid}: {got}"
    rows = clips[clips.video_id == rec["video_id"]]
    if entry.scope == "video":
        return "" if len(rows) and _outcome(rows) == {entry.expected} else f"{rec['video_id']}: {_outcome(rows)}"
    # window: the clips that meet the gap (telemetry time ~ video time within the ±1 % clock error) are rejected, the
    # ones clear of it written
    meets = (rows.end_s > rec["time_s"] - 0.1) & (rows.start_s < rec["time_s"] + GAP_S + 0.1)
    clear = (rows.end_s < rec["time_s"] - 0.2) | (rows.start_s > rec["time_s"] + GAP_S + 0.2)
    if not meets.any() or not clear.any() or _outcome(rows[meets]) != {entry.expected} or \
            _outcome(rows[clear]) != {WRITTEN} or len(rows) != (meets | clear).sum():
        return f"{rec['video_id']}: meeting the gap {_outcome(rows[meets])}, clear of it {_outcome(rows[clear])}"
    return ""


def test_every_planted_fault_has_its_exact_outcome(planted_build) -> None:
    """Each planted kind, on its own row or video, ends exactly as the catalogue says; nothing else is lost."""
    root, out = planted_build
    records = json.loads((root / "faults.json").read_text())
    assert sorted({r["kind"] for r in records}) == sorted(planted_kinds())
    assert all((r["scope"], r["expected"]) == (fault_kind(r["kind"]).scope, fault_kind(r["kind"]).expected)
               for r in records)
    m = Manifest.load(out)  # validates every table and the cross-table rules
    clips = m.clips
    wrong = {r["kind"]: miss for r in records if (miss := _misses(r, clips))}
    assert wrong == {}, wrong

    acc = m.summary["accounting"]
    lines = sum(_data_rows(root / name) for name in ("EPIC_100_train.csv", "EPIC_100_validation.csv"))
    assert acc["input"] == lines == len(clips), "an annotation line was swallowed or counted twice"
    assert acc["written"] + sum(acc["rejected_by_reason"].values()) == acc["input"]
    assert acc["written"] == (clips.status == "written").sum() > 0
    assert acc["rejected_by_reason"] == clips[clips.status == "rejected"].reason.value_counts().to_dict()

    kinds = {r["kind"]: r for r in records}
    recs = m.recordings.set_index("video_id")
    assert m.summary["imu_cleaning"]["rows_dropped"] == len(kinds["nan_rows"]["lines"])
    for kind, files in (("symlinked_video", ("video",)), ("symlinked_imu", ("accl", "gyro"))):
        rec = recs.loc[kinds[kind]["video_id"]]
        for what in files:  # the link's own root-relative path, the content's sha256
            rel = rec[f"{what}_path"]
            assert (root / rel).is_symlink() and not Path(rel).is_absolute() and ".." not in rel, (kind, rel)
            assert rec[f"{what}_sha256"] == hashlib.sha256((root / rel).read_bytes()).hexdigest()
    assert recs.loc[kinds["lowercase_mp4_extension"]["video_id"], "video_path"].endswith(".mp4")
    garbled = kinds["garbled_video_packet"]  # the probe counts every packet; one frame does not decode
    assert garbled["frames_decodable"] == recs.loc[garbled["video_id"], "n_frames"] - 1
    assert audit.main([str(out), "--quiet"]) == 0


def _epic100_rows(*rows: str) -> str:
    header = ("narration_id,participant_id,video_id,narration_timestamp,start_timestamp,stop_timestamp,start_frame,"
              "stop_frame,narration,verb,verb_class,noun,noun_class,all_nouns,all_noun_classes\n")
    return header + "".join(f"{r}\n" for r in rows)


ROW = "P01_101_0,P01,P01_101,,00:00:01.00,00:00:02.00,50,100,take cup,take,0,cup,13,['cup'],[13]"
EPIC55 = ("uid,participant_id,video_id,narration,start_timestamp,stop_timestamp,start_frame,stop_frame,verb,"
          "verb_class,noun,noun_class,all_nouns,all_noun_classes\n"
          "1,P01,P01_01,open door,00:00:01.00,00:00:02.00,60,120,open,2,door,8,['door'],[8]\n")


def _stop_case(kind: str, root: Path) -> tuple[Path, str]:
    """(the annotation file, the file the message must name) for one kind that stops the build."""
    ann = root / "ann.csv"
    if kind == "annotation_file_missing":
        return ann, str(ann)
    body = {"annotation_file_empty": b"",
            "annotation_header_lacks_column": _epic100_rows(ROW).replace(",stop_timestamp,", ",stop,").encode(),
            "annotation_header_not_utf8": _epic100_rows(ROW).replace("narration,", "narraci\xf3n,").encode("latin-1"),
            "class_file_bad_row": _epic100_rows(ROW).encode(),
            "epic55_labels_without_mapping": EPIC55.encode()}[kind]
    ann.write_bytes(body)
    if kind == "class_file_bad_row":
        classes = root / "EPIC_100_verb_classes.csv"
        classes.write_text("id,key,instances,category\n0,take,\"['take']\",retrieve\nx,put,\"['put']\",leave\n")
        return ann, str(classes)
    return ann, str(ann)


@pytest.mark.parametrize("kind", [k.kind for k in CATALOGUE if k.test == STOP_TEST])
def test_unreadable_annotation_inputs_stop_before_any_work(kind, tmp_path, capsys) -> None:
    """An annotation input that cannot be read at all stops `egoimu build` before any work (no Dask cluster, no
    OUT): exit 2, one stderr line naming the file (and line) and what is wrong, never a traceback."""
    root = tmp_path / "root"
    root.mkdir()
    ann, named = _stop_case(kind, root)
    out = tmp_path / "out"
    assert build_main([str(root), str(out), "--annotations", str(ann), "--quiet"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"egoimu build: {named}"), err
    assert fault_kind(kind).expected in err[0], err
    assert not out.exists()


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


def test_the_catalogue_holds_forty_distinct_kinds_each_asserted_by_a_named_test(repo_root) -> None:
    """At least 40 distinct kinds; each names a test that exists; a kind of another file's test is found there (its
    evidence); this file's tests take their kinds from the catalogue; README states the count."""
    kinds = [k.kind for k in CATALOGUE]
    assert len(kinds) == len(set(kinds)) >= 40
    for k in CATALOGUE:
        path, _, func = k.test.partition("::")
        assert func in _test_functions(repo_root / path), f"{k.kind}: no {k.test}"
        if path != THIS:
            assert k.planted_by == IN_TEST and k.evidence, k.kind
            text = (repo_root / path).read_text(encoding="utf-8")
            assert k.evidence in text, f"{k.kind}: {k.evidence!r} not in {path}"
    assert {k.kind for k in CATALOGUE if k.test == BUILD_TEST} == set(planted_kinds())
    assert {k.test for k in CATALOGUE if k.test.startswith(THIS)} == {BUILD_TEST, STOP_TEST}
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    reasons = {k.expected for k in CATALOGUE if k.scope} - {WRITTEN}
    assert [r for r in sorted(reasons) if f"`{r}`" not in readme] == []
    n, planted = len(CATALOGUE), len(planted_kinds())
    assert re.search(rf"\b{n} fault kinds\b.*\bThe {planted} that live in a dataset\b.*\bthe other {n - planted}\.",
                     re.sub(r"\s+", " ", readme)), "README must state the suite's counts"


def test_faults_all_needs_seven_imu_videos(tmp_path, capsys) -> None:
    """`egoimu synth epic --faults all` checks its needs before generating anything; --faults takes only 'all'."""
    with pytest.raises(ValueError, match="--faults all needs at least 7 IMU videos"):
        SynthEpicConfig(participants=2, videos_per_participant=3, faults="all").validate()
    assert synth_main([str(tmp_path / "a"), "--participants", "2", "--videos-per-participant", "3", "--faults",
                       "all"]) == 2
    assert "--faults all needs at least 7 IMU videos" in capsys.readouterr().err and not (tmp_path / "a").exists()
    with pytest.raises(SystemExit) as exc:
        synth_main([str(tmp_path / "b"), "--faults", "some"])
    assert exc.value.code == 2 and "expected nothing or 'all', got 'some'" in capsys.readouterr().err
