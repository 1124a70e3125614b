"""The audit's checks of what lies in OUT besides the manifests and the shards' contents: every file against the
one list of what a build writes (:mod:`egoimu.manifests.outputs`), and the ``.h5.json`` sidecars against
manifest.json's record of the shard tasks, their shards and clips.csv.

``out_files``: a leftover temporary file (:func:`egoimu.manifests.files.temp_target` names what it was for), a
stray HDF5 file that is no shard (``x.H5``, ``OUT/extra.h5``) or any other file a build does not write. A file
with a shard's name that shards.csv does not list is ``shard_files``' stray shard; a sidecar's name,
``sidecars``' business.

``sidecars``: every shard task recorded in manifest.json (:data:`~egoimu.manifests.outputs.SHARD_TASKS_KEY`) has
its sidecar, unedited (its sha256 as recorded), with the recorded plan hash, its own path and split, and the
shard's sha256, size, clip count and participants as the shard file has them; its per-clip outcomes agree with
clips.csv; no sidecar is there for a task the build did not have.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from egoimu.manifests.audit_report import SHARDS_CSV, Finding, csv_lines
from egoimu.manifests.audit_shards import ShardScan
from egoimu.manifests.files import sha256_file, temp_target
from egoimu.manifests.outputs import (
    SHARD_PATH,
    SHARD_TASKS_KEY,
    SIDECAR_KEYS,
    SIDECAR_PATH,
    build_output,
    is_hdf5_name,
    sidecar_rel_path,
)
from egoimu.manifests.schema import SUMMARY_FILENAME

_HEX64 = re.compile(r"[0-9a-f]{64}")


class Entry(NamedTuple):
    """One thing under OUT that is not a real folder: its POSIX path relative to OUT and whether it is a
    regular file (a link to one counts)."""

    rel: str
    is_file: bool


def walk_out(out: Path) -> list[Entry]:
    """Every file (and link, and other non-folder) under ``out``, sorted; links to folders are listed, not
    entered."""
    entries = []
    for folder, dirs, files in os.walk(out):
        base = Path(folder)
        for name in [*files, *(d for d in dirs if (base / d).is_symlink())]:
            path = base / name
            entries.append(Entry(path.relative_to(out).as_posix(), path.is_file()))
    return sorted(entries)


def check_out_files(entries: list[Entry]) -> list[Finding]:
    """Leftover temporary files and files a build does not write (:data:`~egoimu.manifests.outputs.BUILD_OUTPUTS`)."""
    findings = []
    for rel, is_file in entries:
        name = rel.rsplit("/", 1)[-1]
        target = temp_target(name)
        if target is not None:
            detail = (f"leftover temporary file of an interrupted write of {target!r} (safe to delete; "
                      f"egoimu build --resume removes it)")
        elif build_output(rel) is not None:
            if is_file:
                continue
            detail = "not a regular file, though a build writes a file of this name here"
        elif is_hdf5_name(name):
            detail = ("unexpected HDF5 file: no shard of a build (shards are shards/<split>/<split>-NNNNN.h5, "
                      "listed in shards.csv)")
        else:
            detail = "unexpected file: a build writes no such file (egoimu.manifests.outputs.BUILD_OUTPUTS)"
        findings.append(Finding("out_files", rel, detail))
    return findings


def _shard_tasks(summary: dict[str, Any] | None) -> dict[str, dict[str, str]] | None:
    """manifest.json's record {shard path: {plan_hash, sidecar_sha256}}, or None when absent or malformed."""
    record = summary.get(SHARD_TASKS_KEY) if isinstance(summary, dict) else None
    ok = isinstance(record, dict) and all(
        SHARD_PATH.fullmatch(str(rel)) and isinstance(v, dict)
        and all(isinstance(v.get(k), str) and _HEX64.fullmatch(v[k]) for k in ("plan_hash", "sidecar_sha256"))
        for rel, v in record.items())
    return record if ok else None


def check_sidecars(out: Path, entries: list[Entry], shards: pd.DataFrame | None, clips: pd.DataFrame | None,
                   summary: dict[str, Any] | None, scans: dict[str, ShardScan]) -> list[Finding]:
    """Every recorded shard task's sidecar: present, unedited, agreeing with its shard and clips.csv; no stray."""
    findings: list[Finding] = []
    record = _shard_tasks(summary)
    listed = dict(zip(shards.shard, shards.index)) if shards is not None else {}
    if record is None:
        findings.append(Finding("sidecars", SUMMARY_FILENAME, f"no valid {SHARD_TASKS_KEY!r} record (each shard "
                                                              f"task's plan hash and sidecar sha256): the sidecars "
                                                              f"are checked against the shards only"))
    tasks = set(record) if record is not None else {rel for rel in listed if SHARD_PATH.fullmatch(rel)}
    expected = {sidecar_rel_path(rel) for rel in tasks}
    for rel, _ in entries:
        if SIDECAR_PATH.fullmatch(rel) and rel not in expected:
            findings.append(Finding("sidecars", rel, f"stray sidecar: no shard task of this build "
                                                     f"(manifest.json {SHARD_TASKS_KEY})"))
    for rel in sorted(set(listed) - tasks):
        findings.append(Finding("sidecars", SHARDS_CSV, f"{csv_lines([listed[rel]])}: shard {rel} is no shard task "
                                                        f"of manifest.json's {SHARD_TASKS_KEY}"))
    by_id = _clips_by_id(clips)
    for rel in sorted(tasks):
        sidecar = _Sidecar(out, rel, (record or {}).get(rel), rel in listed if shards is not None else None,
                           scans.get(rel))
        findings += sidecar.check(by_id, clips)
    return findings


def _clips_by_id(clips: pd.DataFrame | None) -> dict[str, tuple[int, str, str, int, str]] | None:
    """clip_id → (data row, status, shard, row, reason) of clips.csv (the first row of a repeated id)."""
    if clips is None:
        return None
    out: dict[str, tuple[int, str, str, int, str]] = {}
    for rec in zip(clips.index, clips.clip_id, clips.status, clips.shard, clips.row, clips.reason):
        out.setdefault(rec[1], (int(rec[0]), rec[2], rec[3], int(rec[4]), rec[5]))
    return out


def _outcome_text(status: str, row: int, reason: str) -> str:
    return f"written at row {row}" if status == "written" else f"rejected ({reason})"


class _Sidecar:
    """One shard task's sidecar and what it must agree with."""

    def __init__(self, out: Path, rel: str, recorded: dict[str, str] | None, listed: bool | None,
                 scan: ShardScan | None) -> None:
        """``listed``: whether shards.csv lists the shard (None: shards.csv unreadable)."""
        self.out, self.rel, self.side = out, rel, sidecar_rel_path(rel)
        self.recorded, self.listed, self.scan = recorded, listed, scan
        self.findings: list[Finding] = []

    def bad(self, detail: str) -> None:
        self.findings.append(Finding("sidecars", self.side, detail))

    def check(self, by_id: dict | None, clips: pd.DataFrame | None) -> list[Finding]:
        path = self.out / self.side
        if not path.is_file():
            self.bad(f"missing: the sidecar of shard task {self.rel} "
                     f"({'listed in shards.csv' if self.listed else 'recorded in manifest.json'}); --resume cannot "
                     f"verify the shard without it")
            return self.findings
        sha = sha256_file(path)
        if self.recorded is not None and sha != self.recorded["sidecar_sha256"]:
            self.bad(f"edited after the build: sha256 {sha}, manifest.json records {self.recorded['sidecar_sha256']}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self.bad(f"unreadable: not JSON ({exc})")
            return self.findings
        if not isinstance(data, dict) or set(data) != set(SIDECAR_KEYS):
            self.bad(f"not a sidecar: expected a JSON object with the keys {list(SIDECAR_KEYS)}")
            return self.findings
        self.compare(data)
        if by_id is not None and clips is not None:
            self.outcomes(data["outcomes"], by_id, clips)
        return self.findings

    def compare(self, data: dict[str, Any]) -> None:
        """Plan hash, path and split; sha256, size, clip count and participants against the shard file."""
        want: list[tuple[str, Any, str]] = [("rel_path", self.rel, "its own path"),
                                             ("split", self.rel.split("/")[1], "its folder's split")]
        if self.recorded is not None:
            want.append(("plan_hash", self.recorded["plan_hash"], "manifest.json's record"))
        scan = self.scan
        if self.listed is False:
            want += [("n_clips", 0, "shards.csv, which does not list the shard,"), ("sha256", "", "no shard file's"),
                     ("bytes", 0, "no shard file's")]
        elif scan is not None and scan.size is not None:
            want += [("sha256", scan.sha256, "the shard file's"), ("bytes", scan.size, "the shard file's")]
            if scan.small is not None:
                want += [("n_clips", scan.n, "the shard's"),
                         ("participants", sorted(set(scan.small["participant_id"])), "the shard's")]
        for key, value, whose in want:
            if data[key] != value:
                self.bad(f"{key} {data[key]!r} but {whose} is {value!r}")

    def outcomes(self, outcomes: Any, by_id: dict, clips: pd.DataFrame) -> None:
        """Each (clip_id, row, reason, detail) against clips.csv; clips.csv's written clips of the shard all there."""
        if not (isinstance(outcomes, list) and all(
                isinstance(o, list) and len(o) == 4 and isinstance(o[0], str) and type(o[1]) is int
                and isinstance(o[2], str) for o in outcomes)):
            self.bad("outcomes: expected a list of [clip_id, row, reason, detail]")
            return
        seen = set()
        for clip_id, row, reason, _detail in outcomes:
            seen.add(clip_id)
            have = by_id.get(clip_id)
            if have is None:
                self.bad(f"outcome of clip {clip_id!r}, which clips.csv does not have")
                continue
            line, status, shard, csv_row, csv_reason = have
            want = ("written", self.rel, row, "") if row >= 0 else ("rejected", "", -1, reason)
            if (status, shard, csv_row, csv_reason) != want:
                self.bad(f"clip {clip_id!r} {_outcome_text(want[0], row, reason)} here, but clips.csv "
                         f"{csv_lines([line])} says {_outcome_text(status, csv_row, csv_reason)}"
                         + (f" in {shard}" if status == "written" and shard != self.rel else ""))
        mine = clips[(clips.status == "written") & (clips.shard == self.rel) & ~clips.clip_id.isin(seen)]
        if len(mine):
            self.bad(f"no outcome for the clips that clips.csv writes to this shard at {csv_lines(mine.index)} "
                     f"({', '.join(mine.clip_id[:3])}{', ...' if len(mine) > 3 else ''})")
