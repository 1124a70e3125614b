"""Build the report: collect -> cells -> tables and claims -> plots -> report.md, report.html, report.json.

report.json (``REPORT_SCHEMA``) holds, sorted and without timestamps (same inputs, same bytes):

- ``schema``, ``title``;
- ``inputs``: ``dirs``, ``results`` [{file, evaluation, table, label, seed}], ``runs`` [run names];
- ``data_source``: ``status`` synthetic|real|unknown|mixed, ``generators``, ``files`` per kind,
  ``signal_tables`` (what a synthetic generator builds in);
- ``paper``: the paper's numbers (:func:`egoimu.train.report.paper.as_json`);
- ``tables``: ``table1`` .. ``table5``, the run's numbers beside the paper's (:mod:`egoimu.train.report.tables`);
- ``claims``: [{id, table, statement, basis, verdict, significant, comparisons}, substitute_for for a substitute]
  (:mod:`egoimu.train.report.claims`);
- ``metrics``: every metric of every condition group; ``runs``: the training runs' summaries;
- ``plots``: [{file, kind, title, source}]; ``notes``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from egoimu.train.report import layout, paper, render
from egoimu.train.report.cells import ENVELOPE_NOTE, Cells, group_cells
from egoimu.train.report.claims import check_claims
from egoimu.train.report.collect import Collected, collect
from egoimu.train.report.plots import all_plots
from egoimu.train.report.source import data_source, source_blocks
from egoimu.train.report.tables import all_metrics, all_tables

REPORT_SCHEMA = "egoimu.report/1"
DEFAULT_TITLE = "egoimu report: How You Move Your Head Tells What You Do, reproduced"


@dataclass(frozen=True)
class Report:
    """A written report: its directory, report.json's content and the paths written."""

    out: Path
    data: dict[str, Any]
    files: list[Path]

    @property
    def markdown(self) -> Path:
        """report.md's path."""
        return self.out / "report.md"


def report_data(found: Collected, cells: Cells, title: str, plots: list[dict[str, Any]]) -> dict[str, Any]:
    """report.json's content for ``found`` and its cells (:func:`group_cells`; plots already written)."""
    tables = all_tables(cells)
    return {
        "schema": REPORT_SCHEMA,
        "title": title,
        "inputs": {"dirs": [str(d) for d in found.dirs],
                   "results": [{"file": str(e.path), "evaluation": e.result["evaluation"], "table": e.result["table"],
                                "label": e.result["label"], "seed": e.conditions.get("seed")} for e in found.entries],
                   "runs": [r.name for r in found.runs]},
        "data_source": data_source(found.entries),
        "paper": paper.as_json(),
        "tables": tables,
        "claims": check_claims(tables),
        "metrics": all_metrics(cells),
        "runs": [r.summary() for r in found.runs],
        "plots": plots,
        "notes": {"units": "tables: percent (Table 2: counts); metrics: the results' own units (fractions)",
                  "seeds": ENVELOPE_NOTE,
                  "table1_intervals": "run per-verb intervals: 95 % Wilson score intervals on the verb's clips"},
    }


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def document(data: dict[str, Any]) -> list[render.Block]:
    """The report's blocks, top to bottom."""
    t = data["tables"]
    inputs = data["inputs"]
    intro = render.Para(
        f"Paper: {paper.SOURCE}. Inputs: " + ", ".join(f"`{d}`" for d in inputs["dirs"])
        + f" ({_plural(len(inputs['results']), 'result file')}, {_plural(len(inputs['runs']), 'training run')}). "
        "The paper's numbers stand beside the run's; a cell the run did not evaluate reads \"not run\".")
    return [
        render.Heading(data["title"], 1),
        *source_blocks(data["data_source"]),
        intro,
        *layout.claims_blocks(data["claims"]),
        *layout.table1_blocks(t["table1"]),
        *layout.table2_blocks(t["table2"]),
        *layout.table3_blocks(t["table3"]),
        *layout.probe_blocks("Table 4: linear probe on EPIC-KITCHENS verbs, top-1 (%)", t["table4"]),
        *layout.probe_blocks("Table 5: linear probe on DogCentric activities, top-1 (%)", t["table5"]),
        *layout.plots_blocks(data["plots"], ("roc", "confusion"), "Evaluation plots"),
        *layout.runs_blocks(data["runs"], data["plots"]),
        *layout.metrics_blocks(data["metrics"]),
        *layout.notes_blocks(),
    ]


def write_report(dirs: list[str | Path], out: str | Path, title: str = DEFAULT_TITLE) -> Report:
    """Collect everything under ``dirs`` and write report.md, report.html, report.json and the PNGs to ``out``.

    Raises :class:`egoimu.train.report.collect.ReportError` for unusable inputs (nothing is written then).
    """
    found = collect(list(dirs))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cells = group_cells(found.entries)
    plots = all_plots(found.runs, cells, out)
    data = report_data(found, cells, title, plots)
    blocks = document(data)
    files = [out / "report.md", out / "report.html", out / "report.json"]
    files[0].write_text(render.to_markdown(blocks), encoding="utf-8")
    files[1].write_text(render.to_html(blocks, title), encoding="utf-8")
    files[2].write_text(json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
    return Report(out, data, files + [out / p["file"] for p in plots])
