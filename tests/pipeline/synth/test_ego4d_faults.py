"""``egoimu synth ego4d --faults``: every documented quirk is present exactly where faults.json says."""

from __future__ import annotations

import json

import numpy as np
import pytest

from egoimu.pipeline.synth.ego4d import SynthEgo4dConfig, generate_ego4d
from egoimu.pipeline.synth.ego4d_faults import EXPECTED, FAULT_KINDS, IMU_KINDS, MIN_FAULT_VIDEOS, OUTLIER_MS
from egoimu.pipeline.synth.motion import G
from tests.conftest import EGO4D_FAULTY


@pytest.fixture(scope="module")
def faulty(synth_ego4d):
    out, summary = synth_ego4d(**EGO4D_FAULTY)
    recs = {r["kind"]: r for r in json.loads((out / "synth_truth" / "faults.json").read_text())["faults"]}
    return out, summary, recs


def _rows(out, rec) -> list[list[str]]:
    return [line.split(",") for line in (out / rec["path"]).read_text().splitlines()]


def _truth(out, uid):
    return np.load(out / "synth_truth" / f"{uid}.npz")


def _narration(out, rec) -> dict:
    narr = json.loads((out / "v2" / "annotations" / "narration.json").read_text())
    return narr[rec["video_uid"]][rec["narration_pass"]]["narrations"][rec["index"]]


def test_every_kind_recorded_once_with_its_outcome(faulty):
    out, summary, recs = faulty
    assert sorted(recs) == sorted(FAULT_KINDS) and len(summary["faults"]) == len(FAULT_KINDS)
    for kind, rec in recs.items():
        assert (rec["expected"], rec["scope"]) == EXPECTED[kind]
        assert {"kind", "path", "video_uid", "scope", "expected", "detail"} <= set(rec)
    # the IMU quirks sit on distinct videos, in ego4d.json order, and the unknown wearer on a seventh of its own
    assert [recs[k]["video_uid"] for k in IMU_KINDS] + [recs["null_participant"]["video_uid"]] == summary["video_uids"]


def test_empty_canonical_span_keeps_its_rows(faulty):
    out, _, recs = faulty
    rec = recs["empty_canonical_span"]
    rows, z = _rows(out, rec), _truth(out, rec["video_uid"])
    assert len(rows) - 1 == z["imu_t_true_s"].size  # no row lost
    empty = [i + 1 for i, r in enumerate(rows) if r[2] == ""]
    first, last = rec["lines"]
    assert empty == list(range(first, last + 1)) and rec["line"] == first
    a, b = rec["time_s"]
    t = z["imu_t_true_s"][[i - 2 for i in empty]]
    assert np.all((t >= a) & (t < b)) and b - a == pytest.approx(1.0)
    assert all(all(x != "" for j, x in enumerate(rows[i - 1]) if j != 2) for i in empty)


def test_missing_accl_empties_only_the_accl_fields(faulty):
    out, _, recs = faulty
    rows = _rows(out, recs["missing_accl"])
    assert all(r[6:9] == ["", "", ""] and all(r[:6]) for r in rows[1:])
    assert len(rows) - 1 == _truth(out, recs["missing_accl"]["video_uid"])["imu_t_true_s"].size


def test_non_monotonic_rows_sort_back_to_the_truth(faulty):
    out, _, recs = faulty
    rec = recs["non_monotonic_timestamps"]
    rows = _rows(out, rec)
    t = np.array([float(r[2]) for r in rows[1:]])
    drops = [i + 2 + 1 for i in np.flatnonzero(np.diff(t) < 0)]  # file line where the time decreases
    assert drops == [line + 1 for line in rec["lines"]] and rec["line"] == drops[0]
    np.testing.assert_array_equal(np.sort(t), _truth(out, rec["video_uid"])["imu_t_true_s"] * 1000.0)


def test_timestamp_outlier_row(faulty):
    out, _, recs = faulty
    rec = recs["timestamp_outlier"]
    rows = _rows(out, rec)
    assert float(rows[rec["line"] - 1][2]) == OUTLIER_MS
    others = [float(r[2]) for i, r in enumerate(rows[1:], 2) if i != rec["line"]]
    assert max(others) < 6000 and np.all(np.diff(others) > 0)


def test_accl_in_g_reads_one_g(faulty):
    out, _, recs = faulty
    rows = _rows(out, recs["accl_in_g"])
    accl = np.array([[float(x) for x in r[6:9]] for r in rows[1:]])
    assert abs(np.median(np.linalg.norm(accl, axis=1)) - 1.0) < 0.05
    # the other videos stay in m/s²
    clean = _rows(out, recs["non_monotonic_timestamps"])
    assert abs(np.median([np.linalg.norm([float(x) for x in r[6:9]]) for r in clean[1:]]) - G) < 0.5


def test_no_imu_video(faulty):
    out, _, recs = faulty
    rec = recs["no_imu"]
    assert not (out / rec["path"]).exists()
    (video,) = [v for v in json.loads((out / "ego4d.json").read_text())["videos"] if v["video_uid"] == rec["video_uid"]]
    assert video["has_imu"] is False and video["imu_metadata"] is None
    assert (out / "v2" / "full_scale" / f"{rec['video_uid']}.mp4").is_file()
    imu_files = sorted(p.stem for p in (out / "v2" / "imu").glob("*.csv"))
    assert len(imu_files) == MIN_FAULT_VIDEOS - 1 and rec["video_uid"] not in imu_files


def test_null_participant_only_on_its_wearer(faulty):
    out, _, recs = faulty
    rec = recs["null_participant"]
    videos = json.loads((out / "ego4d.json").read_text())["videos"]
    nulls = [v["video_uid"] for v in videos if v["fb_participant_id"] is None]
    assert nulls == rec["video_uids"] == [rec["video_uid"]]
    assert all(isinstance(v["fb_participant_id"], int) for v in videos if v["video_uid"] not in nulls)


def test_narration_quirks(faulty):
    out, _, recs = faulty
    duration = {v["video_uid"]: v["duration_sec"] for v in json.loads((out / "ego4d.json").read_text())["videos"]}
    missing = _narration(out, recs["narration_missing_time"])
    assert missing["timestamp_sec"] is None and missing["timestamp_frame"] is None
    negative = _narration(out, recs["narration_negative_time"])
    assert negative["timestamp_sec"] == -1.5 and negative["timestamp_frame"] == -45
    past = recs["narration_past_end"]
    assert _narration(out, past)["timestamp_sec"] == duration[past["video_uid"]] + 5.0
    for kind in ("narration_missing_time", "narration_negative_time", "narration_past_end"):
        assert _narration(out, recs[kind])["annotation_uid"] == recs[kind]["annotation_uid"]
    ghost = recs["narration_unknown_video"]["video_uid"]
    narr = json.loads((out / "v2" / "annotations" / "narration.json").read_text())
    assert ghost in narr and ghost not in duration
    assert len(narr[ghost]["narration_pass_1"]["narrations"]) == recs["narration_unknown_video"]["rows"] == 2
    # every other narration is untouched: at its action's middle
    for uid in duration:
        z = _truth(out, uid)
        times = [n["timestamp_sec"] for n in narr[uid]["narration_pass_1"]["narrations"]]
        bad = {recs[k]["index"] for k in recs if k.startswith("narration_") and recs[k]["video_uid"] == uid}
        good = [i for i in range(len(times)) if i not in bad]
        np.testing.assert_array_equal(np.array(times)[good], z["narration_t_s"][good])


def test_faults_are_deterministic(faulty, tmp_path):
    out, _, _ = faulty
    generate_ego4d(tmp_path / "again", SynthEgo4dConfig(**EGO4D_FAULTY), workers=1)
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file())
    assert [f for f in files if (out / f).read_bytes() != (tmp_path / "again" / f).read_bytes()] == []
