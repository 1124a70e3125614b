"""Frozen backbone features of a representation for every clip of a build's split, and their HDF5 file.

The command, ``egoimu embed``, is :mod:`egoimu.embed` (which also embeds video files through the pipeline's
decoder: egoimu.train never imports egoimu.pipeline). The representation (RUN, ``--random``, ``--checkpoint``) is
:mod:`egoimu.train.eval.representations`'. The features are the video encoder's backbone output before the
projection head (``Encoder.features``), and with ``--imu`` the head-motion encoder's (``--data`` only: video files
carry no head motion).

The file (``FEATURES_FORMAT``; written once, to a temporary name then renamed):

- ``video_features`` (N, D) float32; ``imu_features`` (N, D') float32 (only with ``--imu``);
- ``clip_id``, ``video_id``, ``participant_id`` (N,) UTF-8 strings; ``verb_class`` (N,) int64 (-1 =
  unlabelled); ``start_s``, ``end_s`` (N,) float64 (seconds on the video's timeline); rows in manifest
  (clips.csv) order, or file by file and window by window for video files (``video_id`` = the file's path);
- attributes: ``format``, ``representation`` (random | self-supervised | supervised | kinetics |
  checkpoint), ``representation_kind``, ``source`` (checkpoint file or "random"), ``source_sha256``,
  ``step``, ``seed``, ``model``, ``objective``, ``data``, ``manifest_sha256`` (sha256 of the build's
  manifest.json), ``split``, ``labelled_only``, ``cache_key``, ``egoimu_version``.

:func:`features_for` is the evaluations' entry: it reuses (or writes) such a file in a cache folder,
keyed by the representation (its checkpoint's sha256, or model and seed of a random initialisation, and
the model-input settings), the build's manifest sha256, the split and the clip selection.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from egoimu import __version__
from egoimu.manifests.files import atomic_write
from egoimu.train.data import SplitIndex
from egoimu.train.encode import encode_split
from egoimu.train.eval.representations import Representation, RepresentationError, feature_encoders

FEATURES_FORMAT = "egoimu.features/1"
TABLE_COLUMNS = ("clip_id", "video_id", "participant_id", "verb_class", "start_s", "end_s")
_STRINGS = ("clip_id", "video_id", "participant_id")


@dataclass(frozen=True)
class FeatureSet:
    """Features of N clips: ``video`` (N, D) float32, ``imu`` (N, D') float32 or None, ``table`` (N rows,
    :data:`TABLE_COLUMNS`), ``attrs`` (the file attributes, see the module docstring)."""

    video: np.ndarray
    imu: np.ndarray | None
    table: pd.DataFrame
    attrs: dict[str, Any]


def representation_attrs(rep: Representation) -> dict[str, Any]:
    """The feature file's attributes that describe the representation (module docstring)."""
    return {"format": FEATURES_FORMAT, "representation": rep.name, "representation_kind": rep.kind,
            "source": rep.source, "source_sha256": rep.source_sha256 or "",
            "step": -1 if rep.step is None else rep.step, "seed": -1 if rep.seed is None else rep.seed,
            "model": rep.cfg.model, "objective": rep.objective or "",
            "egoimu_version": __version__}


def write_features(path: str | Path, fs: FeatureSet) -> Path:
    """Write ``fs`` as one HDF5 file (module docstring), atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("video_features", data=np.asarray(fs.video, dtype=np.float32))
            if fs.imu is not None:
                f.create_dataset("imu_features", data=np.asarray(fs.imu, dtype=np.float32))
            for col in _STRINGS:
                f.create_dataset(col, data=fs.table[col].astype(str).tolist(), dtype=h5py.string_dtype("utf-8"))
            f.create_dataset("verb_class", data=fs.table.verb_class.to_numpy(dtype=np.int64))
            for col in ("start_s", "end_s"):
                f.create_dataset(col, data=fs.table[col].to_numpy(dtype=np.float64))
            for key, value in fs.attrs.items():
                f.attrs[key] = value

    atomic_write(path, write)
    return path


def read_features(path: str | Path) -> FeatureSet:
    """Read a file of :func:`write_features`; RepresentationError naming the file if it is not one."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FEATURES_FORMAT:
                raise RepresentationError(f"{path}: not an egoimu features file (format {FEATURES_FORMAT})")
            video = f["video_features"][:]
            imu = f["imu_features"][:] if "imu_features" in f else None
            table = pd.DataFrame({col: f[col].asstr()[:] if col in _STRINGS else f[col][:] for col in TABLE_COLUMNS})
            attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}
    except (OSError, KeyError) as exc:
        raise RepresentationError(f"{path}: cannot read the features file: {exc}") from exc
    return FeatureSet(video, imu, table, attrs)


def _labelled(index: SplitIndex) -> SplitIndex:
    """The same split restricted to its labelled clips (verb_class >= 0), in manifest order."""
    sub = index.labelled()
    if sub.n == 0:
        raise RepresentationError(f"{index.root / 'clips.csv'}: split {index.split!r} has no labelled clips")
    return sub


def embed_data(rep: Representation, data_root: str | Path, split: str, *, imu: bool = False,
               labelled_only: bool = False, progress: bool = True) -> FeatureSet:
    """Features of every (labelled, with ``labelled_only``) written clip of ``split`` under ``data_root``,
    in manifest order. DataError for a missing build or split."""
    encoders = feature_encoders(rep, imu=imu)
    index = SplitIndex.open(data_root, split)
    if labelled_only:
        index = _labelled(index)
    out, ids, _ = encode_split(index, rep.cfg, rep.device, encoders, [rep.video, rep.imu], progress=progress,
                               desc=f"embed {split}")
    table = index.clips[list(TABLE_COLUMNS)].reset_index(drop=True)
    if ids != table.clip_id.tolist():
        raise RepresentationError(f"{data_root}: split {split!r}: the embedded clips are not in manifest order")
    attrs = {**representation_attrs(rep), "data": str(Path(data_root).resolve()),
             "manifest_sha256": index.manifest_sha256, "split": split, "labelled_only": bool(labelled_only)}
    return FeatureSet(out["video"].numpy(), out["imu"].numpy() if imu else None, table, attrs)


def cache_key(rep: Representation, manifest_sha256: str, split: str, labelled_only: bool) -> str:
    """Hex sha256 of (features format, representation identity, build manifest sha256, split, selection)."""
    key = {"format": FEATURES_FORMAT, "representation": rep.identity(), "manifest_sha256": manifest_sha256,
           "split": split, "labelled_only": bool(labelled_only)}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def cached_features(rep: Representation, data_root: str | Path, split: str, cache_dir: str | Path, *,
                    imu: bool = False, labelled_only: bool = False, progress: bool = True) -> FeatureSet:
    """:func:`embed_data`'s features, reused from ``cache_dir`` when a file with the same :func:`cache_key`
    (and imu features if asked for) is there, else computed and written there as
    ``<kind>-<split>-<key[:16]>.h5``."""
    manifest = SplitIndex.open(data_root, split).manifest_sha256
    key = cache_key(rep, manifest, split, labelled_only)
    path = Path(cache_dir) / f"{rep.kind}-{split}-{key[:16]}.h5"
    if path.is_file():
        try:
            fs = read_features(path)
        except RepresentationError:
            fs = None  # a damaged cache file is rebuilt
        if fs is not None and fs.attrs.get("cache_key") == key and (fs.imu is not None or not imu):
            return fs
    fs = embed_data(rep, data_root, split, imu=imu, labelled_only=labelled_only, progress=progress)
    fs.attrs["cache_key"] = key
    write_features(path, fs)
    return fs


def features_for(rep: Representation, data_root: str | Path, split: str, *, cache_dir: str | Path | None = None,
                 labelled_only: bool = False, progress: bool = True) -> tuple[np.ndarray, pd.DataFrame]:
    """Video backbone features of a split: (features (N, D) float32, table of the N clips, columns
    :data:`TABLE_COLUMNS`, manifest order), through the cache in ``cache_dir`` (None: computed, not stored)."""
    if cache_dir is None:
        fs = embed_data(rep, data_root, split, labelled_only=labelled_only, progress=progress)
    else:
        fs = cached_features(rep, data_root, split, cache_dir, labelled_only=labelled_only, progress=progress)
    return fs.video, fs.table
