"""``egoimu audit OUT [--deep] [--json FILE]``: check a build output against its manifests.

Each check is a function returning a list of :class:`Finding` ``(check, file, detail)`` (empty = pass;
``file`` relative to OUT where it lies inside it); :data:`CHECKS` names them, manifests/README.md says
what each verifies. This module holds the manifest checks and runs them all; the shard checks are in
:mod:`egoimu.manifests.audit_shards`, whose one pass over the shards (:func:`scan_shards`, a progress bar on a
TTY) hashes every file, validates its layout, reads the id/label/time datasets whole and, with ``--deep``,
every chunk of the others (so HDF5 verifies every Fletcher32 checksum); the checks then compare.
The report gives per split participants, videos, clips and verb counts, then PASS/FAIL/SKIP per check.
Exit status: 0 when every check passes, 1 when any fails, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from egoimu.manifests.audit_report import (
    CHECKS,
    CLIPS_CSV,
    SHARDS_CSV,
    SPLITS_CSV,
    AuditResult,
    Finding,
    csv_lines,
    split_report,
)
from egoimu.manifests.audit_shards import (
    ShardScan,
    check_clip_rows,
    check_config_hash,
    check_deep,
    check_geometry,
    check_shard_files,
    check_shard_format,
    scan_shards,
)
from egoimu.manifests.schema import (
    FILENAMES,
    SUMMARY_FILENAME,
    TABLES,
    Manifest,
    ManifestError,
    read_summary,
    read_table,
)
from egoimu.manifests.shardfmt import SPLITS


@dataclass
class Tables:
    """The manifest files as read (strictly, or leniently after a validation error); None = unreadable."""

    clips: pd.DataFrame | None = None
    shards: pd.DataFrame | None = None
    recordings: pd.DataFrame | None = None
    splits: pd.DataFrame | None = None
    summary: dict[str, Any] | None = None


def _rel(out: Path, path: str | Path) -> str:
    try:
        return Path(path).resolve().relative_to(out.resolve()).as_posix()
    except ValueError:
        return str(path)


def _lenient_table(path: Path, table: str) -> pd.DataFrame | None:
    """The table with unparsable cells coerced (ints → -1, floats → NaN, missing columns empty)."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8")
    except (OSError, ValueError):
        return None
    out: dict[str, pd.Series] = {}
    for col in TABLES[table]:
        s = raw[col.name] if col.name in raw.columns else pd.Series([""] * len(raw), dtype=str)
        if col.dtype == "int":
            out[col.name] = pd.to_numeric(s, errors="coerce").fillna(-1).astype(np.int64)
        elif col.dtype == "float":
            out[col.name] = pd.to_numeric(s, errors="coerce").astype(np.float64)
        else:
            out[col.name] = s.astype(str)
    return pd.DataFrame(out, columns=[c.name for c in TABLES[table]])


def _manifest_finding(out: Path, exc: ManifestError) -> Finding:
    where = [f"column {exc.column!r}"] if exc.column is not None else []
    where += [f"row {exc.row} (line {exc.row + 2})"] if exc.row is not None else []
    return Finding("manifests", _rel(out, exc.file), (", ".join(where) + ": " if where else "") + exc.reason)


def load_manifests(out: Path) -> tuple[Tables, list[Finding]]:
    """Read the five files strictly (findings for each failure, lenient fallback), then cross-check."""
    tables, findings, strict = Tables(), [], True
    for name, fname in FILENAMES.items():
        try:
            setattr(tables, name, read_table(out / fname, name))
        except ManifestError as exc:
            findings.append(_manifest_finding(out, exc))
            setattr(tables, name, _lenient_table(out / fname, name))
            strict = False
    try:
        tables.summary = read_summary(out / SUMMARY_FILENAME)
    except ManifestError as exc:
        findings.append(_manifest_finding(out, exc))
        strict = False
        try:
            data = json.loads((out / SUMMARY_FILENAME).read_text(encoding="utf-8"))
            tables.summary = data if isinstance(data, dict) else None
        except (OSError, ValueError):
            tables.summary = None
    if strict:
        try:
            Manifest(root=out, clips=tables.clips, shards=tables.shards, recordings=tables.recordings,
                     splits=tables.splits, summary=tables.summary).check_consistency()
        except ManifestError as exc:
            findings.append(_manifest_finding(out, exc))
    return tables, findings


def check_accounting(summary: dict[str, Any] | None, clips: pd.DataFrame | None) -> list[Finding]:
    """manifest.json's accounting and per-split counts against clips.csv."""
    if summary is None or clips is None:
        return [Finding("accounting", SUMMARY_FILENAME if summary is None else CLIPS_CSV, "unreadable: cannot check")]
    findings: list[Finding] = []
    f = findings.append
    written = clips[clips.status == "written"]
    rejected = {str(k): int(v) for k, v in Counter(clips.reason[clips.status == "rejected"]).items()}
    other = clips.index[~clips.status.isin(["written", "rejected"])]
    if len(other):
        f(Finding("accounting", CLIPS_CSV, f"status neither written nor rejected at {csv_lines(other)}"))
    try:
        acc = summary["accounting"]
        n_in, n_written = int(acc["input"]), int(acc["written"])
        by_reason = {str(k): int(v) for k, v in acc["rejected_by_reason"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return [*findings, Finding("accounting", SUMMARY_FILENAME, f"accounting malformed: {exc!r}")]
    if n_in != n_written + sum(by_reason.values()):
        f(Finding("accounting", SUMMARY_FILENAME, f"input {n_in} != written {n_written} + rejected "
                                                  f"{sum(by_reason.values())}"))
    if n_in != len(clips):
        f(Finding("accounting", SUMMARY_FILENAME, f"input {n_in} but clips.csv has {len(clips)} rows"))
    if n_written != len(written):
        f(Finding("accounting", SUMMARY_FILENAME, f"written {n_written} but clips.csv has {len(written)}"))
    if by_reason != rejected:
        f(Finding("accounting", SUMMARY_FILENAME, f"rejected_by_reason {by_reason} but clips.csv has {rejected}"))
    counts = summary.get("counts") if isinstance(summary.get("counts"), dict) else {}
    for split in SPLITS:
        mine = written[written.split == split]
        c = counts.get(split) if isinstance(counts.get(split), dict) else {}
        for key, n in (("clips", len(mine)), ("participants", mine.participant_id.nunique())):
            if c.get(key, 0) != n:
                f(Finding("accounting", SUMMARY_FILENAME, f"counts.{split}.{key} {c.get(key)} but clips.csv "
                                                          f"has {n} (written)"))
        verbs = {str(k): int(v) for k, v in Counter(mine.verb_class).items()}
        if len(mine) and c.get("verbs") != verbs:
            f(Finding("accounting", SUMMARY_FILENAME, f"counts.{split}.verbs differ from clips.csv's {verbs}"))
    return findings


def check_subject_disjoint(clips: pd.DataFrame | None, splits: pd.DataFrame | None,
                           shards: pd.DataFrame | None, scans: dict[str, ShardScan]) -> list[Finding]:
    """A participant placed in two splits by any of the sources; the odd source is named."""
    where: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    clip_rows: dict[tuple[str, str], list[int]] = defaultdict(list)
    if clips is not None:
        for i, pid, split in zip(clips.index, clips.participant_id, clips.split):
            if split:
                where[pid][split].add(CLIPS_CSV)
                clip_rows[pid, split].append(int(i))
    if splits is not None:
        for pid, split in zip(splits.participant_id, splits.split):
            where[pid][split].add(SPLITS_CSV)
    if shards is not None:
        for split, parts in zip(shards.split, shards.participants):
            for pid in filter(None, parts.split(";")):
                where[pid][split].add(SHARDS_CSV)
    for scan in scans.values():
        split = scan.attrs.get("split", "")
        if scan.small is not None and split:
            for pid in set(scan.small["participant_id"]):
                where[pid][split].add(scan.rel)
    findings = []
    for pid in sorted(where):
        by_split = where[pid]
        if len(by_split) < 2:
            continue
        major = max(by_split, key=lambda s: (len(by_split[s]), SPLITS_CSV in by_split[s]))
        seen = "; ".join(f"{s}: {', '.join(sorted(files))}" for s, files in sorted(by_split.items()))
        for split in sorted(set(by_split) - {major}):
            for file in sorted(by_split[split]):
                at = f" at {csv_lines(clip_rows[pid, split])}" if file == CLIPS_CSV else ""
                findings.append(Finding("subject_disjoint", file, f"participant {pid} is in {split!r} here{at} "
                                                                  f"but in {major!r} elsewhere ({seen})"))
    return findings


def audit(out: Path, deep: bool = False, progress: bool = True) -> AuditResult:
    """Run every check on the build output ``out``."""
    out = Path(out)
    tables, loaded = load_manifests(out)
    scans = scan_shards(out, tables.shards, deep, progress)
    checks: dict[str, list[Finding] | None] = {
        "manifests": loaded,
        "accounting": check_accounting(tables.summary, tables.clips),
        "subject_disjoint": check_subject_disjoint(tables.clips, tables.splits, tables.shards, scans),
        "shard_files": check_shard_files(out, tables.shards, scans),
        "shard_format": check_shard_format(tables.shards, scans),
        "config_hash": check_config_hash(tables.shards, scans, tables.summary),
        "geometry": check_geometry(scans, tables.summary),
        "clip_rows": check_clip_rows(tables.clips, tables.shards, scans),
        "deep": check_deep(scans) if deep else None,
    }
    return AuditResult(out, deep, split_report(tables.clips), checks)


def main(argv: list[str] | None = None) -> int:
    """``egoimu audit OUT [--deep] [--json FILE] [--quiet]``; 0 = pass, 1 = a check failed, 2 = usage."""
    p = argparse.ArgumentParser(prog="egoimu audit", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="checks:\n" + "\n".join(f"  {k:<17} {v}" for k, v in CHECKS.items()))
    p.add_argument("out", type=Path, help="a build output folder (manifest.json, *.csv, shards/)")
    p.add_argument("--deep", action="store_true", help="also read every chunk of every shard (slow)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the report and findings as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if not args.out.is_dir():
        print(f"egoimu audit: {args.out} is not a folder", file=sys.stderr)
        return 2
    result = audit(args.out, deep=args.deep, progress=not args.quiet)
    print(result.text())
    if args.json:
        try:
            args.json.write_text(json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"egoimu audit: cannot write {args.json}: {exc}", file=sys.stderr)
            return 2
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
