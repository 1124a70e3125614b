"""The audit's shard checks: one pass over every shard listed in shards.csv (:func:`scan_shards`: path, size,
sha256, layout, the id/label/time datasets read whole and, with ``deep``, every other chunk, so that HDF5
verifies every Fletcher32 checksum), then the checks that compare what it found with the manifests.
Each check returns a list of :class:`~egoimu.manifests.audit_report.Finding` (empty = pass).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
from tqdm import tqdm

from egoimu.manifests.audit_report import CLIPS_CSV, SHARDS_CSV, Finding, csv_lines
from egoimu.manifests.files import sha256_file
from egoimu.manifests.geometry import ClipGeometry
from egoimu.manifests.outputs import SHARD_PATH
from egoimu.manifests.paths import PathEscapeError, resolve_inside
from egoimu.manifests.schema import SUMMARY_FILENAME, ManifestError, config_sha256, summary_geometry
from egoimu.manifests.shardfmt import ID_WIDTHS, LABELS, TIMES, ShardFormatError, ShardLayout, validate_shard

SMALL = (*ID_WIDTHS, *LABELS, *TIMES)  # datasets read whole per shard in every mode
TIME_TOL_S = 1e-6


@dataclass
class ShardScan:
    """What one pass over a shard file found. ``small``: the SMALL datasets (ids as str), length ``n``."""

    rel: str
    line: int  # shards.csv line
    size: int | None = None
    sha256: str | None = None
    attrs: dict[str, str] = field(default_factory=dict)  # config_sha256, split (as stored)
    n: int | None = None
    geometry: ClipGeometry | None = None  # rebuilt from the attributes (None: the layout did not validate)
    small: dict[str, np.ndarray] | None = None
    unreadable: set[int] = field(default_factory=set)  # rows of ``small`` whose chunk failed to read
    problems: list[Finding] = field(default_factory=list)


def _read_whole(dset: h5py.Dataset, rel: str) -> tuple[np.ndarray, list[int], list[Finding]]:
    """The whole dataset (every chunk checksummed; ids decoded to str) and, after a read error, the
    rows that failed (read row by row, left zero) with a finding for each."""
    name, bad, problems = dset.name.lstrip("/"), [], []
    try:
        values = dset[()]
    except OSError:
        values = np.zeros(dset.shape, dtype=dset.dtype)
        for r in range(dset.shape[0]):
            try:
                values[r] = dset[r]
            except OSError as exc:
                bad.append(r)
                problems.append(Finding("shard_format", rel, f"dataset {name!r} row {r}: cannot read the chunk "
                                                             f"(checksum mismatch or I/O error: {exc})"))
    if name in ID_WIDTHS:
        values = np.array([bytes(v).decode("utf-8", "replace") for v in values], dtype=object)
    return values, bad, problems


def deep_read(h5: h5py.File, rel: str, layout: ShardLayout) -> list[Finding]:
    """Read every chunk of the per-clip datasets other than SMALL (Fletcher32 verified by HDF5).

    Checks each row's shape and dtype, that ``imu`` and ``spec`` are finite, and for jpeg shards that
    ``video_jpeg_offsets`` starts at 0, never decreases and ends within L. No JPEG is decoded.
    """
    findings = []
    shapes, dtypes = layout.row_shapes(), layout.dtypes()
    for name in (n for n in shapes if n not in SMALL):
        dset = h5[name]
        for r in range(dset.shape[0]):
            where = f"dataset {name!r} row {r}"
            try:
                row = dset[r]
            except OSError as exc:
                findings.append(Finding("deep", rel, f"{where}: cannot read the chunk (Fletcher32 checksum mismatch "
                                                     f"or I/O error: {exc})"))
                continue
            if row.shape != shapes[name] or row.dtype != dtypes[name]:
                findings.append(Finding("deep", rel, f"{where}: expected {dtypes[name]} {shapes[name]}, "
                                                     f"got {row.dtype} {row.shape}"))
            elif name in ("imu", "spec") and not np.isfinite(row).all():
                findings.append(Finding("deep", rel, f"{where}: {int((~np.isfinite(row)).sum())} non-finite values"))
            elif name == "video_jpeg_offsets" and (row[0] != 0 or (np.diff(row) < 0).any()
                                                   or row[-1] > layout.jpeg_len):
                findings.append(Finding("deep", rel, f"{where}: offsets must start at 0, never decrease and end "
                                                     f"within L={layout.jpeg_len}, got {row.tolist()}"))
    return findings


def scan_shard(out: Path, rel: str, line: int, deep: bool = False) -> ShardScan:
    """One pass over a shards.csv entry: resolve, size, sha256, layout, SMALL datasets, (deep read)."""
    scan = ShardScan(rel, line)
    try:
        path = resolve_inside(out, rel)
    except PathEscapeError as exc:
        scan.problems.append(Finding("shard_files", SHARDS_CSV, f"line {line}: shard {rel!r}: {exc.reason}"))
        return scan
    if not path.is_file():
        scan.problems.append(Finding("shard_files", rel, f"missing: listed in shards.csv (line {line}), no such file"))
        return scan
    scan.size, scan.sha256 = path.stat().st_size, sha256_file(path)
    try:
        with h5py.File(path, "r") as h5:
            scan.attrs = {k: (v.decode() if isinstance(v, bytes) else str(v))
                          for k in ("config_sha256", "split") if (v := h5.attrs.get(k)) is not None}
            layout, scan.n = validate_shard(h5, rel)
            scan.geometry = layout.geometry
            scan.small = {}
            for name in SMALL:
                scan.small[name], bad, problems = _read_whole(h5[name], rel)
                scan.unreadable.update(bad)
                scan.problems += problems
            if deep:
                scan.problems += deep_read(h5, rel, layout)
    except ShardFormatError as exc:
        scan.problems.append(Finding("shard_format", rel, str(exc).removeprefix(f"{rel}: ")))
    except Exception as exc:  # a damaged file can fail anywhere in HDF5's metadata layer
        scan.problems.append(Finding("shard_format", rel, f"cannot open or read as an HDF5 shard: "
                                                          f"{type(exc).__name__}: {exc}"))
    return scan


def scan_shards(out: Path, shards: pd.DataFrame | None, deep: bool = False, progress: bool = True
                ) -> dict[str, ShardScan]:
    """:func:`scan_shard` for every shards.csv row, with a progress bar over shards (TTY only)."""
    if shards is None:
        return {}
    rows = list(zip(shards.index, shards.shard))
    bar = tqdm(rows, desc="audit" + (" --deep" if deep else ""), unit="shard", disable=None if progress else True)
    return {rel: scan_shard(out, rel, int(i) + 2, deep) for i, rel in bar}


def _problems(scans: dict[str, ShardScan], check: str) -> list[Finding]:
    return [p for s in scans.values() for p in s.problems if p.check == check]


def find_stray_shards(out: Path, shards: pd.DataFrame | None) -> list[Finding]:
    """Files with a shard's name (``shards/<split>/<split>-NNNNN.h5``) that shards.csv does not list (any other
    file is the ``out_files`` check's)."""
    listed = set(shards.shard) if shards is not None else set()
    resolved = set()
    for rel in listed:
        try:
            resolved.add(resolve_inside(out, rel))
        except PathEscapeError:
            pass
    base = out / "shards"
    return [Finding("shard_files", p.relative_to(out).as_posix(), "stray shard: not listed in shards.csv")
            for p in sorted(base.rglob("*.h5") if base.is_dir() else [])
            if SHARD_PATH.fullmatch(p.relative_to(out).as_posix())
            and p.relative_to(out).as_posix() not in listed and p.resolve() not in resolved]


def _against_csv(shards: pd.DataFrame, scans: dict[str, ShardScan], check: str,
                 pairs: list[tuple[str, str, Any]]) -> list[Finding]:
    """Findings where ``get(scan)`` (None = unknown, skipped) differs from a shards.csv column.

    ``pairs``: (shards.csv column, what the scan value is, get).
    """
    findings = []
    for i, rel in zip(shards.index, shards.shard):
        scan = scans.get(rel)
        for column, label, get in pairs:
            have, want = (get(scan) if scan is not None else None), shards[column].tolist()[i]
            if have is not None and have != want:
                findings.append(Finding(check, rel, f"{label} {have!r} but shards.csv line {i + 2} says {column} "
                                                    f"{want!r}"))
    return findings


def check_shard_files(out: Path, shards: pd.DataFrame | None, scans: dict[str, ShardScan]) -> list[Finding]:
    """Paths, presence, byte size and sha256 of every listed shard; stray shards."""
    if shards is None:
        return [Finding("shard_files", SHARDS_CSV, "unreadable: cannot check")]
    pairs = [("bytes", "size (bytes)", lambda s: s.size), ("sha256", "sha256", lambda s: s.sha256)]
    return (_problems(scans, "shard_files") + _against_csv(shards, scans, "shard_files", pairs)
            + find_stray_shards(out, shards))


def check_shard_format(shards: pd.DataFrame | None, scans: dict[str, ShardScan]) -> list[Finding]:
    """Layout problems found by the scan; clip count (``imu`` length) and split attribute against shards.csv."""
    findings = _problems(scans, "shard_format")
    if shards is None:
        return findings
    pairs = [("n_clips", "imu length", lambda s: s.n),
             ("split", "split attribute", lambda s: s.attrs.get("split") if s.n is not None else None)]
    return findings + _against_csv(shards, scans, "shard_format", pairs)


def check_config_hash(shards: pd.DataFrame | None, scans: dict[str, ShardScan],
                      summary: dict[str, Any] | None) -> list[Finding]:
    """One config_sha256 everywhere: manifest.json (and its config), shards.csv, shard attributes."""
    findings = []
    expected = summary.get("config_sha256") if summary is not None else None
    if summary is None:
        findings.append(Finding("config_hash", SUMMARY_FILENAME, "unreadable: no reference config_sha256"))
    else:
        try:
            actual = config_sha256(summary.get("config") or {})
        except (TypeError, ValueError) as exc:
            actual = f"<unhashable: {exc}>"
        if actual != expected:
            findings.append(Finding("config_hash", SUMMARY_FILENAME, f"config_sha256 {expected} but its config "
                                                                     f"hashes to {actual}"))
    if shards is None:
        return findings
    for i, rel, listed in zip(shards.index, shards.shard, shards.config_sha256):
        if expected is not None and listed != expected:
            findings.append(Finding("config_hash", SHARDS_CSV, f"{csv_lines([i])}: {rel} config_sha256 {listed}, "
                                                               f"manifest.json says {expected}"))
    attr = [("config_sha256", "attribute config_sha256", lambda s: s.attrs.get("config_sha256"))]
    return findings + _against_csv(shards, scans, "config_hash", attr)


def check_geometry(scans: dict[str, ShardScan], summary: dict[str, Any] | None) -> list[Finding]:
    """Every shard's clip geometry (rebuilt from its attributes) = manifest.json's ``config.geometry``, as the
    trainer requires; a finding per differing shard names the differing geometry fields."""
    if summary is None:
        return [Finding("geometry", SUMMARY_FILENAME, "unreadable: no reference geometry")]
    try:
        want = summary_geometry(summary, SUMMARY_FILENAME)
    except ManifestError as exc:
        return [Finding("geometry", SUMMARY_FILENAME, exc.reason)]
    findings = []
    for rel, scan in scans.items():
        if scan.geometry is None or scan.geometry == want:
            continue
        have, ref = scan.geometry.to_dict(), want.to_dict()
        fields = ", ".join(f"{k} {have[k]!r} (manifest {ref[k]!r})" for k in have if have[k] != ref[k])
        findings.append(Finding("geometry", rel, f"clip geometry in the attributes differs from manifest.json's "
                                                 f"config.geometry: {fields}"))
    return findings


_COMPARED = ("clip_id", "narration_id", "participant_id", "video_id", "verb_class", "noun_class")


def check_clip_rows(clips: pd.DataFrame | None, shards: pd.DataFrame | None,
                    scans: dict[str, ShardScan]) -> list[Finding]:
    """Written clips against the shards' id/label/time datasets, both ways; duplicates in clips.csv."""
    if clips is None:
        return [Finding("clip_rows", CLIPS_CSV, "unreadable: cannot check")]
    findings: list[Finding] = []
    f = findings.append
    dup = clips[clips.duplicated(keep=False)]
    for _, group in dup.groupby(list(clips.columns), sort=False):
        f(Finding("clip_rows", CLIPS_CSV, f"duplicated clip row {group.clip_id.iloc[0]!r} at {csv_lines(group.index)}"))
    ids = clips[clips.clip_id.duplicated(keep=False) & ~clips.duplicated(keep=False)]
    for clip_id, group in ids.groupby("clip_id", sort=True):
        f(Finding("clip_rows", CLIPS_CSV, f"clip_id {clip_id!r} on {len(group)} rows: {csv_lines(group.index)}"))
    written = clips[clips.status == "written"].assign(line=lambda d: d.index + 2)
    listed = set(shards.shard) if shards is not None else set()
    stored = []
    for rel, scan in scans.items():
        if scan.small is not None:
            rows = np.arange(scan.n, dtype=np.int64)
            ok = ~np.isin(rows, list(scan.unreadable))
            stored.append(pd.DataFrame({"shard": rel, "row": rows, **scan.small})[ok])
    table = pd.concat(stored, ignore_index=True) if stored else pd.DataFrame(columns=["shard", "row", *SMALL])
    unread = {(rel, r) for rel, scan in scans.items() for r in scan.unreadable}
    for clip_id, group in table[table.clip_id.duplicated(keep=False)].groupby("clip_id", sort=True):
        at = ", ".join(f"{s} row {r}" for s, r in zip(group.shard, group.row))
        f(Finding("clip_rows", group.shard.iloc[0], f"clip_id {clip_id!r} stored {len(group)} times: {at}"))
    readable = {rel for rel, scan in scans.items() if scan.small is not None}
    for rel, group in written.groupby("shard", sort=True):
        if rel not in readable:
            why = "not listed in shards.csv" if rel not in listed else "missing or unreadable"
            f(Finding("clip_rows", rel, f"{len(group)} written clips (clips.csv {csv_lines(group.index)}) cannot be "
                                        f"found: the shard is {why}"))
    mine = written[written.shard.isin(readable)]
    if table.empty:
        return findings
    keys = ["shard", "row"]
    matched = mine.merge(table, on=keys, how="inner", suffixes=("", "_h5"))
    csv_keys, h5_keys = pd.MultiIndex.from_frame(mine[keys]), pd.MultiIndex.from_frame(table[keys])
    for r in mine[~csv_keys.isin(h5_keys)].itertuples():
        if (r.shard, r.row) in unread:  # reported by shard_format
            continue
        f(Finding("clip_rows", CLIPS_CSV, f"line {r.line}: clip {r.clip_id!r} at row {r.row} of {r.shard}, which "
                                          f"has {scans[r.shard].n} rows"))
    for r in table[~h5_keys.isin(csv_keys)].itertuples():
        f(Finding("clip_rows", r.shard, f"row {r.row} (clip_id {r.clip_id!r}) is no written clip of clips.csv"))
    for name in (*_COMPARED, *TIMES):
        a, b = matched[name], matched[f"{name}_h5"]
        if name in TIMES:
            bad = ~((a - b).abs() <= TIME_TOL_S)
        elif name in LABELS:
            bad = a.astype(np.int64) != b.astype(np.int64)
        else:
            bad = a.astype(str) != b.astype(str)
        for r in matched[bad.to_numpy()].itertuples():
            f(Finding("clip_rows", r.shard, f"row {r.row}: {name} {getattr(r, name + '_h5')!r}, clips.csv line "
                                            f"{r.line} says {getattr(r, name)!r}"))
    if shards is not None:
        for i, rel, parts in zip(shards.index, shards.shard, shards.participants):
            have = sorted(set(table.participant_id[table.shard == rel]))
            if rel in readable and not scans[rel].unreadable and sorted(set(filter(None, parts.split(";")))) != have:
                f(Finding("clip_rows", SHARDS_CSV, f"{csv_lines([i])}: participants {parts!r}, {rel} holds "
                                                   f"{';'.join(have)!r}"))
    return findings


def check_deep(scans: dict[str, ShardScan]) -> list[Finding]:
    return _problems(scans, "deep")
