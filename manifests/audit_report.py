"""The audit's report: findings, the per-split summary, and the text / JSON renderings.

Kept apart from the checks (:mod:`egoimu.manifests.audit`: the manifests; :mod:`egoimu.manifests.audit_shards`:
the shard files) so that each stays small; all need only pandas (and h5py for the shards).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from egoimu.manifests.card import class_names
from egoimu.manifests.schema import FILENAMES
from egoimu.manifests.shardfmt import SPLITS

CHECKS: dict[str, str] = {
    "manifests": "manifest.json and the four tables load, validate and agree",
    "accounting": "written + rejected = input (manifest.json vs clips.csv)",
    "subject_disjoint": "no participant in two splits (clips.csv, splits.csv, shards.csv, shards)",
    "video_disjoint": "no video in two splits (clips.csv, recordings.csv, shards)",
    "ids_agree": "a clip's participant is its video's (clips.csv, shards vs recordings.csv); splits agree",
    "shard_files": "shard paths inside OUT, files present, bytes and sha256 match, no stray shard",
    "out_files": "no leftover temporary file, no file a build does not write (egoimu.manifests.outputs)",
    "sidecars": "every shard task's .h5.json present, unedited, agreeing with its shard and clips.csv",
    "shard_format": "shards open, follow the layout, imu length = n_clips, split attribute",
    "config_hash": "one config_sha256: shard attributes = shards.csv = manifest.json",
    "geometry": "every shard's clip geometry (attributes) = manifest.json's config.geometry",
    "clip_rows": "every written clip once at its (shard, row) with matching ids and labels",
    "deep": "every chunk read (Fletcher32), shapes, dtypes, finite imu/spec, jpeg offsets",
}
MAX_PRINTED = 20  # findings printed per check (the JSON has all)
CLIPS_CSV, SHARDS_CSV, SPLITS_CSV = FILENAMES["clips"], FILENAMES["shards"], FILENAMES["splits"]
RECORDINGS_CSV = FILENAMES["recordings"]


class Finding(NamedTuple):
    """One problem: the check's name, the file (relative to OUT when inside it) and what is wrong."""

    check: str
    file: str
    detail: str


def _numbered(word: str, numbers: list[int], limit: int) -> str:
    text = ", ".join(map(str, numbers[:limit])) + (f", ... ({len(numbers)} in all)" if len(numbers) > limit else "")
    return f"{word}{'s' if len(numbers) > 1 else ''} {text}"


def csv_lines(rows: Iterable[int], limit: int = 8) -> str:
    """CSV line numbers of 0-based data rows: 'line 5' / 'lines 5, 7, ... (12 in all)'."""
    return _numbered("line", [int(r) + 2 for r in rows], limit)


def shard_rows(rows: Iterable[int], limit: int = 8) -> str:
    """Shard rows (0-based, as stored): 'row 3' / 'rows 3, 4, ... (12 in all)'."""
    return _numbered("row", [int(r) for r in rows], limit)


def split_report(clips: pd.DataFrame | None, summary: dict[str, Any] | None = None, top: int = 5
                 ) -> dict[str, dict[str, Any]]:
    """Per split (written clips): participants, videos, clips, labelled clips, verb counts, majority verb; each
    verb class named by its class key (:func:`egoimu.manifests.card.class_names`: manifest.json's
    ``source.class_names``, else the class's most frequent raw verb), the same in every split."""
    if clips is None:
        return {}
    names = class_names(summary if isinstance(summary, dict) else {}, clips)
    written = clips[clips.status == "written"]
    report = {}
    for split in SPLITS:
        mine = written[written.split == split]
        labelled = mine[mine.verb_class >= 0]
        counts = Counter(labelled.verb_class.tolist())
        verbs = [{"verb_class": int(k), "verb": names.get(int(k), ""), "clips": n} for k, n in counts.most_common()]
        report[split] = {
            "participants": sorted(set(mine.participant_id)), "videos": int(mine.video_id.nunique()),
            "clips": len(mine), "labelled": len(labelled), "unique_verbs": len(counts), "top_verbs": verbs[:top],
            "majority_verb": {**verbs[0], "share": verbs[0]["clips"] / len(labelled)} if verbs else None,
        }
    return report


@dataclass
class AuditResult:
    """Everything an audit found: the per-split report and each check's findings."""

    out: Path
    deep: bool
    report: dict[str, dict[str, Any]]
    checks: dict[str, list[Finding] | None]  # None: not run (deep without --deep)

    @property
    def failed(self) -> list[str]:
        return [name for name, found in self.checks.items() if found]

    def to_json(self) -> dict[str, Any]:
        status = {name: "SKIP" if found is None else "FAIL" if found else "PASS" for name, found in self.checks.items()}
        return {"out": str(self.out), "deep": self.deep, "passed": not self.failed, "failed": self.failed,
                "splits": self.report,
                "checks": [{"check": name, "status": status[name], "summary": CHECKS[name],
                            "findings": [f._asdict() for f in found or []]} for name, found in self.checks.items()]}

    def text(self) -> str:
        lines = [f"egoimu audit {self.out} (deep read: {'yes' if self.deep else 'no, pass --deep'})", "",
                 f"{'split':<11}{'participants':>13}{'videos':>8}{'clips':>7}{'labelled':>10}{'verbs':>7}"
                 f"  majority verb"]
        for split, r in self.report.items():
            m = r["majority_verb"]
            major = f"{m['verb'] or '?'} ({m['verb_class']}) {100 * m['share']:.1f} %" if m else "-"
            lines.append(f"{split:<11}{len(r['participants']):>13}{r['videos']:>8}{r['clips']:>7}{r['labelled']:>10}"
                         f"{r['unique_verbs']:>7}  {major}")
            lines.append(f"  participants: {' '.join(r['participants']) or '-'}")
            top = ", ".join(f"{v['verb'] or '?'} ({v['verb_class']}) {v['clips']}" for v in r["top_verbs"])
            lines.append(f"  top verbs: {top or '-'}")
        if not self.report:
            lines.append("(clips.csv unreadable: no per-split report)")
        lines += ["", "checks:"]
        for name, found in self.checks.items():
            status = "SKIP" if found is None else "FAIL" if found else "PASS"
            lines.append(f"  {status}  {name:<17} {CHECKS[name]}" + (f" — {len(found)} finding(s)" if found else ""))
            for item in (found or [])[:MAX_PRINTED]:
                lines.append(f"        {item.file}: {item.detail}")
            if found and len(found) > MAX_PRINTED:
                lines.append(f"        ... and {len(found) - MAX_PRINTED} more (see --json)")
        verdict = f"FAIL ({', '.join(self.failed)})" if self.failed else "PASS"
        return "\n".join([*lines, "", f"result: {verdict}"])


