"""``egoimu synth ego4d``: Ego4D's layout and formats, determinism, IMU <-> frames physics, the command line."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

import decord
import numpy as np
import pandas as pd
import pytest
from scipy.spatial.transform import Rotation

from egoimu.manifests.motion import image_shifts
from egoimu.pipeline.synth.ego4d import HEADER, NOMINAL_HZ, SynthEgo4dConfig, generate_ego4d, third_person
from egoimu.pipeline.synth.ego4d_faults import FAULT_KINDS, parse_fault_kinds
from egoimu.pipeline.synth.motion import R0, G
from tests.conftest import EGO4D_CLEAN

#: Ego4D's documented IMU sample (verbatim, ../shared/data/README.md "Ego4D's IMU and narration formats").
DOC_SAMPLE = """\
component_idx,component_timestamp_ms,canonical_timestamp_ms,gyro_x,gyro_y,gyro_z,accl_x,accl_y,accl_z
0,0.0,0.0,0.025559105431309903,0.25026624068157616,0.11182108626198084,-2.278177458033573,-1.0311750599520384,-1.0311750599520384
0,4.975124378109452,4.975124378109452,0.01597444089456869,0.27689030883919064,0.10862619808306707,-2.2709832134292567,-0.8609112709832134,-0.8609112709832134
0,9.950248756218905,9.950248756218905,-0.014909478168264113,0.29073482428115016,0.0926517571884984,-2.3669064748201443,-0.4268585131894485,-0.4268585131894485
"""
VIDEO_KEYS = {"video_uid", "duration_sec", "fb_participant_id", "device", "has_imu", "imu_metadata", "scenarios",
              "origin_video_id", "video_metadata"}


@pytest.fixture(scope="module")
def clean(synth_ego4d):
    return synth_ego4d(**EGO4D_CLEAN)


def _digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _imu(root: Path, uid: str) -> pd.DataFrame:
    return pd.read_csv(root / "v2" / "imu" / f"{uid}.csv")


def test_layout_and_keys(clean):
    out, summary = clean
    meta = json.loads((out / "ego4d.json").read_text())
    assert meta["version"] == "v2" and {"date", "description", "videos"} <= set(meta)
    uids = [v["video_uid"] for v in meta["videos"]]
    assert uids == summary["video_uids"] and len(set(uids)) == 2
    narr = json.loads((out / "v2" / "annotations" / "narration.json").read_text())
    assert set(narr) == set(uids)
    for v in meta["videos"]:
        uid = v["video_uid"]
        assert set(v) == VIDEO_KEYS and v["has_imu"] is True and isinstance(v["fb_participant_id"], int)
        assert str(uuid.UUID(uid)) == uid and v["scenarios"] == ["Cooking"]
        assert v["video_metadata"]["fps"] == 30.0 and v["duration_sec"] == 8.0
        vr = decord.VideoReader(str(out / "v2" / "full_scale" / f"{uid}.mp4"))
        assert len(vr) == v["video_metadata"]["num_frames"] == 240
        assert abs(vr.get_avg_fps() - 30.0) < 1e-6 and vr[0].shape == (128, 228, 3)
        assert (out / "v2" / "imu" / f"{uid}.csv").read_bytes().startswith((HEADER + "\n").encode())
        assert (out / "synth_truth" / f"{uid}.npz").is_file()
        entry = narr[uid]
        assert entry["status"] == "complete"
        for name in ("narration_pass_1", "narration_pass_2"):
            items = entry[name]["narrations"]
            assert items and entry[name]["summaries"] == []
            for it in items:
                assert set(it) == {"timestamp_sec", "timestamp_frame", "narration_text", "annotation_uid"}
                assert it["narration_text"].startswith("#C C ")
                assert it["timestamp_frame"] == int(np.floor(it["timestamp_sec"] * 30))
                assert 0 <= it["timestamp_sec"] < v["duration_sec"]
        times = [it["timestamp_sec"] for it in entry["narration_pass_1"]["narrations"]]
        assert times == sorted(times)
    assert sum(len(narr[u]["narration_pass_1"]["narrations"]) for u in uids) == summary["narrations"]


def test_csv_header_and_numbers_follow_the_documented_sample(clean):
    out, summary = clean
    doc = DOC_SAMPLE.splitlines()
    assert doc[0] == HEADER
    rows = (out / "v2" / "imu" / f"{summary['video_uids'][0]}.csv").read_text().splitlines()
    assert rows[0] == doc[0]
    # component 0 starts at 0 on both clocks, sensor-clock spacing 1000/201 ms, numbers as shortest repr
    for ours, theirs in zip(rows[1:3], doc[1:3]):
        assert ours.split(",")[:2] == theirs.split(",")[:2]
    assert rows[1].split(",")[2] == "0.0"
    # the documented values are quantised like ours: multiples of 1/313 rad/s (gyro) and 1/417 (accl)
    for line in doc[1:]:
        vals = np.array([float(x) for x in line.split(",")[3:]])
        assert np.allclose(vals[:3] * 939, np.rint(vals[:3] * 939), atol=1e-6)
        assert np.allclose(vals[3:] * 417, np.rint(vals[3:] * 417), atol=1e-6)


def test_imu_timing_matches_truth(clean):
    out, summary = clean
    info = json.loads((out / "synth_truth" / "dataset.json").read_text())["videos"]
    for uid in summary["video_uids"]:
        df, z = _imu(out, uid), np.load(out / "synth_truth" / f"{uid}.npz")
        # canonical time IS the true sample time (ms): exact, row for row
        np.testing.assert_array_equal(df.canonical_timestamp_ms.to_numpy(), z["imu_t_true_s"] * 1000.0)
        np.testing.assert_array_equal(df.component_idx.to_numpy(), z["imu_component_idx"])
        assert len(df) == info[uid]["rows"] and df.canonical_timestamp_ms.is_monotonic_increasing
        for c in np.unique(z["imu_component_idx"]):
            part = df[df.component_idx == c]
            assert np.allclose(np.diff(part.component_timestamp_ms), 1000 / NOMINAL_HZ, atol=1e-6)
            # sensor clock vs video: slope = clock_scale
            slope = np.polyfit(part.component_timestamp_ms, part.canonical_timestamp_ms, 1)[0]
            assert abs(slope - float(z["clock_scale"])) < 1e-9
        assert df.canonical_timestamp_ms.iloc[-1] < 8000.0 and df.canonical_timestamp_ms.iloc[0] == 0.0
        assert info[uid]["components"] == len(np.unique(df.component_idx))
    assert [info[u]["components"] for u in summary["video_uids"]] == [1, 2]


def test_narrations_mark_the_middle_of_each_action(clean):
    out, summary = clean
    narr = json.loads((out / "v2" / "annotations" / "narration.json").read_text())
    for uid in summary["video_uids"]:
        z = np.load(out / "synth_truth" / f"{uid}.npz")
        mid = (z["segment_start_s"] + z["segment_stop_s"]) / 2
        first = np.array([n["timestamp_sec"] for n in narr[uid]["narration_pass_1"]["narrations"]])
        second = np.array([n["timestamp_sec"] for n in narr[uid]["narration_pass_2"]["narrations"]])
        np.testing.assert_allclose(first, mid, atol=1e-6)
        np.testing.assert_array_equal(first, z["narration_t_s"])
        assert np.all((second >= z["segment_start_s"]) & (second <= z["segment_stop_s"]))


def test_gyro_integrates_to_the_truth_rotation_and_accl_reads_gravity(clean):
    out, summary = clean
    truth = json.loads((out / "synth_truth" / "dataset.json").read_text())
    for uid in summary["video_uids"]:
        df, z = _imu(out, uid), np.load(out / "synth_truth" / f"{uid}.npz")
        part = truth["participants"][str(truth["videos"][uid]["participant"])]
        t = df.canonical_timestamp_ms.to_numpy() / 1000
        gyro = df[["gyro_x", "gyro_y", "gyro_z"]].to_numpy() - part["gyro_bias"]
        accl = df[["accl_x", "accl_y", "accl_z"]].to_numpy() - part["accl_bias"]
        rot = R0 * Rotation.from_euler("XYZ", z["yaw_pitch_roll"])
        ft = z["frame_t_s"]
        # integrate the written gyro over 0.5 s spans: the rotation vector of the truth's relative rotation
        errs, sizes = [], []
        for i0 in range(15, len(ft) - 16, 15):
            i1 = i0 + 15
            sel = (t >= ft[i0]) & (t < ft[i1])
            integ = gyro[sel].sum(axis=0) / (float(z["rate_hz"]))
            true = (rot[i0].inv() * rot[i1]).as_rotvec()
            errs.append(np.linalg.norm(integ - true))
            sizes.append(np.linalg.norm(true))
        assert np.median(errs) < 0.003 and max(sizes) > 0.1, (uid, np.median(errs), max(sizes))
        # accelerometer: gravity along the body's "up" plus a small head acceleration (m/s², not g)
        up = rot.inv().apply([0.0, 0.0, 1.0])
        up_at = np.stack([np.interp(t, ft, up[:, k]) for k in range(3)], 1)
        assert np.median(np.linalg.norm(accl - G * up_at, axis=1)) < 1.0
        assert abs(np.median(np.linalg.norm(accl, axis=1)) - G) < 0.5


def test_image_motion_follows_the_written_gyro(clean):
    """Frame-to-frame image shifts of the DECODED video follow the CSV's gyro placed at canonical_timestamp_ms: yaw
    (gyro_x) <-> horizontal, pitch (gyro_y) <-> vertical, best at zero lag (canonical time is the true time)."""
    out, summary = clean
    uid = summary["video_uids"][1]  # the two-component video
    vr = decord.VideoReader(str(out / "v2" / "full_scale" / f"{uid}.mp4"))
    frames = vr.get_batch(list(range(len(vr)))).asnumpy().astype(np.float32).mean(axis=-1)
    shifts = image_shifts(frames[:, : int(0.6 * frames.shape[1])])  # the overlays live below
    df = _imu(out, uid)
    t, gyro = df.canonical_timestamp_ms.to_numpy() / 1000, df[["gyro_x", "gyro_y"]].to_numpy()
    ft = np.arange(len(vr)) / 30
    keep = np.arange(3, len(ft) - 4)

    def corr(lag_s: float) -> np.ndarray:
        idx = np.searchsorted(t + lag_s, ft)
        mean_g = np.array([gyro[idx[k]:idx[k + 1]].mean(axis=0) for k in keep])
        return np.array([np.corrcoef(shifts[keep, j], mean_g[:, j])[0, 1] for j in (0, 1)])

    # gyro_x > 0 (yaw left): content moves right; gyro_y > 0 (pitch up): content moves down
    assert np.all(corr(0.0) >= 0.9), corr(0.0)
    lags = np.arange(-0.04, 0.041, 0.01)
    assert abs(lags[int(np.argmax([corr(lag).sum() for lag in lags]))]) < 0.005


def test_same_options_give_identical_files_and_another_seed_differs(clean, tmp_path):
    out, _ = clean
    cfg = SynthEgo4dConfig(**EGO4D_CLEAN)
    generate_ego4d(tmp_path / "again", cfg, workers=1)  # the fixture used 2 workers
    first, second = _digests(out), _digests(tmp_path / "again")
    assert sorted(first) == sorted(second) and len(first) == 1 + 1 + 2 * 3 + 1
    assert [k for k in first if first[k] != second[k]] == []
    generate_ego4d(tmp_path / "other", dataclasses.replace(cfg, seed=cfg.seed + 1, participants=1, seconds=4.0))
    other = _digests(tmp_path / "other")
    assert not set(first) & {k for k in other if k.startswith("v2/imu/")}  # new uids
    assert first["ego4d.json"] != other["ego4d.json"]


def test_third_person_narration_text():
    assert [third_person(x) for x in ("pick up knife", "wash plate", "dry hand", "put")] == \
        ["picks up knife", "washes plate", "dries hand", "puts"]


def test_fault_kinds_parse():
    assert parse_fault_kinds("all") == FAULT_KINDS
    assert parse_fault_kinds("no_imu, accl_in_g") == ("accl_in_g", "no_imu")
    with pytest.raises(ValueError, match="unknown fault kind bogus"):
        parse_fault_kinds("no_imu,bogus")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "egoimu", "synth", *args], capture_output=True, text=True,
                          timeout=120)


def test_cli_help_lists_the_kind_and_its_options():
    assert "ego4d" in _run("--help").stdout
    res = _run("ego4d", "--help")
    assert res.returncode == 0
    for opt in ("--participants", "--videos-per-participant", "--seconds", "--resolution", "--seed", "--faults",
                "--workers", "--no-audio"):
        assert opt in res.stdout


@pytest.mark.parametrize("args, message", [
    (["--resolution", "228by128"], "bad resolution '228by128'"),
    (["--participants", "0"], "expected a positive integer"),
    (["--seconds", "1"], "seconds must be in [4, 7200]"),
    (["--faults", "bogus"], "unknown fault kind bogus"),
    (["--faults"], "--faults needs at least 7 videos"),
])
def test_cli_bad_options_one_line_exit_2(tmp_path, args, message):
    res = _run("ego4d", str(tmp_path / "o"), *args)
    assert res.returncode == 2
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not (tmp_path / "o" / "ego4d.json").exists()


def test_cli_refuses_a_foreign_folder_and_writes_a_small_set(tmp_path):
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "mine.txt").write_text("x")
    res = _run("ego4d", str(tmp_path / "o"))
    assert res.returncode == 2 and "is not empty" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = _run("ego4d", str(tmp_path / "o" / "mine.txt"))
    assert res.returncode == 2 and "is a file, not a folder" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = _run("ego4d", str(tmp_path / "n"), "--participants", "1", "--seconds", "4", "--no-audio")
    assert res.returncode == 0 and "wrote 1 videos" in res.stdout
    assert len(json.loads((tmp_path / "n" / "ego4d.json").read_text())["videos"]) == 1
