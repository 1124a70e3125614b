"""What a build writes under its output folder OUT: the one list, and the names it follows.

:data:`BUILD_OUTPUTS` lists every file an ``egoimu build`` (and ``egoimu bench``'s cached builds) may leave in
OUT (the manifests, the dataset card README.md, the shards and their sidecars); ``egoimu audit`` reports any
other file there.
The writers take their names from here: :func:`shard_rel_path` (the shard stage's plan), :func:`sidecar_rel_path`
(the sidecar ``<shard>.json`` that ``--resume`` checks) and :data:`SIDECAR_KEYS` (its JSON object's keys), and
manifest.json's :data:`SHARD_TASKS_KEY` record of every shard task's plan hash and sidecar sha256, by which the
audit sees a sidecar that is missing, edited or stray. Temporary files are named by
:func:`egoimu.manifests.files.temp_path`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from egoimu.manifests.schema import FILENAMES, SUMMARY_FILENAME
from egoimu.manifests.shardfmt import SPLITS

SHARDS_DIR = "shards"
#: ``OUT/README.md``: the dataset card (egoimu.manifests.card).
CARD_FILENAME = "README.md"
SIDECAR_SUFFIX = ".json"
#: ``OUT/orphaned/<path>``: a file that lay under ``OUT/shards`` but was not written by this build, moved aside
#: by ``--resume`` (never deleted; egoimu.pipeline.outdir).
ORPHANED_DIR = "orphaned"
#: ``OUT/failed/<manifest file>``: the manifests of a ``--resume`` whose plan could write nothing, kept beside the
#: earlier build's, which stay as they were (egoimu.pipeline.build); the next successful build removes them.
FAILED_DIR = "failed"
#: The keys of a sidecar's JSON object (``egoimu.pipeline.shard_writer.ShardResult``'s fields).
SIDECAR_KEYS: tuple[str, ...] = ("bytes", "imu_stats", "n_clips", "outcomes", "participants", "plan_hash",
                                 "rel_path", "sha256", "spec_stats", "split")
#: manifest.json key: {shard path: {"plan_hash": 64 hex, "sidecar_sha256": 64 hex}} for every shard task,
#: including tasks none of whose clips survived (a sidecar, no shard).
SHARD_TASKS_KEY = "shard_tasks"
#: ``egoimu bench``'s record of the options a cached build was made with.
BENCH_MARKER = ".bench-options"
#: File name endings of HDF5 files (compared case-insensitively): such a file is named in the audit as HDF5.
HDF5_SUFFIXES: tuple[str, ...] = (".h5", ".hdf5", ".hdf", ".he5")

_SPLIT = "|".join(map(re.escape, SPLITS))
_SHARD = rf"{SHARDS_DIR}/(?P<split>{_SPLIT})/(?P=split)-\d{{5}}\.h5"


def shard_rel_path(split: str, index: int) -> str:
    """A shard's path relative to OUT: ``shards/<split>/<split>-NNNNN.h5`` (index zero-padded to 5 digits)."""
    if split not in SPLITS or not 0 <= int(index) <= 99_999:
        raise ValueError(f"a shard needs a split in {SPLITS} and an index 0..99999, got {split!r}, {index!r}")
    return f"{SHARDS_DIR}/{split}/{split}-{int(index):05d}.h5"


def sidecar_rel_path(shard_rel: str) -> str:
    """The sidecar of the shard at ``shard_rel`` (relative to OUT): the same path + ``.json``."""
    return shard_rel + SIDECAR_SUFFIX


@dataclass(frozen=True)
class Output:
    """One kind of file in OUT: ``pattern`` full-matches its POSIX path relative to OUT."""

    pattern: re.Pattern[str]
    what: str
    shown: str = ""  # the path as a reader writes it (``shards/<split>/<split>-NNNNN.h5``)


def _exact(name: str, what: str) -> Output:
    return Output(re.compile(re.escape(name)), what, name)


SHARD_PATH = re.compile(_SHARD)
SIDECAR_PATH = re.compile(_SHARD + re.escape(SIDECAR_SUFFIX))
#: Everything a build writes under OUT, the one list (the audit reports any other file).
BUILD_OUTPUTS: tuple[Output, ...] = (
    _exact(SUMMARY_FILENAME, "the summary: config, split rule, counts, normalisation, accounting, shard tasks"),
    *(_exact(name, f"the {table} table") for table, name in FILENAMES.items()),
    _exact(CARD_FILENAME, "the dataset card: what the build is, counts, rejections, every column, licence"),
    Output(SHARD_PATH, "a shard (HDF5), listed in shards.csv", f"{SHARDS_DIR}/<split>/<split>-NNNNN.h5"),
    Output(SIDECAR_PATH, "a shard task's sidecar (its plan hash and outcome, for --resume), recorded in "
                         "manifest.json", f"{SHARDS_DIR}/<split>/<split>-NNNNN.h5{SIDECAR_SUFFIX}"),
    _exact(BENCH_MARKER, "egoimu bench's record of the options of a cached build"),
    Output(re.compile(re.escape(FAILED_DIR) + "/(" + "|".join(map(re.escape, (SUMMARY_FILENAME, CARD_FILENAME,
                                                                           *FILENAMES.values()))) + ")"),
           "the manifests of a --resume whose plan wrote nothing (every input row with its reason), kept beside the "
           "earlier build's, which stay as they were; the next successful build removes them",
           f"{FAILED_DIR}/<manifest file>"),
    Output(re.compile(re.escape(ORPHANED_DIR) + r"/.+"), "a file --resume found under shards/ that this build did "
                                                          "not write, moved aside (never deleted): look at it",
           f"{ORPHANED_DIR}/<path>"),
)


def build_output(rel: str) -> Output | None:
    """The entry of :data:`BUILD_OUTPUTS` that the path ``rel`` (POSIX, relative to OUT) matches, else None."""
    return next((o for o in BUILD_OUTPUTS if o.pattern.fullmatch(rel)), None)


def is_hdf5_name(name: str) -> bool:
    """True for a file name ending in an HDF5 suffix (:data:`HDF5_SUFFIXES`, any case: ``x.H5`` too)."""
    return name.lower().endswith(HDF5_SUFFIXES)
