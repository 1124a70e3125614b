"""The run's numbers for the paper's Tables 1-5 beside the paper's, as plain JSON-able dicts (report.json's
``tables``); :mod:`egoimu.train.report.layout` lays them out, :mod:`egoimu.train.report.claims` checks the
claims on them.

Units: accuracies and ROC-AUCs in percent (the results hold fractions; they are multiplied by 100 here),
Table 2 in clip counts. A run value is a list of condition groups (``run``), each
``{"conditions", "metric": {value, low, high, std, k, per_seed}}``; an empty list means "not run".
"""

from __future__ import annotations

from typing import Any

from egoimu.train.report import paper
from egoimu.train.report.cells import Agg, Cells, Group, aggregate, list_rows

PCT = 100.0
COLUMNS1 = ("video", "imu", "ensemble")
COLUMNS2 = ("video_only", "imu_only", "both", "neither")
#: Table 3's paper cells, then the run-only pretraining columns.
PRETRAINED_ORDER = ("kinetics", "supervised", "none", "other")
VIDEO_CNN_ORDER = ("freeze", "update")
#: The probes' metrics shown beside top-1 (EPIC's verb metrics; DogCentric's results have none: 4 classes).
EXTRA_PROBE_METRICS = ("top5", "mean_class")
#: Table 4's and 5's rows: the paper's first, then the run-only ones.
REPRESENTATION_ORDER = ("kinetics", "self-supervised", "supervised", "random", "checkpoint")


def order(value: str, known: tuple[str, ...]) -> tuple[int, str]:
    """Sort key: ``value``'s place in ``known``, then any other value by name."""
    return (known.index(value), "") if value in known else (len(known), value)


def group_json(group: Group, metric: str | None = None, factor: float = PCT) -> dict[str, Any]:
    """A condition group for report.json: its shown conditions, result files and (given) one metric scaled."""
    out: dict[str, Any] = {"conditions": group.shown_conditions(), "files": [str(e.path) for e in group.entries],
                           "labels": sorted({e.result["label"] for e in group.entries})}
    if metric is not None:
        out["metric"] = group.metric(metric).scaled(factor).as_json()
    return out


def _per_seed_mean(group: Group, column: str) -> Agg:
    """Per result, the mean of ``per_class[*][column]`` over its verbs; aggregated over seeds (no CI)."""
    samples = []
    for e in group.entries:
        values = [r.get(column) for r in list_rows(e.result, "per_class") if r.get(column) is not None]
        samples.append(group.sample(e, sum(values) / len(values) if values else None, None, None))
    return aggregate(samples)


def _paper_row(table: dict[str, dict[str, Any]], verb: str) -> dict[str, Any] | None:
    return next((v for k, v in table.items() if k.lower() == verb.lower()), None)


def _verb_rows(group: Group, key: str, columns: tuple[str, ...], proportion: bool,
               paper_table: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for the run's verbs (``per_class`` order), then the paper's verbs the run lacks (``in_run`` False)."""
    factor = PCT if proportion else 1.0
    run_verbs = group.verbs()
    rows = []
    for verb in run_verbs:
        n = next((r.get("n") for e in group.entries for r in list_rows(e.result, "per_class")
                  if str(r.get("name", "")).lower() == verb.lower()), None)
        row: dict[str, Any] = {"verb": verb, "in_run": True, "n": n, "paper": _paper_row(paper_table, verb)}
        for c in columns:
            row[c] = group.verb_metric(key, verb, c, proportion).scaled(factor).as_json()
        rows.append(row)
    lower = {v.lower() for v in run_verbs}
    for verb in paper.VERBS:
        if verb.lower() not in lower:
            rows.append({"verb": verb, "in_run": False, "n": None, "paper": paper_table[verb]})
    return rows


def table1(cells: Cells) -> dict[str, Any]:
    """Table 1: per-verb accuracy (%) of video, head motion (``imu``) and ensemble, the run's top-5 test verbs;
    also their top-5 average, the overall test accuracy (``top1_*``) and EPIC's other verb metrics, top-5
    accuracy (``overall_top5``) and mean class accuracy (``mean_class``)."""
    groups = []
    for group in cells.get((1, "supervised"), []):
        g = group_json(group)
        g["rows"] = _verb_rows(group, "per_class", COLUMNS1, True, paper.TABLE1)
        g["top5_average"] = {c: _per_seed_mean(group, c).scaled(PCT).as_json() for c in COLUMNS1}
        for key, metric in (("overall", "top1"), ("overall_top5", "top5"), ("mean_class", "mean_class")):
            g[key] = {c: group.metric(f"{metric}_{c}").scaled(PCT).as_json() for c in COLUMNS1}
        groups.append(g)
    return {"metric": "per-verb accuracy (%)", "columns": list(COLUMNS1),
            "paper_top5_average": {c: paper.top5_average(c) for c in COLUMNS1}, "run": groups,
            "note": paper.NOTES["table1"]}


def table2(cells: Cells) -> dict[str, Any]:
    """Table 2: clips correctly classified by video only / head motion only / both / neither (counts; seeds:
    mean), for the run's verbs, and over all test clips (``all``, from ``correct_by_all``)."""
    groups = []
    for group in cells.get((1, "supervised"), []):
        g = group_json(group)
        g["rows"] = _verb_rows(group, "correct_by", COLUMNS2, False, paper.TABLE2)
        g["all"] = {}
        for c in COLUMNS2:
            samples = [group.sample(e, (e.result.get("correct_by_all") or {}).get(c), None, None)
                       for e in group.entries]
            g["all"][c] = aggregate(samples).as_json()
        groups.append(g)
    return {"metric": "clips correctly classified (count)", "columns": list(COLUMNS2), "run": groups}


def table3(cells: Cells) -> dict[str, Any]:
    """Table 3: correspondence ROC-AUC (%), cells (video_cnn, pretrained_on): the paper's four, then any other
    the run has (random init, other, unspecified)."""
    keys = {tuple(cell.split("/", 1)) for (t, cell) in cells if t == 3}
    keys |= {(v, p) for v, row in paper.TABLE3.items() for p in row}
    out = []
    for video_cnn, pretrained in sorted(keys, key=lambda k: (order(k[1], PRETRAINED_ORDER),
                                                              order(k[0], VIDEO_CNN_ORDER))):
        out.append({"video_cnn": video_cnn, "pretrained_on": pretrained,
                    "paper": paper.TABLE3.get(video_cnn, {}).get(pretrained),
                    "run": [group_json(g, "roc_auc") for g in cells.get((3, f"{video_cnn}/{pretrained}"), [])]})
    return {"metric": "roc_auc (%)", "cells": out}


def _probe_table(cells: Cells, table: int, paper_rows: dict[str, float], always: tuple[str, ...]) -> dict[str, Any]:
    """Tables 4 and 5: top-1 (%) by representation; the paper's rows, ``always`` rows, then any other. Each group
    also holds ``more``: EPIC's top-5 and mean class accuracy (%) where the results have them (the probe's)."""
    reps = {cell for (t, cell) in cells if t == table} | set(paper_rows) | set(always)
    rows = []
    for rep in sorted(reps, key=lambda r: order(r, REPRESENTATION_ORDER)):
        groups = []
        for g in cells.get((table, rep), []):
            gj = group_json(g, "top1")
            gj["more"] = {m: g.metric(m).scaled(PCT).as_json() for m in EXTRA_PROBE_METRICS}
            spreads = [{"seed": p["seed"], **(e.result.get("spread") or {})}
                       for p, e in zip(gj["metric"]["per_seed"], g.entries) if e.result.get("spread")]
            if spreads:
                gj["spread"] = spreads
            groups.append(gj)
        rows.append({"representation": rep, "name": paper.REPRESENTATION_NAMES.get(rep, rep),
                     "paper": paper_rows.get(rep), "run": groups})
    return {"metric": "top1 (%)", "rows": rows}


def table4(cells: Cells) -> dict[str, Any]:
    """Table 4: linear-probe accuracy (%) on EPIC-KITCHENS verbs; the run adds random init."""
    return {**_probe_table(cells, 4, paper.TABLE4, ("random",)), "note": paper.NOTES["table4"]}


def table5(cells: Cells) -> dict[str, Any]:
    """Table 5: DogCentric linear-probe accuracy (%); the run adds random init, and supervised where present."""
    return {**_probe_table(cells, 5, paper.TABLE5, ("random",)), "note": paper.NOTES["table5"]}


def all_tables(cells: Cells) -> dict[str, dict[str, Any]]:
    """{"table1": ..., ..., "table5": ...}."""
    return {"table1": table1(cells), "table2": table2(cells), "table3": table3(cells), "table4": table4(cells),
            "table5": table5(cells)}


def all_metrics(cells: Cells) -> list[dict[str, Any]]:
    """Every condition group with every metric of its results, in the results' units (no scaling)."""
    out = []
    for (table, cell), groups in cells.items():
        for g in groups:
            names = sorted({m for e in g.entries for m in e.result["metrics"]})
            gj = group_json(g)
            gj.update({"table": table, "cell": cell, "evaluation": g.entries[0].result["evaluation"],
                       "metrics": {m: g.metric(m).as_json() for m in names}})
            out.append(gj)
    return out
