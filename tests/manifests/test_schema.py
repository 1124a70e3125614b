"""Manifest tables and summary: round trips, pandas-only reading, and errors that say where and why."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from egoimu.manifests import schema
from egoimu.manifests.paths import PathEscapeError
from egoimu.manifests.schema import Manifest, ManifestError

CONFIG = {"geometry": {"window_s": 2.0, "fps": 24}, "video": {"backend": "ffmpeg"}}
SHA = "0123456789abcdef" * 4
Edit = Callable[[pd.DataFrame], "pd.DataFrame | None"]


def _clips() -> pd.DataFrame:
    base = dict(narration_id="", kind="segment", seg_start_s=1.25, seg_stop_s=2.5, verb="take",
                verb_class=0, noun_class=7, status="written", reason="")
    rows = [
        dict(base, clip_id="P01_101_0", narration_id="P01_101_0", participant_id="P01", video_id="P01_101",
             split="train", start_s=0.875, end_s=2.875, shard="shards/train/shard-00000.h5", row=0),
        dict(base, clip_id="P01_101_1", narration_id="P01_101_1", participant_id="P01", video_id="P01_101",
             split="train", start_s=1 / 3, end_s=1 / 3 + 2, shard="shards/train/shard-00000.h5", row=1,
             verb="öffnen", verb_class=3),
        dict(base, clip_id="P02_101_w0", kind="window", participant_id="P02", video_id="P02_101",
             split="validation", seg_start_s=math.nan, seg_stop_s=math.nan, start_s=0.0, end_s=2.0,
             verb="", verb_class=-1, noun_class=-1, shard="shards/validation/shard-00000.h5", row=0),
        dict(base, clip_id="P03_101_0", narration_id="P03_101_0", participant_id="P03", video_id="P03_101",
             split="test", start_s=10.0, end_s=12.0, shard="shards/test/shard-00000.h5", row=0),
        dict(base, clip_id="P03_101_1", narration_id="P03_101_1", participant_id="P03", video_id="P03_101",
             split="", start_s=math.nan, end_s=math.nan, status="rejected", reason="segment_outside_video",
             shard="", row=-1),
    ]
    return pd.DataFrame(rows, columns=schema.columns("clips"))


def _shards() -> pd.DataFrame:
    return pd.DataFrame([
        dict(shard=f"shards/{s}/shard-00000.h5", split=s, n_clips=n, participants=p, bytes=1234 * n,
             sha256=SHA, config_sha256=schema.config_sha256(CONFIG))
        for s, n, p in (("train", 2, "P01"), ("validation", 1, "P02"), ("test", 1, "P03"))])


def _recordings() -> pd.DataFrame:
    rows = []
    for p, s in (("P01", "train"), ("P02", "validation"), ("P03", "test")):
        v = f"{p}_101"
        rows.append(dict(video_id=v, participant_id=p, split=s, video_path=f"{p}/videos/{v}.MP4",
                         accl_path=f"{p}/meta_data/{v}-accl.csv", gyro_path=f"{p}/meta_data/{v}-gyro.csv",
                         video_sha256=SHA, accl_sha256=SHA, gyro_sha256=SHA, fps_num=50, fps_den=1,
                         n_frames=15000, duration_s=300.0, width=1920, height=1080, accl_rate_hz=199.7,
                         gyro_rate_hz=199.7, imu_rate_correction=1.0012, imu_offset_s=-0.05, decoder="decord",
                         status="ok", reason="", accl_time_convention="epic-payload", gyro_time_convention="sensor",
                         sync_mode="auto", sync_offset_ms=-50.0, sync_scale=1.0012, sync_peak_r=0.93,
                         sync_confidence=0.81, sync_fallback=""))
    rows.append(dict(rows[0], video_id="P04_101", participant_id="P04", split="", video_path="", accl_path="",
                     gyro_path="", video_sha256="", accl_sha256="", gyro_sha256="", fps_num=-1, fps_den=-1,
                     n_frames=-1, duration_s=math.nan, width=-1, height=-1, accl_rate_hz=math.nan,
                     gyro_rate_hz=math.nan, imu_rate_correction=math.nan, imu_offset_s=math.nan, decoder="",
                     status="rejected", reason="no_imu", accl_time_convention="", gyro_time_convention="",
                     sync_mode="", sync_offset_ms=math.nan, sync_scale=math.nan, sync_peak_r=math.nan,
                     sync_confidence=math.nan))
    return pd.DataFrame(rows)


def _splits() -> pd.DataFrame:
    return pd.DataFrame({"participant_id": ["P01", "P02", "P03"], "split": ["train", "validation", "test"]})


def _summary() -> dict:
    stats = {"mean": [9.8, 0.1, 0.2, 0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0, 0.5, 0.5, 0.5]}
    return {
        "schema_version": schema.MANIFEST_SCHEMA_VERSION, "egoimu_version": "0.1.0", "config": CONFIG,
        "config_sha256": schema.config_sha256(CONFIG),
        "split": {"mode": "planned", "ratio": [30044, 3032, 4379], "seed": 0},
        "counts": {"train": {"clips": 2, "participants": 1, "verbs": {"0": 1, "3": 1}},
                   "validation": {"clips": 1, "participants": 1, "verbs": {"-1": 1}},
                   "test": {"clips": 1, "participants": 1, "verbs": {"0": 1}}},
        "normalisation": {"imu": stats, "spec": stats},
        "accounting": {"input": 5, "written": 4, "rejected_by_reason": {"segment_outside_video": 1}},
    }


TABLES = {"clips": _clips, "shards": _shards, "recordings": _recordings, "splits": _splits}


def _manifest(root: Path) -> Manifest:
    return Manifest(root=root, clips=_clips(), shards=_shards(), recordings=_recordings(), splits=_splits(),
                    summary=_summary())


@pytest.mark.parametrize("table", sorted(TABLES))
def test_table_round_trip(tmp_path: Path, table: str) -> None:
    df = TABLES[table]()
    path = tmp_path / f"{table}.csv"
    schema.write_table(df, path, table)
    back = schema.read_table(path, table)
    pd.testing.assert_frame_equal(back, schema.validate_table(df, table))
    assert list(back.columns) == schema.columns(table)
    plain = pd.read_csv(path)  # pandas alone
    assert list(plain.columns) == [*schema.columns(table), "schema_version"] and len(plain) == len(df)
    assert (plain.schema_version == schema.MANIFEST_SCHEMA_VERSION).all()
    schema.write_table(back, tmp_path / "again.csv", table)
    assert (tmp_path / "again.csv").read_bytes() == path.read_bytes()


def test_floats_round_trip_exactly(tmp_path: Path) -> None:
    schema.write_table(_clips(), tmp_path / "clips.csv", "clips")
    back = schema.read_table(tmp_path / "clips.csv", "clips")
    assert back.start_s[1] == 1 / 3 and back.end_s[1] == 1 / 3 + 2
    assert back.seg_start_s.isna()[2] and back.verb[1] == "öffnen"
    assert back.row.dtype == np.int64 and back.start_s.dtype == np.float64


def _set(*cells: object) -> Edit:
    """An edit that sets (row, column, value) cells, given flat: row, column, value, row, column, ..."""
    def edit(df: pd.DataFrame) -> None:
        for i in range(0, len(cells), 3):
            df.loc[cells[i], cells[i + 1]] = cells[i + 2]
    return edit


def _apply(edit: Edit, df: pd.DataFrame) -> pd.DataFrame:
    """Run an edit that either changes ``df`` in place (returns None) or returns a new frame."""
    out = edit(df)
    return df if out is None else out


def _csv(tmp_path: Path, table: str, edit: Edit) -> Path:
    path = tmp_path / f"{table}.csv"
    schema.write_table(TABLES[table](), path, table)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df = _apply(edit, df)
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("table, edit, column, row, reason", [
    ("clips", lambda d: d.__setitem__("schema_version", str(schema.MANIFEST_SCHEMA_VERSION + 1)), "schema_version", 0,
     "schema version mismatch"),
    ("clips", lambda d: d.drop(columns=["verb_class"]), "verb_class", None, "missing column"),
    ("clips", lambda d: d.insert(0, "uid", "1"), "uid", None, "unknown column"),
    ("clips", _set(2, "verb_class", "3.5"), "verb_class", 2, "expected an integer"),
    ("clips", _set(1, "start_s", "soon"), "start_s", 1, "expected a number"),
    ("clips", _set(3, "clip_id", "P01_101_0"), "clip_id", 3, "duplicate id"),
    ("clips", _set(0, "split", "val"), "split", 0, "bad value 'val'"),
    ("clips", _set(0, "shard", ""), "shard", 0, "needs a shard"),
    ("clips", _set(4, "reason", ""), "reason", 4, "needs a reason"),
    ("clips", _set(0, "shard", "/abs/s.h5"), "shard", 0, "absolute"),
    ("clips", _set(3, "row", "0", 3, "shard", "shards/train/shard-00000.h5"),
     "row", 3, "share this shard and row"),
    ("shards", _set(1, "sha256", "xyz"), "sha256", 1, "bad value"),
    ("shards", _set(2, "shard", "../x.h5"), "shard", 2, "'..'"),
    ("recordings", _set(1, "video_path", "../P02/videos/P02_101.MP4"), "video_path", 1, "'..'"),
    ("recordings", _set(2, "gyro_path", "/data/P03/meta_data/P03_101-gyro.csv"), "gyro_path", 2, "absolute"),
    ("recordings", _set(0, "fps_num", "-1"), "fps_num", 0, "must be positive"),
    ("recordings", _set(3, "reason", ""), "reason", 3, "needs a reason"),
    ("recordings", _set(1, "gyro_time_convention", "gopro"), "gyro_time_convention", 1, "bad value 'gopro'"),
    ("recordings", _set(1, "sync_mode", "measured"), "sync_mode", 1, "bad value 'measured'"),
    ("recordings", _set(2, "accl_time_convention", ""), "accl_time_convention", 2, "required for an ok recording"),
    ("splits", _set(2, "participant_id", "P01"), "participant_id", 2, "duplicate"),
    ("splits", _set(1, "split", "dev"), "split", 1, "bad value 'dev'"),
])
def test_table_errors_say_where(tmp_path: Path, table: str, edit: Edit, column: str, row: int | None,
                                reason: str) -> None:
    path = _csv(tmp_path, table, edit)
    with pytest.raises(ManifestError, match=reason) as err:
        schema.read_table(path, table)
    assert (err.value.file, err.value.column, err.value.row) == (str(path), column, row)
    assert str(path) in str(err.value)


def test_unversioned_or_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "splits.csv"
    _splits().to_csv(path, index=False)
    with pytest.raises(ManifestError, match="no 'schema_version' column"):
        schema.read_table(path, "splits")
    with pytest.raises(ManifestError, match="missing"):
        schema.read_table(tmp_path / "nope.csv", "splits")
    with pytest.raises(ValueError, match="unknown manifest table"):
        schema.read_table(path, "videos")


def test_write_refuses_invalid_frames(tmp_path: Path) -> None:
    df = _clips().astype({"verb_class": object})
    df.loc[0, "verb_class"] = 2.5
    with pytest.raises(ManifestError, match="expected an integer"):
        schema.write_table(df, tmp_path / "clips.csv", "clips")
    assert not (tmp_path / "clips.csv").exists()


def test_config_sha256_is_canonical() -> None:
    a = {"b": 1, "a": [1, 2], "c": {"y": 0.5, "x": "é"}}
    b = {"c": {"x": "é", "y": 0.5}, "a": (1, 2), "b": 1}
    expected = hashlib.sha256('{"a":[1,2],"b":1,"c":{"x":"é","y":0.5}}'.encode()).hexdigest()
    assert schema.config_sha256(a) == schema.config_sha256(b) == expected
    with pytest.raises(ValueError):
        schema.config_sha256({"x": float("nan")})


def test_summary_round_trip_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    schema.write_summary(_summary(), path)
    assert schema.read_summary(path) == _summary() == json.loads(path.read_text())
    for change, reason in [
        (lambda s: s.update(schema_version=schema.MANIFEST_SCHEMA_VERSION + 1), "schema version mismatch"),
        (lambda s: s.update(schema_version=3), "file has 3, this egoimu reads 4 .*rebuild it"),  # before sync_*
        (lambda s: s.pop("accounting"), "accounting: missing key"),
        (lambda s: s["config"].update(extra=1), "config_sha256"),
        (lambda s: s["accounting"].update(input=6), "input 6 != written 4"),
        (lambda s: s["split"].update(mode="random"), "split"),
        (lambda s: s["normalisation"]["imu"].update(std=[1.0] * 5), "normalisation.imu"),
        (lambda s: s["counts"]["train"].update(clips=3), "counts.train"),
    ]:
        bad = json.loads(json.dumps(_summary()))
        change(bad)
        path.write_text(json.dumps(bad))
        with pytest.raises(ManifestError, match=reason) as err:
            schema.read_summary(path)
        assert str(path) in str(err.value)
    path.write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        schema.read_summary(path)


def test_manifest_write_load_and_shards(tmp_path: Path) -> None:
    root = tmp_path / "out"
    _manifest(root).write()
    assert sorted(p.name for p in root.iterdir()) == sorted([*schema.FILENAMES.values(), "manifest.json"])
    m = Manifest.load(root)
    pd.testing.assert_frame_equal(m.clips, schema.validate_table(_clips(), "clips"))
    assert m.summary == _summary()
    assert m.shards_for("train") == [(root / "shards/train/shard-00000.h5").resolve()]
    assert m.shards_for("test") == [(root / "shards/test/shard-00000.h5").resolve()]
    with pytest.raises(ValueError, match="unknown split"):
        m.shards_for("val")


def test_manifest_shard_symlink_out_of_root(tmp_path: Path) -> None:
    root = tmp_path / "out"
    _manifest(root).write()
    (tmp_path / "elsewhere").mkdir()
    (root / "shards").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(PathEscapeError, match="outside the root"):
        Manifest.load(root).shards_for("train")


@pytest.mark.parametrize("table, edit, file, reason", [
    ("shards", _set(0, "n_clips", 3), "shards.csv", "n_clips 3"),
    ("shards", lambda d: d.drop(index=2), "clips.csv", "not listed in shards.csv"),
    ("splits", _set(1, "split", "test"), "clips.csv", "differs from splits.csv"),
    ("recordings", _set(0, "video_id", "P01_999"), "clips.csv", "ok recording"),
    ("shards", _set(0, "config_sha256", SHA), "shards.csv", "config_sha256"),
    ("clips", lambda d: d.drop(index=4), "manifest.json", "accounting"),
])
def test_manifest_consistency_errors(tmp_path: Path, table: str, edit: Edit, file: str, reason: str) -> None:
    root = tmp_path / "out"
    _manifest(root).write()
    df = schema.read_table(root / schema.FILENAMES[table], table)
    df = _apply(edit, df)
    schema.write_table(df, root / schema.FILENAMES[table], table)
    with pytest.raises(ManifestError, match=reason) as err:
        Manifest.load(root)
    assert err.value.file == str(root / file)
