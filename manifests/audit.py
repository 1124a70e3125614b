"""``egoimu audit OUT [--deep] [--json FILE]``: check a build output against its manifests.

Each check is a function returning a list of :class:`Finding` ``(check, file, detail)`` (empty = pass;
``file`` relative to OUT where it lies inside it); :data:`CHECKS` names them, manifests/README.md says
what each verifies. This module holds the manifest checks (the tables, the accounting, no participant and no
video in two splits, a clip's participant = its video's) and runs them all; the shard checks are in
:mod:`egoimu.manifests.audit_shards`, whose one pass over the shards (:func:`scan_shards`, a progress bar on a
TTY) hashes every file, validates its layout, reads the id/label/time datasets whole and, with ``--deep``,
every chunk of the others (so HDF5 verifies every Fletcher32 checksum); the checks then compare. The checks of
every file under OUT and of the ``.h5.json`` sidecars are in :mod:`egoimu.manifests.audit_files`.
The report gives per split participants, videos, clips and verb counts, then PASS/FAIL/SKIP per check.
Exit status: 0 when every check passes, 1 when any fails, 2 on a usage error.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from egoimu.manifests.audit_files import check_out_files, check_sidecars, walk_out
from egoimu.manifests.audit_report import (
    CHECKS,
    CLIPS_CSV,
    RECORDINGS_CSV,
    SHARDS_CSV,
    SPLITS_CSV,
    AuditResult,
    Finding,
    csv_lines,
    shard_rows,
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
from egoimu.manifests.clihelp import (
    HelpFormatter,
    OneLineParser,
    build_problem,
    examples,
    os_error_line,
    write_json,
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
    if summary.get("failed"):
        f(Finding("accounting", SUMMARY_FILENAME, f"a failed build (no clip written): {summary['failed']}; its "
                                                  f"rejections are in {CLIPS_CSV}"))
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


def _split_leaks(check: str, noun: str, where: dict[str, dict[str, set[str]]],
                 clip_rows: dict[tuple[str, str], list[int]], authority: str) -> list[Finding]:
    """A finding for each file that puts an id (``where[id][split]`` = files) in a split other than its main one:
    the split most files agree on (ties: the one ``authority`` names); clips.csv findings give the lines."""
    findings = []
    for key in sorted(where):
        by_split = where[key]
        if len(by_split) < 2:
            continue
        major = max(by_split, key=lambda s: (len(by_split[s]), authority in by_split[s]))
        seen = "; ".join(f"{s}: {', '.join(sorted(files))}" for s, files in sorted(by_split.items()))
        for split in sorted(set(by_split) - {major}):
            for file in sorted(by_split[split]):
                at = f" at {csv_lines(clip_rows[key, split])}" if file == CLIPS_CSV else ""
                findings.append(Finding(check, file, f"{noun} {key} is in {split!r} here{at} but in {major!r} "
                                                     f"elsewhere ({seen})"))
    return findings


def _planned_by(clips: pd.DataFrame | None, column: str, where: dict, clip_rows: dict) -> None:
    """Record in ``where`` the split of every clips.csv row that has one, under its ``column`` id."""
    if clips is not None:
        for i, key, split in zip(clips.index, clips[column], clips.split):
            if split:
                where[key][split].add(CLIPS_CSV)
                clip_rows[key, split].append(int(i))


def _stored_by(scans: dict[str, ShardScan], column: str, where: dict) -> None:
    """Record in ``where`` the split attribute of every readable shard under each id of its ``column`` dataset."""
    for scan in scans.values():
        split = scan.attrs.get("split", "")
        if scan.small is not None and split:
            for key in set(scan.small[column]):
                where[key][split].add(scan.rel)


def _where() -> dict[str, dict[str, set[str]]]:
    return defaultdict(lambda: defaultdict(set))


def check_subject_disjoint(clips: pd.DataFrame | None, splits: pd.DataFrame | None,
                           shards: pd.DataFrame | None, scans: dict[str, ShardScan]) -> list[Finding]:
    """A participant placed in two splits by any of the sources; the odd source is named."""
    where, clip_rows = _where(), defaultdict(list)
    _planned_by(clips, "participant_id", where, clip_rows)
    if splits is not None:
        for pid, split in zip(splits.participant_id, splits.split):
            where[pid][split].add(SPLITS_CSV)
    if shards is not None:
        for split, parts in zip(shards.split, shards.participants):
            for pid in filter(None, parts.split(";")):
                where[pid][split].add(SHARDS_CSV)
    _stored_by(scans, "participant_id", where)
    return _split_leaks("subject_disjoint", "participant", where, clip_rows, SPLITS_CSV)


def check_video_disjoint(clips: pd.DataFrame | None, recordings: pd.DataFrame | None,
                         scans: dict[str, ShardScan]) -> list[Finding]:
    """A video placed in two splits by clips.csv, recordings.csv or a shard's ``video_id`` dataset (with its
    ``split`` attribute); the odd source is named."""
    where, clip_rows = _where(), defaultdict(list)
    _planned_by(clips, "video_id", where, clip_rows)
    if recordings is not None:
        for vid, split in zip(recordings.video_id, recordings.split):
            if split:
                where[vid][split].add(RECORDINGS_CSV)
    _stored_by(scans, "video_id", where)
    return _split_leaks("video_disjoint", "video", where, clip_rows, RECORDINGS_CSV)


def check_ids_agree(clips: pd.DataFrame | None, recordings: pd.DataFrame | None, splits: pd.DataFrame | None,
                    scans: dict[str, ShardScan]) -> list[Finding]:
    """Every planned clip's participant (clips.csv, and each shard's own ``participant_id`` of its ``video_id``) is
    its video's participant in recordings.csv, and recordings.csv's split is splits.csv's for that participant."""
    if recordings is None:
        return [Finding("ids_agree", RECORDINGS_CSV, "unreadable: cannot check")]
    owner = {vid: (pid, int(i)) for i, vid, pid in zip(recordings.index, recordings.video_id,
                                                      recordings.participant_id)}
    findings = []

    def disagree(file: str, at: str, ids: list[str], vid: str, pid: str) -> None:
        named = ", ".join(map(repr, ids[:3])) + (", ..." if len(ids) > 3 else "")
        clip = f"clip{'s' if len(ids) > 1 else ''} {named} of video {vid}"
        if vid not in owner:
            findings.append(Finding("ids_agree", file, f"{at}: {clip}, which recordings.csv does not list"))
        elif owner[vid][0] != pid:
            findings.append(Finding("ids_agree", file, f"{at}: {clip} say{'' if len(ids) > 1 else 's'} participant "
                                                       f"{pid}, but recordings.csv {csv_lines([owner[vid][1]])} "
                                                       f"gives {vid} to {owner[vid][0]}"))

    if clips is not None:
        planned = clips[clips.split != ""]
        for (vid, pid), group in planned.groupby(["video_id", "participant_id"], sort=True):
            disagree(CLIPS_CSV, csv_lines(group.index), list(group.clip_id), vid, pid)
    for rel, scan in sorted(scans.items()):
        if scan.small is not None:
            table = pd.DataFrame({k: scan.small[k] for k in ("clip_id", "video_id", "participant_id")})
            for (vid, pid), group in table.groupby(["video_id", "participant_id"], sort=True):
                disagree(rel, shard_rows(group.index), list(group.clip_id), vid, pid)
    if splits is not None:
        plan = dict(zip(splits.participant_id, splits.split))
        for i, vid, pid, split in zip(recordings.index, recordings.video_id, recordings.participant_id,
                                      recordings.split):
            if split != plan.get(pid, ""):
                findings.append(Finding("ids_agree", RECORDINGS_CSV, f"{csv_lines([i])}: video {vid} of participant "
                                                                     f"{pid} in split {split!r}, but splits.csv puts "
                                                                     f"{pid} in {plan.get(pid, '')!r}"))
    return findings


def audit(out: Path, deep: bool = False, progress: bool = True) -> AuditResult:
    """Run every check on the build output ``out``."""
    out = Path(out)
    tables, loaded = load_manifests(out)
    scans = scan_shards(out, tables.shards, deep, progress)
    entries = walk_out(out)
    checks: dict[str, list[Finding] | None] = {
        "manifests": loaded,
        "accounting": check_accounting(tables.summary, tables.clips),
        "subject_disjoint": check_subject_disjoint(tables.clips, tables.splits, tables.shards, scans),
        "video_disjoint": check_video_disjoint(tables.clips, tables.recordings, scans),
        "ids_agree": check_ids_agree(tables.clips, tables.recordings, tables.splits, scans),
        "shard_files": check_shard_files(out, tables.shards, scans),
        "out_files": check_out_files(entries),
        "sidecars": check_sidecars(out, entries, tables.shards, tables.clips, tables.summary, scans),
        "shard_format": check_shard_format(tables.shards, scans),
        "config_hash": check_config_hash(tables.shards, scans, tables.summary),
        "geometry": check_geometry(scans, tables.summary),
        "clip_rows": check_clip_rows(tables.clips, tables.shards, scans),
        "deep": check_deep(scans) if deep else None,
    }
    return AuditResult(out, deep, split_report(tables.clips, tables.summary), checks)


def main(argv: list[str] | None = None) -> int:
    """``egoimu audit OUT [--deep] [--json FILE] [--quiet]``; 0 = pass, 1 = a check failed, 2 = usage."""
    p = OneLineParser(prog="egoimu audit", description=__doc__,
                                formatter_class=HelpFormatter,
                                epilog="checks:\n" + "\n".join(f"  {k:<17} {v}" for k, v in CHECKS.items())
                                + "\n\negoimu audit --sync OUT: the sync check from the shards alone "
                                "(egoimu audit --sync --help)\n"
                                f"what each check and each column means: {Path(__file__).with_name('README.md')} "
                                "(installed with egoimu); a build's own summary: egoimu info OUT\n\n" + examples(
                                    "egoimu audit out/epic", "egoimu audit out/epic --deep --json audit.json",
                                    "egoimu audit out/epic --json - --quiet", "egoimu audit --sync out/epic"))
    p.add_argument("out", type=Path, help="a build output folder (manifest.json, *.csv, shards/)")
    p.add_argument("--deep", action="store_true", help="also read every chunk of every shard (slow)")
    p.add_argument("--json", metavar="FILE", help="also write the report and findings as JSON (-: to stdout, "
                   "the text report then goes to stderr)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if problem := build_problem(args.out, "OUT"):
        print(f"egoimu audit: {problem}", file=sys.stderr)
        return 2
    result = audit(args.out, deep=args.deep, progress=not args.quiet)
    print(result.text(), file=sys.stderr if args.json == "-" else sys.stdout)
    if args.json:
        try:
            write_json(args.json, result.to_json(), ensure_ascii=False)
        except OSError as exc:
            print(f"egoimu audit: cannot write --json {os_error_line(exc)}", file=sys.stderr)
            return 2
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
