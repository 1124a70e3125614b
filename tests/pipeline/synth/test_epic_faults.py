"""Every fault listed in faults.json is really present where the record says."""

from __future__ import annotations

import csv
import json
import math

import decord
import pandas as pd
import pytest

from egoimu.pipeline.synth.faults import FAULT_KINDS, UNKNOWN_VERB_CLASS, decodable_frames


def _faults(out):
    return json.loads((out / "faults.json").read_text())


def _lines(path):
    return path.read_text().splitlines()


def test_all_fault_kinds_planted_on_two_videos(epic_faulty):
    out, summary = epic_faulty
    recs = _faults(out)
    assert summary["faults_skipped"] == []
    assert {r["kind"] for r in recs} == set(FAULT_KINDS)
    for r in recs:
        assert {"kind", "path", "video_id", "detail"} <= set(r)
    # file faults spread over both videos
    assert {r["video_id"] for r in recs} == {"P01_101", "P02_101"}


def test_truncated_mp4(epic_faulty):
    out, _ = epic_faulty
    (rec,) = [r for r in _faults(out) if r["kind"] == "truncated_mp4"]
    path = out / rec["path"]
    info = pd.read_csv(out / "EPIC_100_video_info.csv").set_index("video_id")
    n_frames = round(info.loc[rec["video_id"], "duration"] * info.loc[rec["video_id"], "fps"])
    k = decodable_frames(path)
    assert k == rec["frames_decodable"] and 0 < k < n_frames
    assert math.isclose(rec["time_s"], k / info.loc[rec["video_id"], "fps"])
    assert rec["detail"].startswith(f"cut to {path.stat().st_size} of ")
    assert f"{k} of {n_frames} frames" in rec["detail"]
    with pytest.raises(decord.DECORDError):  # decord indexes every packet on open: it refuses the file
        decord.VideoReader(str(path))


def test_imu_file_faults(epic_faulty):
    out, _ = epic_faulty
    recs = {r["kind"]: r for r in _faults(out) if r["kind"] in ("missing_gyro", "empty_accl")}
    assert not (out / recs["missing_gyro"]["path"]).exists()
    assert (out / recs["missing_gyro"]["path"].replace("-gyro", "-accl")).exists()
    assert _lines(out / recs["empty_accl"]["path"]) == ["Milliseconds,AcclX,AcclY,AcclZ"]
    assert "header only" in recs["empty_accl"]["detail"]


def test_imu_gap(epic_faulty):
    out, _ = epic_faulty
    gaps = [r for r in _faults(out) if r["kind"] == "imu_gap"]
    assert gaps
    for rec in gaps:
        lines = _lines(out / rec["path"])
        ms = [float(x.split(",")[0]) for x in lines[1:]]
        i = rec["line"] - 2  # data index of the first row after the gap
        assert ms[i] - ms[i - 1] > 500 and ms[i - 1] < rec["time_s"] * 1000 <= ms[i]
        steps = [b - a for a, b in zip(ms, ms[1:])]
        # exactly one 0.8 s gap (a re-stamped payload elsewhere jumps by ~1 s when it ends)
        assert sum(500 < s < 950 for s in steps) == 1


def test_nan_rows(epic_faulty):
    out, _ = epic_faulty
    (rec,) = [r for r in _faults(out) if r["kind"] == "nan_rows"]
    lines = _lines(out / rec["path"])
    df = pd.read_csv(out / rec["path"])
    nan_lines = [i + 2 for i in df.index[df.iloc[:, 1:].isna().any(axis=1)]]
    assert nan_lines == rec["lines"] and rec["line"] == rec["lines"][0]
    assert all(lines[n - 1].endswith(",NaN,NaN,NaN") for n in rec["lines"])
    assert df.Milliseconds.notna().all()


def test_non_monotonic_timestamps(epic_faulty):
    out, _ = epic_faulty
    (rec,) = [r for r in _faults(out) if r["kind"] == "non_monotonic_ms"]
    df = pd.read_csv(out / rec["path"])
    assert (df.dtypes == "float64").all()
    ms = df.Milliseconds.tolist()
    drops = [i + 2 for i in range(1, len(ms)) if ms[i] < ms[i - 1]]
    assert drops == [rec["line"]]


def test_train_csv_faults(epic_faulty):
    out, _ = epic_faulty
    recs = {r["kind"]: r for r in _faults(out)}
    rows = list(csv.reader(open(out / "EPIC_100_train.csv", newline="")))
    by_line = {i + 1: r for i, r in enumerate(rows)}
    bad = recs["malformed_row"]
    assert len(by_line[bad["line"]]) == 16 and by_line[bad["line"]][0] == bad["narration_id"]
    assert [i for i, r in by_line.items() if len(r) != 15] == [bad["line"]]
    with pytest.raises(pd.errors.ParserError):
        pd.read_csv(out / "EPIC_100_train.csv")
    good = pd.read_csv(out / "EPIC_100_train.csv", on_bad_lines="skip")
    verbs = set(pd.read_csv(out / "EPIC_100_verb_classes.csv").id)
    unk = recs["unknown_verb_class"]
    row = good.set_index("narration_id").loc[unk["narration_id"]]
    assert by_line[unk["line"]][0] == unk["narration_id"]
    assert row.verb_class == UNKNOWN_VERB_CLASS and UNKNOWN_VERB_CLASS not in verbs
    assert set(good.verb_class) - verbs == {UNKNOWN_VERB_CLASS}
    past = recs["segment_past_end"]
    info = pd.read_csv(out / "EPIC_100_video_info.csv").set_index("video_id")
    row = good.set_index("narration_id").loc[past["narration_id"]]
    n_frames = round(info.loc[past["video_id"], "duration"] * info.loc[past["video_id"], "fps"])
    assert by_line[past["line"]][0] == past["narration_id"]
    assert row.stop_frame > n_frames and row.start_frame < n_frames
    over = good.stop_frame > good.video_id.map(lambda v: round(info.loc[v, "duration"] * info.loc[v, "fps"]))
    assert list(good.narration_id[over]) == [past["narration_id"]]
    assert list(good.narration_id) == sorted(good.narration_id)
