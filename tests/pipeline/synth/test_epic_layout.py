"""The synthetic EPIC dataset has the real dataset's layout, columns, dtypes and formats."""

from __future__ import annotations

import ast
import csv
import json
import re
import subprocess
from fractions import Fraction

import decord
import numpy as np
import pandas as pd

from egoimu.pipeline.ffmpeg_bin import ffmpeg_exe
from egoimu.pipeline.synth import classes as C
from egoimu.pipeline.synth.truth import FRAME_KEYS, IMU_KEYS

ANNOTATIONS = ("EPIC_100_train.csv", "EPIC_100_validation.csv")
FPS = {"50.0": Fraction(50), "59.9400599400599": Fraction(60000, 1001), "29.97002997002997": Fraction(30000, 1001)}


def _cs(ts: str) -> int:
    h, m, s = ts.split(":")
    return round((int(h) * 3600 + int(m) * 60) * 100 + Fraction(s) * 100)


def test_embedded_class_rows_match_real_files(real_dir):
    for rows, name in ((C.VERBS, "EPIC_100_verb_classes.csv"), (C.NOUNS, "EPIC_100_noun_classes.csv")):
        real = pd.read_csv(real_dir / name).set_index("id")
        for r in rows:
            assert real.loc[r.id, "key"] == r.key, (name, r)
            assert real.loc[r.id, "category"] == r.category, (name, r)
            inst = set(ast.literal_eval(real.loc[r.id, "instances"]))
            assert {n for n, _ in r.instances} <= inst, (name, r)
    for v in C.VERBS:  # every noun a verb draws is embedded
        assert all(n in C.NOUN_BY_ID for n, _ in v.nouns), v


def test_embedded_verb_frequencies_match_real(real_dir):
    real = pd.read_csv(real_dir / "EPIC_100_uda_target_val.csv").verb_class.value_counts()
    for v in C.VERBS:
        assert real[v.id] == v.count, v
    top = [v.id for v in sorted(C.VERBS, key=lambda v: -v.count)][:6]
    assert top == [0, 1, 2, 3, 5, 4]  # take, put, wash, open, insert, close


def test_annotation_columns_dtypes_and_formats(epic_clean, real_dir):
    out, _ = epic_clean
    real = pd.read_csv(real_dir / "EPIC_100_validation.csv")
    info = pd.read_csv(out / "EPIC_100_video_info.csv").set_index("video_id")
    verbs = pd.read_csv(out / "EPIC_100_verb_classes.csv").set_index("id")
    nouns = pd.read_csv(out / "EPIC_100_noun_classes.csv").set_index("id")
    for name in ANNOTATIONS:
        df = pd.read_csv(out / name)
        assert list(df.columns) == list(real.columns)
        assert df.dtypes.to_dict() == real.dtypes.to_dict(), name
        assert len(df) > 0
        assert list(df.narration_id) == sorted(df.narration_id)
        assert (df.narration_id.str.rsplit("_", n=1).str[0] == df.video_id).all()
        assert (df.video_id.str[:3] == df.participant_id).all()
        assert df.start_timestamp.str.fullmatch(r"\d\d:\d\d:\d\d\.\d\d").all()
        assert df.stop_timestamp.str.fullmatch(r"\d\d:\d\d:\d\d\.\d\d").all()
        assert df.narration_timestamp.str.fullmatch(r"\d\d:\d\d:\d\d\.\d\d\d").all()
        for r in df.itertuples():
            fps = FPS[repr(float(info.loc[r.video_id, "fps"]))]
            start, stop = _cs(r.start_timestamp), _cs(r.stop_timestamp)
            assert r.start_frame == int(Fraction(start, 100) * fps)
            assert r.stop_frame == int(Fraction(stop, 100) * fps)
            assert 0 <= start < stop and r.stop_frame < round(info.loc[r.video_id, "duration"] * fps)
            assert r.verb in ast.literal_eval(verbs.loc[r.verb_class, "instances"])
            assert r.noun in ast.literal_eval(nouns.loc[r.noun_class, "instances"])
            all_nouns, all_classes = ast.literal_eval(r.all_nouns), ast.literal_eval(r.all_noun_classes)
            assert all_nouns[0] == r.noun and all_classes[0] == r.noun_class
            assert len(all_nouns) == len(all_classes)
    train = pd.read_csv(out / "EPIC_100_train.csv")
    valid = pd.read_csv(out / "EPIC_100_validation.csv")
    assert train.video_id.str.fullmatch(r"P\d\d_1\d\d").all()
    assert valid.video_id.str.fullmatch(r"P\d\d_\d\d").all()


def test_annotation_text_matches_real_conventions(epic_clean, real_dir):
    out, _ = epic_clean
    for name in ANNOTATIONS:
        raw = (out / name).read_bytes()
        assert b"\r" not in raw and raw.endswith(b"\n")
    for name in ("EPIC_100_verb_classes.csv", "EPIC_100_noun_classes.csv"):
        mine, real = (out / name).read_bytes(), (real_dir / name).read_bytes()
        assert mine.split(b"\r\n")[0] == real.split(b"\r\n")[0]
        assert mine.count(b"\n") == mine.count(b"\r\n") and not mine.endswith(b"\n")  # like the real files
        real_rows = {line for line in real.decode().split("\r\n")}
        for line in mine.decode().split("\r\n")[1:]:
            i, key = line.split(",")[:2]
            assert any(r.startswith(f"{i},{key},") for r in real_rows), line
        df, rd = pd.read_csv(out / name), pd.read_csv(real_dir / name)
        assert list(df.columns) == list(rd.columns) and df.dtypes.to_dict() == rd.dtypes.to_dict()


def test_video_info_and_decoded_videos(epic_clean, real_dir):
    out, _ = epic_clean
    info = pd.read_csv(out / "EPIC_100_video_info.csv")
    real = pd.read_csv(real_dir / "EPIC_100_video_info.csv")
    assert list(info.columns) == list(real.columns) and info.dtypes.to_dict() == real.dtypes.to_dict()
    text = (out / "EPIC_100_video_info.csv").read_text().splitlines()
    assert {line.split(",")[2] for line in text[1:]} <= {"50.0", "59.9400599400599"}
    assert set(info.video_id) == {"P01_101", "P02_101", "P01_01"}
    for r in info.itertuples():
        fps = FPS[repr(r.fps)]
        path = out / r.video_id[:3] / "videos" / f"{r.video_id}.MP4"
        vr = decord.VideoReader(str(path))
        n = round(r.duration * fps)
        assert len(vr) == n and abs(r.duration - float(n / fps)) < 1e-6
        assert abs(vr.get_avg_fps() - float(fps)) < 1e-3
        w, h = map(int, r.resolution.split("x"))
        assert vr[0].shape == (h, w, 3)
        keys = vr.get_key_indices()
        assert keys[0] == 0 and set(np.diff(keys)) == {round(fps)}  # GoPro-like GOP ~ 1 s
        err = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
        assert re.search(r"Video: h264 .*yuv420p", err) and "Audio: aac" in err and "48000 Hz" in err


def test_imu_files_layout_and_format(epic_clean, real_dir):
    out, _ = epic_clean
    real_names = (real_dir / "imu_files.txt").read_text().split()
    pattern = re.compile(r"P\d\d/meta_data/P\d\d_1\d\d-(accl|gyro)\.csv")
    assert all(pattern.fullmatch(n) for n in real_names)
    mine = sorted(p.relative_to(out).as_posix() for p in out.glob("P*/meta_data/*.csv"))
    assert mine == ["P01/meta_data/P01_101-accl.csv", "P01/meta_data/P01_101-gyro.csv",
                    "P02/meta_data/P02_101-accl.csv", "P02/meta_data/P02_101-gyro.csv"]
    assert not list(out.glob("P01/meta_data/P01_01-*"))  # EPIC-55-style video: no IMU
    num = re.compile(r"-?\d+(\.\d+)?")
    for name, header, scale in (("accl", "Milliseconds,AcclX,AcclY,AcclZ", 418),
                                ("gyro", "Milliseconds,GyroX,GyroY,GyroZ", 939)):
        path = out / "P01" / "meta_data" / f"P01_101-{name}.csv"
        lines = path.read_text().splitlines()
        assert lines[0] == header and lines[1].startswith("0,")
        assert all(len(x.split(",")) == 4 and all(num.fullmatch(v) for v in x.split(",")) for x in lines[1:])
        df = pd.read_csv(path)
        assert list(df.columns) == header.split(",") and (df.dtypes == np.float64).all()
        raw = df.iloc[:, 1:].to_numpy() * scale
        assert np.allclose(raw, np.round(raw), atol=1e-6)  # raw integers / scale
        for line in lines[1:300]:  # shortest repr like the real rows; integral values without ".0"
            for text in line.split(","):
                f = float(text)
                assert text == (str(int(f)) if f.is_integer() else repr(f)), line
        if name == "accl":
            m = df.iloc[:, 1:].mean().to_numpy()
            assert m[0] > 7.0 and abs(m[1]) < 3.0  # gravity mostly on AcclX


def test_truth_files_and_dataset_json(epic_clean):
    out, summary = epic_clean
    meta = json.loads((out / "synth_truth" / "dataset.json").read_text())
    assert meta["seed"] == 7 and meta["config"]["seconds"] == 10.0 and len(meta["config_sha256"]) == 64
    assert set(meta["verb_signals"]) >= {"take", "put", "wash", "open", "close", "move"}
    assert meta["verb_signals"]["move"]["video_strength"] == "none"
    for vid in summary["videos"]:
        z = np.load(out / "synth_truth" / f"{vid}.npz")
        v = meta["videos"][vid]
        assert set(z.files) == set(FRAME_KEYS) | (set(IMU_KEYS) if v["has_imu"] else set())
        n = v["frames"]
        assert z["frame_t_s"].shape == (n,) and z["yaw_pitch_roll"].shape == (n, 3)
        assert z["omega_frames"].shape == (n, 3) and z["position"].shape == (n, 3)
        if not v["has_imu"]:
            continue
        p = vid[:3]
        for name in ("accl", "gyro"):
            df = pd.read_csv(out / p / "meta_data" / f"{vid}-{name}.csv")
            assert len(df) == z[f"{name}_t_true_s"].size == z[f"{name}_true"].shape[0]
            assert np.array_equal(df.Milliseconds.to_numpy(), z[f"{name}_ms"])
            t = z[f"{name}_t_true_s"]
            # IMU spans the whole video: telemetry stops with the recording (within one sample period)
            assert t[0] <= 0.0 and v["duration_s"] - 1.0 / float(z["rate_hz"]) <= t[-1] < v["duration_s"]
            counts = z[f"{name}_payload_counts"]
            assert counts.sum() == len(df) and counts[1:-1].min() >= 190 and counts[1:-1].max() <= 210
        assert 0.99 <= float(z["clock_scale"]) <= 1.01 and float(z["offset_s"]) == 0.0


def test_imu_timing_model(epic_clean):
    out, _ = epic_clean
    z = np.load(out / "synth_truth" / "P01_101.npz")
    df = pd.read_csv(out / "P01" / "meta_data" / "P01_101-gyro.csv")
    ms, counts = df.Milliseconds.to_numpy(), z["gyro_payload_counts"]
    k = np.repeat(np.arange(counts.size), counts)
    j = np.arange(ms.size) - np.repeat(np.cumsum(counts) - counts, counts)
    assert np.array_equal(ms, np.array([1000 * a + 1000 * b / c for a, b, c in zip(k, j, counts[k])]))
    t = z["gyro_t_true_s"]
    assert np.allclose(np.diff(t), 1 / z["rate_hz"])  # constant true rate
    later = k >= 1
    sync = z["offset_s"] + z["clock_scale"] * ms / 1000
    assert np.abs(sync[later] - t[later]).max() < 0.03  # sync model holds up to the payload jitter


def test_segments_are_realistic(epic_clean):
    out, summary = epic_clean
    train = pd.read_csv(out / "EPIC_100_train.csv")
    per_min = len(train) / (summary["imu_videos"] * 10 / 60)
    assert 8 < per_min < 60
    rows = list(csv.reader(open(out / "EPIC_100_train.csv", newline="")))
    assert all(len(r) == 15 for r in rows)
