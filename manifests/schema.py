"""Versioned manifest schemas: CSV tables and one JSON summary that pandas reads without egoimu.

An output root holds ``manifest.json`` (summary) and four tables. Every table carries a last column
``schema_version`` (the integer :data:`MANIFEST_SCHEMA_VERSION` on every row), so a table read on its own
still says which schema it follows; :func:`read_table` drops it. Floats are written as shortest
round-trip decimals (NaN as an empty field), so write → read gives back the same values.

Tables: ``clips.csv`` (one row per planned clip, written or rejected), ``shards.csv``, ``recordings.csv`` (one
row per source video) and ``splits.csv`` (participant_id, split). Their columns, types, rules and meanings are
defined once, in :mod:`egoimu.manifests.tables` (each :class:`~egoimu.manifests.tables.Column`'s ``doc``); the
keys of ``manifest.json`` and their meanings in :data:`SUMMARY_KEYS`. The dataset card (OUT/README.md) and
manifests/README.md's column tables are generated from them (:mod:`egoimu.manifests.card`).

Errors are :class:`ManifestError` naming the file, and where known the column and row (0-based data row;
the CSV line is row + 2).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from egoimu.manifests.files import atomic_write_text
from egoimu.manifests.geometry import ClipGeometry, GeometryError
from egoimu.manifests.paths import PathEscapeError, check_relative, resolve_inside
from egoimu.manifests.shardfmt import IMU_CHANNELS, SPLITS
from egoimu.manifests.tables import TABLES, Column

#: 2: config.geometry replaces per-stage shapes; 3: recordings.csv *_time_convention; 4: recordings.csv sync_*
MANIFEST_SCHEMA_VERSION: int = 4
#: What a version mismatch means for the user.
_REBUILD = "(a build made by another egoimu version: rebuild it with this one)"
VERSION_COLUMN = "schema_version"
SPLIT_MODES: tuple[str, ...] = ("planned", "canonical", "file", "single")
FILENAMES: dict[str, str] = {"clips": "clips.csv", "shards": "shards.csv",
                             "recordings": "recordings.csv", "splits": "splits.csv"}
SUMMARY_FILENAME = "manifest.json"
#: Every top-level key of manifest.json and what it means: the one description (dataset card, manifests/README.md,
#: ``egoimu info``); a test checks that a real build's keys are exactly these (``failed`` only in a failed build).
SUMMARY_KEYS: dict[str, str] = {
    "schema_version": "the manifest schema version (also the last column of every table)",
    "egoimu_version": "the egoimu version that wrote the build",
    "config": "the whole build config (sections geometry, clip, video, imu, spec, shard, split, sync); "
              "`egoimu build --config` reads it back",
    "config_sha256": "sha256 of the canonical JSON of `config` (also in shards.csv and every shard's attributes)",
    "geometry": "the clip geometry in words (window, fps, frames, frame size, IMU rate, spectrogram)",
    "split": "the split rule: `mode` (planned | canonical | file | single), `ratio` and `seed` (planned only)",
    "counts": "per split: written `clips`, `participants`, and `verbs` {verb_class: clips}",
    "normalisation": "per-channel `mean` and `std` of the train split's `imu` samples and `spec` bins (the "
                     "trainer normalises with them)",
    "accounting": "`input` rows = `written` + the rejected, `rejected_by_reason` {reason: count}",
    "rejection_examples": "up to three `clip_id: detail` messages per rejection reason",
    "source": "what was read: `dataset` (`--source`: epic, dogcentric, gopro), `synthetic` (and its generator, "
              "config hash and built-in signals), `class_names` {verb_class: class key}, `label_mapping` (EPIC-55 "
              "labels)",
    "ssl_windows": "the unlabelled 2 s windows (`--ssl-windows`): `requested` (\"auto\", a stride in s, or null: "
                   "none), `stride_s` used (auto: from `train_video_s`, the train split's seconds of video with IMU, "
                   "and its labelled `train_segments`; null: none), `written`",
    "imu_alignment_vs_truth_ms": "synthetic roots: IMU alignment error against the generator's truth (empty "
                                 "otherwise)",
    "sync": "the sync mode, who chose it, recordings per sync model and, for `auto`, the estimates' summary",
    "imu_cleaning": "IMU rows dropped, reordered or untimed while reading the files",
    "shard_tasks": "every shard task's `plan_hash` and sidecar sha256 (`--resume` and the audit's `sidecars` "
                   "check)",
    "failed": "only in a failed build: why no clip was written",
}


class ManifestError(ValueError):
    """A manifest file breaks its schema. Attributes: ``file``, ``column``, ``row``, ``reason``."""

    def __init__(self, file: str | Path, reason: str, *, column: str | None = None,
                 row: int | None = None) -> None:
        self.file, self.reason, self.column, self.row = str(file), reason, column, row
        where = [f"column {column!r}"] if column is not None else []
        where += [f"row {row} (line {row + 2})"] if row is not None else []
        super().__init__(f"{self.file}: {', '.join(where) + ': ' if where else ''}{reason}")


def columns(table: str) -> list[str]:
    """Column names of ``table`` in file order (without ``schema_version``)."""
    return [c.name for c in _schema(table)]


def _schema(table: str) -> tuple[Column, ...]:
    if table not in TABLES:
        raise ValueError(f"unknown manifest table {table!r}; choose from {sorted(TABLES)}")
    return TABLES[table]


def _parse(value: Any, col: Column) -> Any:
    """One cell to its typed value; raises ValueError with the reason."""
    if col.dtype == "str":
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {value!r}")
        return value
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"expected a number, got {value!r}")
    if col.dtype == "int":
        if isinstance(value, (int, np.integer)):
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, str):
        value = "nan" if value.strip() == "" else value
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number, got {value!r}") from None
    if math.isinf(out) or (math.isnan(out) and not col.nullable):
        raise ValueError(f"expected a finite number, got {value!r}")
    return out


def _check_cell(value: Any, col: Column) -> None:
    if col.dtype == "str":
        if col.nonempty and value == "":
            raise ValueError("must not be empty")
        if col.choices is not None and value not in col.choices:
            raise ValueError(f"bad value {value!r}; expected one of {list(col.choices)}")
        if value and col.pattern and not re.fullmatch(col.pattern, value):
            raise ValueError(f"bad value {value!r}; expected {col.pattern}")
        if value and col.relpath:
            try:
                check_relative(value)
            except PathEscapeError as exc:
                raise ValueError(exc.reason) from None
    elif col.minimum is not None and value < col.minimum:  # NaN compares False
        raise ValueError(f"{value!r} is below the minimum {col.minimum:g}")


def validate_table(df: pd.DataFrame, table: str, file: str | Path = "<dataframe>") -> pd.DataFrame:
    """Check ``df`` against ``table``'s schema and return it typed, in schema column order.

    ``df`` may hold strings (from a CSV) or typed values; a ``schema_version`` column, if present, must
    equal :data:`MANIFEST_SCHEMA_VERSION`. Raises :class:`ManifestError` on the first violation.
    """
    schema = _schema(table)
    df = df.reset_index(drop=True)
    if VERSION_COLUMN in df.columns:
        versions = df[VERSION_COLUMN].astype(str).str.strip()
        bad = np.flatnonzero(versions.to_numpy() != str(MANIFEST_SCHEMA_VERSION))
        if len(bad):
            raise ManifestError(file, f"schema version mismatch: file has {versions.iloc[bad[0]]!r}, this "
                                      f"egoimu reads {MANIFEST_SCHEMA_VERSION} {_REBUILD}", column=VERSION_COLUMN,
                                row=int(bad[0]))
        df = df.drop(columns=VERSION_COLUMN)
    names = [c.name for c in schema]
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise ManifestError(file, f"missing column(s) {missing} (table {table!r})", column=missing[0])
    extra = [str(n) for n in df.columns if n not in names]
    if extra:
        raise ManifestError(file, f"unknown column(s) {extra} (table {table!r})", column=extra[0])
    out: dict[str, pd.Series] = {}
    for col in schema:
        values = []
        for i, cell in enumerate(df[col.name].tolist()):
            try:
                value = _parse(cell, col)
                _check_cell(value, col)
            except ValueError as exc:
                raise ManifestError(file, str(exc), column=col.name, row=i) from None
            values.append(value)
        dtype = {"str": str, "int": np.int64, "float": np.float64}[col.dtype]
        out[col.name] = pd.Series(values, dtype=dtype)
        if col.unique:
            dup = np.flatnonzero(out[col.name].duplicated().to_numpy())
            if len(dup):
                raise ManifestError(file, f"duplicate id {values[dup[0]]!r}", column=col.name, row=int(dup[0]))
    typed = pd.DataFrame(out, columns=names)
    _ROW_RULES.get(table, lambda d, f: None)(typed, file)
    return typed


def _first(mask: pd.Series) -> int | None:
    """Index label (= data row) of the first True in ``mask``, or None."""
    hits = np.flatnonzero(mask.to_numpy(dtype=bool))
    return int(mask.index[hits[0]]) if len(hits) else None


def _require(df: pd.DataFrame, file: str | Path, rules: list[tuple[str, pd.Series, str]]) -> None:
    """Each rule: (column, mask of violating rows, reason); raise for the first violating row."""
    for column, mask, reason in rules:
        row = _first(mask)
        if row is not None:
            raise ManifestError(file, reason, column=column, row=row)


def _clips_rules(df: pd.DataFrame, file: str | Path) -> None:
    w, r = df.status == "written", df.status == "rejected"
    _require(df, file, [
        ("reason", w & (df.reason != ""), "a written clip has no reason"),
        ("reason", r & (df.reason == ""), "a rejected clip needs a reason"),
        ("split", w & (df.split == ""), "a written clip needs a split"),
        ("shard", w & (df.shard == ""), "a written clip needs a shard"),
        ("shard", r & (df.shard != ""), "a rejected clip has no shard"),
        ("row", w & (df.row < 0), "a written clip needs a row >= 0"),
        ("row", r & (df.row != -1), "a rejected clip has row -1"),
        ("start_s", w & (df.start_s.isna() | df.end_s.isna()), "a written clip needs start_s and end_s"),
        ("end_s", df.end_s <= df.start_s, "end_s must be after start_s"),
        ("narration_id", (df.kind == "segment") & (df.narration_id == ""), "a segment clip needs its narration_id"),
        ("seg_stop_s", df.seg_stop_s < df.seg_start_s, "seg_stop_s before seg_start_s"),
        ("row", w & df.duplicated(["shard", "row"]), "two written clips share this shard and row"),
    ])


def _recordings_rules(df: pd.DataFrame, file: str | Path) -> None:
    ok, bad = df.status == "ok", df.status == "rejected"
    rules = [("reason", ok & (df.reason != ""), "an ok recording has no reason"),
             ("reason", bad & (df.reason == ""), "a rejected recording needs a reason")]
    # video-only recordings (DogCentric, EPIC-55) have no accl_path: their IMU fields stay empty
    imu = ok & (df["accl_path"] != "")
    for name in ("video_path", "video_sha256", "decoder"):
        rules.append((name, ok & (df[name] == ""), "required for an ok recording"))
    for name in ("gyro_path", "accl_sha256", "gyro_sha256", "accl_time_convention", "gyro_time_convention"):
        rules.append((name, imu & (df[name] == ""), "required for an ok recording with IMU"))
    rules.append(("accl_path", ok & (df["accl_path"] == "") & (df["gyro_path"] != ""),
                  "a recording with a gyro file needs its accl file"))
    for name in ("fps_num", "fps_den", "n_frames", "width", "height"):
        rules.append((name, ok & (df[name] <= 0), "must be positive for an ok recording"))
    rules.append(("duration_s", ok & df["duration_s"].isna(), "required for an ok recording"))
    for name in ("accl_rate_hz", "gyro_rate_hz", "imu_rate_correction", "imu_offset_s"):
        rules.append((name, imu & df[name].isna(), "required for an ok recording with IMU"))
    _require(df, file, rules)


_ROW_RULES = {"clips": _clips_rules, "recordings": _recordings_rules}


def _cell_text(value: Any, dtype: str) -> str:
    if dtype == "float":
        return "" if math.isnan(value) else repr(float(value))
    return str(value)




def write_table(df: pd.DataFrame, path: str | Path, table: str) -> None:
    """Validate ``df`` and write it as CSV (UTF-8, '\\n', schema column order, + ``schema_version``)."""
    typed = validate_table(df, table, path)
    text = pd.DataFrame({c.name: [_cell_text(v, c.dtype) for v in typed[c.name]] for c in _schema(table)},
                        columns=columns(table), dtype=object)
    text[VERSION_COLUMN] = str(MANIFEST_SCHEMA_VERSION)
    atomic_write_text(Path(path), text.to_csv(index=False, lineterminator="\n"))


def read_table(path: str | Path, table: str) -> pd.DataFrame:
    """Read and validate one table; returns it typed (str / int64 / float64), without ``schema_version``."""
    _schema(table)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(path, f"missing (table {table!r})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ManifestError(path, f"not a readable CSV: {exc}") from None
    if VERSION_COLUMN not in df.columns:
        raise ManifestError(path, f"no {VERSION_COLUMN!r} column: not an egoimu manifest table "
                                  f"(schema {MANIFEST_SCHEMA_VERSION})", column=VERSION_COLUMN)
    return validate_table(df, table, path)


def canonical_json(obj: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 text, no NaN/Infinity (raises ValueError)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def config_sha256(config: Mapping[str, Any]) -> str:
    """sha256 (64 hex) of the canonical JSON of a config mapping (tuples hash as lists)."""
    return hashlib.sha256(canonical_json(dict(config)).encode("utf-8")).hexdigest()


def _num_list(value: Any, n: int) -> bool:
    return (isinstance(value, list) and len(value) == n
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in value))


def validate_summary(summary: Mapping[str, Any], file: str | Path = "<summary>") -> dict[str, Any]:
    """Check the summary (``manifest.json``) and return it as a dict; raises :class:`ManifestError`.

    Keys: schema_version (int), egoimu_version (str), config (dict with a consistent clip geometry as its
    ``geometry`` section, :mod:`egoimu.manifests.geometry`), config_sha256 (= config_sha256(config)),
    split {mode: planned|canonical|file|single (one split for all, e.g. DogCentric),
    ratio: [3 numbers >= 0] | null, seed: int | null},
    counts {split: {clips, participants: int, verbs: {verb_class (str int >= -1): count}}} with the verbs
    summing to clips, normalisation {imu, spec: {mean, std: 6 floats, std > 0}} (train split),
    accounting {input, written: int, rejected_by_reason: {reason: int}} with input = written + rejected.
    Other keys are allowed and kept.
    """
    s = dict(summary)

    def fail(key: str, reason: str) -> ManifestError:
        return ManifestError(file, f"{key}: {reason}")

    for key in ("schema_version", "egoimu_version", "config", "config_sha256", "split", "counts",
                "normalisation", "accounting"):
        if key not in s:
            raise fail(key, "missing key")
    if s["schema_version"] != MANIFEST_SCHEMA_VERSION:
        raise fail("schema_version", f"schema version mismatch: file has {s['schema_version']!r}, this egoimu "
                                     f"reads {MANIFEST_SCHEMA_VERSION} {_REBUILD}")
    if not isinstance(s["egoimu_version"], str) or not isinstance(s["config"], dict):
        raise fail("config", "egoimu_version must be a string and config an object")
    if s["config_sha256"] != config_sha256(s["config"]):
        raise fail("config_sha256", "does not match the sha256 of the canonical JSON of config")
    summary_geometry(s, file)
    split = s["split"]
    if not (isinstance(split, dict) and split.get("mode") in SPLIT_MODES
            and (split.get("ratio") is None or (_num_list(split["ratio"], 3) and min(split["ratio"]) >= 0))
            and (split.get("seed") is None or type(split["seed"]) is int)):
        raise fail("split", f"expected {{mode: one of {list(SPLIT_MODES)}, ratio: [a, b, c] | null, "
                            f"seed: int | null}}, got {split!r}")
    counts = s["counts"]
    if not isinstance(counts, dict) or set(counts) - set(SPLITS):
        raise fail("counts", f"expected an object keyed by {list(SPLITS)}")
    for name, c in counts.items():
        if not (isinstance(c, dict) and type(c.get("clips")) is int and type(c.get("participants")) is int
                and isinstance(c.get("verbs"), dict)
                and all(re.fullmatch(r"-?\d+", k) and int(k) >= -1 and type(v) is int and v >= 0
                        for k, v in c["verbs"].items())
                and sum(c["verbs"].values()) == c["clips"]):
            raise fail(f"counts.{name}", "expected {clips: int, participants: int, verbs: {class: count}} "
                                         "with the verb counts summing to clips")
    for key in ("imu", "spec"):
        stats = s["normalisation"].get(key) if isinstance(s["normalisation"], dict) else None
        n = len(IMU_CHANNELS)
        if not (isinstance(stats, dict) and _num_list(stats.get("mean"), n) and _num_list(stats.get("std"), n)
                and min(stats["std"]) > 0):
            raise fail(f"normalisation.{key}", f"expected {{mean: [{n} floats], std: [{n} floats > 0]}}")
    acc = s["accounting"]
    if not (isinstance(acc, dict) and type(acc.get("input")) is int and type(acc.get("written")) is int
            and isinstance(acc.get("rejected_by_reason"), dict)
            and all(type(v) is int and v >= 0 for v in acc["rejected_by_reason"].values())):
        raise fail("accounting", "expected {input: int, written: int, rejected_by_reason: {reason: int}}")
    if acc["input"] != acc["written"] + sum(acc["rejected_by_reason"].values()):
        raise fail("accounting", f"input {acc['input']} != written {acc['written']} + rejected "
                                 f"{sum(acc['rejected_by_reason'].values())}")
    return s


def summary_geometry(summary: Mapping[str, Any], file: str | Path = "<summary>") -> ClipGeometry:
    """The build's clip geometry: ``manifest.json``'s ``config.geometry``; raises :class:`ManifestError`."""
    config = summary.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("geometry"), dict):
        raise ManifestError(file, "config.geometry: missing (the build's clip geometry)")
    try:
        return ClipGeometry.from_dict(config["geometry"], "config.geometry")
    except GeometryError as exc:
        raise ManifestError(file, str(exc)) from None


def write_summary(summary: Mapping[str, Any], path: str | Path) -> None:
    """Validate and write ``manifest.json`` (sorted keys, indent 2, trailing newline)."""
    s = validate_summary(summary, path)
    atomic_write_text(Path(path), json.dumps(s, sort_keys=True, indent=2, ensure_ascii=False,
                                              allow_nan=False) + "\n")


def read_summary(path: str | Path) -> dict[str, Any]:
    """Read and validate ``manifest.json``."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise ManifestError(path, "missing (the manifest summary)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(path, f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ManifestError(path, "expected a JSON object")
    return validate_summary(data, path)


@dataclass(frozen=True)
class Manifest:
    """A whole manifest: the output ``root`` (where shard paths are relative to), four tables, summary."""

    root: Path
    clips: pd.DataFrame
    shards: pd.DataFrame
    recordings: pd.DataFrame
    splits: pd.DataFrame
    summary: dict[str, Any]

    @classmethod
    def load(cls, root: str | Path) -> Manifest:
        """Read ``root``'s five files, validate each and check them against each other."""
        root = Path(root)
        tables = {name: read_table(root / fname, name) for name, fname in FILENAMES.items()}
        manifest = cls(root=root, summary=read_summary(root / SUMMARY_FILENAME), **tables)
        manifest.check_consistency()
        return manifest

    def write(self) -> None:
        """Validate and write the five files into ``root`` (tables first, ``manifest.json`` last)."""
        self.check_consistency()
        self.root.mkdir(parents=True, exist_ok=True)
        for name, fname in FILENAMES.items():
            write_table(getattr(self, name), self.root / fname, name)
        write_summary(self.summary, self.root / SUMMARY_FILENAME)

    @property
    def geometry(self) -> ClipGeometry:
        """The build's clip geometry (``manifest.json``: ``config.geometry``)."""
        return summary_geometry(self.summary, self.root / SUMMARY_FILENAME)

    def shards_for(self, split: str) -> list[Path]:
        """Resolved paths of ``split``'s shards, sorted by their relative path (refuses escapes)."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose from {list(SPLITS)}")
        rels = sorted(self.shards.loc[self.shards["split"] == split, "shard"])
        return [resolve_inside(self.root, rel) for rel in rels]

    def check_consistency(self) -> None:
        """Cross-table checks; raises :class:`ManifestError` naming the file and column."""
        clips = validate_table(self.clips, "clips", self.root / FILENAMES["clips"])
        shards = validate_table(self.shards, "shards", self.root / FILENAMES["shards"])
        recs = validate_table(self.recordings, "recordings", self.root / FILENAMES["recordings"])
        splits = validate_table(self.splits, "splits", self.root / FILENAMES["splits"])
        summary = validate_summary(self.summary, self.root / SUMMARY_FILENAME)
        cfile, sfile = self.root / FILENAMES["clips"], self.root / FILENAMES["shards"]
        written = clips[clips.status == "written"]  # keeps clips.csv row numbers as index
        known = written.shard.map(dict(zip(shards.shard, shards.split)))
        ok_videos = set(recs.video_id[recs.status == "ok"])
        _require(written, cfile, [
            ("shard", known.isna(), "shard not listed in shards.csv"),
            ("split", known != written.split, "split differs from its shard's"),
            ("video_id", ~written.video_id.isin(ok_videos),
             "a written clip's video must be an ok recording in recordings.csv"),
        ])
        rows = written.groupby("shard")["row"].apply(sorted).to_dict()
        for i, (shard, n) in enumerate(zip(shards.shard, shards.n_clips)):
            if rows.get(shard, []) != list(range(n)):
                raise ManifestError(sfile, f"n_clips {n} but clips.csv has rows {rows.get(shard, [])[:8]}... "
                                           f"for {shard!r} (expected 0..{n - 1} once each)", column="n_clips", row=i)
        plan = dict(zip(splits.participant_id, splits.split))
        mism = (clips.split != "") & (clips.participant_id.map(plan) != clips.split)
        _require(clips, cfile, [("split", mism, "participant's split differs from splits.csv")])
        mfile = self.root / SUMMARY_FILENAME
        if (shards.config_sha256 != summary["config_sha256"]).any():
            raise ManifestError(sfile, "config_sha256 differs from manifest.json's", column="config_sha256",
                                row=_first(shards.config_sha256 != summary["config_sha256"]))
        acc = summary["accounting"]
        rejected = clips.reason[clips.status == "rejected"].value_counts().to_dict()
        if (acc["input"], acc["written"], acc["rejected_by_reason"]) != (len(clips), len(written), rejected):
            raise ManifestError(mfile, f"accounting {acc} does not match clips.csv (input {len(clips)}, "
                                       f"written {len(written)}, rejected {rejected})")
        for name in SPLITS:
            n = int((written.split == name).sum())
            if summary["counts"].get(name, {"clips": 0})["clips"] != n:
                raise ManifestError(mfile, f"counts.{name}.clips differs from clips.csv ({n} written)")
