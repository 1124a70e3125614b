"""Results -> table cells: which cell of Tables 1-5 a result fills, its condition sets, and seed aggregation.

A cell (e.g. Table 3, update video CNN, supervised init) may hold several results. Results whose conditions
agree except for the seed-specific keys (:func:`is_per_seed`) form one :class:`Group` and are aggregated:
mean, sample standard deviation (ddof 1) over seeds, and the per-seed values. Results with other differing
conditions (another data set, another step) stay separate groups of the same cell.

The interval of a group: one result -> its own 95 % CI; several -> the envelope of the per-seed 95 % CIs
(lowest low, highest high), which covers both the seed spread and the test-set sampling (``ENVELOPE_NOTE``).
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from egoimu.train.report.collect import Entry

#: Conditions that differ between seeds of one setting (not part of a group's identity), also with a side
#: prefix (``video_seed``, ``imu_run``: the supervised evaluation records both runs); any ``*_seed`` too
#: (``eval_seed``, ``bootstrap_seed``). ``init_video`` is the path of the seed's own pretrained checkpoint (the
#: demo's Table 3 runs start from their seed's supervised run); what kind of init it is stays in the variant.
PER_SEED_KEYS = ("seed", "run", "checkpoint", "checkpoint_sha256", "config_sha256", "init_video")
SIDE_PREFIXES = ("video_", "imu_")


def is_per_seed(key: str) -> bool:
    """Whether condition ``key`` may differ between the seeds of one setting (see :data:`PER_SEED_KEYS`)."""
    base = key
    for prefix in SIDE_PREFIXES:
        base = base.removeprefix(prefix)
    return base in PER_SEED_KEYS or base.endswith("_seed")
#: Conditions shown beside a cell, in this order.
SHOWN_CONDITIONS = ("data", "split", "n", "step", "model", "objective", "freeze_video", "init_video", "init_provenance",
                    "provenance", "synthetic")
ENVELOPE_NOTE = ("Several seeds: mean ± sample std (ddof 1) over seeds; the interval used for overlap is the "
                 "envelope of the per-seed 95 % CIs.")
#: The evaluation filling each table's cells (supervised fills Tables 1 and 2).
TABLE_OF = {"supervised": 1, "corr": 3, "probe": 4, "dogcentric": 5}


@dataclass(frozen=True)
class Agg:
    """A number over one or more seeds: ``value`` (the mean), ``low``/``high`` (CI or envelope, may be None),
    ``std`` (None for one seed), ``k`` (number of values) and ``per_seed`` [{seed, value, low, high, file}]."""

    value: float | None
    low: float | None
    high: float | None
    std: float | None
    k: int
    per_seed: list[dict[str, Any]]

    def scaled(self, factor: float) -> Agg:
        """The same numbers times ``factor`` (e.g. 100 for percent), rounded to 6 decimals."""
        def s(x: float | None) -> float | None:
            return None if x is None else round(x * factor, 6)

        return Agg(s(self.value), s(self.low), s(self.high), s(self.std), self.k,
                   [{**p, "value": s(p["value"]), "low": s(p["low"]), "high": s(p["high"])} for p in self.per_seed])

    def as_json(self) -> dict[str, Any]:
        """For report.json."""
        return {"value": self.value, "low": self.low, "high": self.high, "std": self.std, "k": self.k,
                "per_seed": self.per_seed}


def aggregate(samples: list[dict[str, Any]]) -> Agg:
    """Aggregate ``samples`` [{seed, value, low, high, file}] (values None are skipped for the mean)."""
    values = [s["value"] for s in samples if s["value"] is not None]
    if not values:
        return Agg(None, None, None, None, len(samples), samples)
    if len(samples) == 1:
        s = samples[0]
        return Agg(s["value"], s["low"], s["high"], None, 1, samples)
    lows = [s["low"] for s in samples]
    highs = [s["high"] for s in samples]
    low = None if any(x is None for x in lows) else min(lows)
    high = None if any(x is None for x in highs) else max(highs)
    std = statistics.stdev(values) if len(values) > 1 else None
    return Agg(statistics.fmean(values), low, high, std, len(samples), samples)


def wilson(correct: float, n: int, z: float = 1.959964) -> tuple[float | None, float | None]:
    """The 95 % Wilson score interval of a proportion ``correct``/``n`` (fractions; (None, None) if n == 0)."""
    if n <= 0:
        return None, None
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def list_rows(result: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The objects of list extra ``key`` (``per_class``, ``correct_by``) of a result; [] when absent or not a list."""
    rows = result.get(key)
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def seed_of(entry: Entry) -> Any:
    """The result's ``conditions.seed`` (None when absent)."""
    return entry.conditions.get("seed")


def seed_order(seed: Any) -> tuple[int, int, str]:
    """Sort key for seeds: integers ascending, then anything else by its text, None last."""
    if isinstance(seed, int) and not isinstance(seed, bool):
        return 0, seed, ""
    return (2, 0, "") if seed is None else (1, 0, str(seed))


@dataclass
class Group:
    """Results of one cell under one set of conditions (differing only in per-seed keys, :func:`is_per_seed`)."""

    key: str
    conditions: dict[str, Any]
    entries: list[Entry] = field(default_factory=list)

    @property
    def seeds(self) -> list[Any]:
        """The seeds of its results, in result order."""
        return [seed_of(e) for e in self.entries]

    def sample(self, entry: Entry, value: float | None, low: float | None, high: float | None) -> dict[str, Any]:
        """One per-seed record."""
        return {"seed": seed_of(entry), "value": value, "low": low, "high": high, "file": str(entry.path)}

    def metric(self, name: str) -> Agg:
        """Metric ``name`` over the group's results (a result without it counts as a missing value)."""
        out = []
        for e in self.entries:
            m = e.result["metrics"].get(name) or {"value": None, "low": None, "high": None}
            out.append(self.sample(e, m["value"], m["low"], m["high"]))
        return aggregate(out)

    def verb_metric(self, key: str, verb: str, column: str, proportion: bool) -> Agg:
        """Per-verb column ``column`` of list extra ``key`` (``per_class`` or ``correct_by``) for ``verb`` (by
        name, case-insensitive). ``proportion``: the value is an accuracy over the row's ``n`` clips and gets
        a 95 % Wilson interval."""
        out = []
        for e in self.entries:
            rows = [r for r in list_rows(e.result, key) if str(r.get("name", "")).lower() == verb.lower()]
            if not rows:
                continue
            v = rows[0].get(column)
            low = high = None
            if proportion and v is not None and isinstance(rows[0].get("n"), int):
                low, high = wilson(v * rows[0]["n"], rows[0]["n"])
            out.append(self.sample(e, v, low, high))
        return aggregate(out) if out else Agg(None, None, None, None, 0, [])

    def verbs(self) -> list[str]:
        """The verbs of its ``per_class`` rows (first result's order: most frequent first), then any others."""
        names: list[str] = []
        for e in self.entries:
            for r in list_rows(e.result, "per_class"):
                if str(r.get("name")) not in names:
                    names.append(str(r.get("name")))
        return names

    def shown_conditions(self) -> dict[str, Any]:
        """The conditions shown beside the cell, plus ``seeds`` (sorted, None last)."""
        out = {k: self.conditions.get(k) for k in SHOWN_CONDITIONS if k in self.conditions}
        out["seeds"] = sorted(self.seeds, key=seed_order)
        return out


def cell_of(entry: Entry) -> tuple[int, str]:
    """(table, cell id) of a result: Table 3 ``"<video_cnn>/<pretrained_on>"``, Tables 4 and 5 the
    ``representation``, Table 1 (supervised, also Table 2) ``"supervised"``."""
    r = entry.result
    table = TABLE_OF[r["evaluation"]]
    if table == 3:
        variant = r.get("variant") or {}
        return table, f"{variant.get('video_cnn') or 'unspecified'}/{variant.get('pretrained_on') or 'unspecified'}"
    if table in (4, 5):
        return table, str(r.get("representation") or "unspecified")
    return table, "supervised"


def group_key(conditions: dict[str, Any]) -> str:
    """The identity of a condition set: its conditions without the per-seed keys, as canonical JSON."""
    return json.dumps(_shared(conditions), sort_keys=True, default=str)


def _shared(conditions: dict[str, Any]) -> dict[str, Any]:
    """``conditions`` without the per-seed keys."""
    return {k: v for k, v in conditions.items() if not is_per_seed(k)}


Cells = dict[tuple[int, str], list[Group]]


def group_cells(entries: list[Entry]) -> Cells:
    """{(table, cell id): [Group, ...]} with groups sorted by key and each group's results by (seed, path)."""
    cells: dict[tuple[int, str], dict[str, Group]] = {}
    for entry in entries:
        key = group_key(entry.conditions)
        groups = cells.setdefault(cell_of(entry), {})
        groups.setdefault(key, Group(key, _shared(entry.conditions))).entries.append(entry)
    out: Cells = {}
    for cell in sorted(cells):
        groups = [cells[cell][k] for k in sorted(cells[cell])]
        for g in groups:
            g.entries.sort(key=lambda e: (seed_order(seed_of(e)), str(e.path)))
        out[cell] = groups
    return out
