"""Where the evaluated data came from: synthetic, real or unknown (``conditions.synthetic``), and what a
synthetic generator builds in (``conditions.signals``), for the box at the top of the report.
"""

from __future__ import annotations

import json
from typing import Any

from egoimu.train.report import render
from egoimu.train.report.collect import Entry

SYNTHETIC_TITLE = "SYNTHETIC DATA: these numbers are no evidence about the method on real data"
UNKNOWN_TITLE = "DATA SOURCE UNKNOWN: some results do not record whether their data is synthetic"


def data_source(entries: list[Entry]) -> dict[str, Any]:
    """report.json's ``data_source``: ``status`` "synthetic" | "real" | "unknown" | "mixed", the files of each
    kind, the generators and the distinct signal tables (with the data directories that carry them)."""
    kinds: dict[str, list[str]] = {"synthetic": [], "real": [], "unknown": []}
    signals: dict[str, dict[str, Any]] = {}
    for e in entries:
        flag = e.conditions.get("synthetic")
        kind = {True: "synthetic", False: "real"}.get(flag, "unknown")
        kinds[kind].append(str(e.path))
        if flag is True:
            table = e.conditions.get("signals")
            key = json.dumps(table, sort_keys=True)
            rec = signals.setdefault(key, {"generator": e.conditions.get("generator"), "signals": table, "data": []})
            data = str(e.conditions.get("data"))
            if data not in rec["data"]:
                rec["data"] = sorted([*rec["data"], data])
    present = [k for k, files in kinds.items() if files]
    status = present[0] if len(present) == 1 else "mixed"
    generators = sorted({str(e.conditions.get("generator")) for e in entries if e.conditions.get("synthetic") is True})
    return {"status": status, "generators": generators, "files": kinds,
            "signal_tables": [signals[k] for k in sorted(signals)]}


def _strength(desc: dict[str, Any], what: str) -> str:
    """ "strong: pitch down ..." from a signals row's ``head``/``head_strength`` (or ``video``...)."""
    strength = desc.get(f"{what}_strength")
    kind = desc.get(f"{what}_kind")
    label = ", ".join(str(x) for x in (kind, strength) if x)
    text = str(desc.get(what) or "none")
    return f"{label}: {text}" if label else text


def signals_table(signals: Any) -> render.Block:
    """A compact table of what a synthetic generator builds in: per verb (or activity) the head motion and the
    visual signal with their strengths; a paragraph when the table is missing or not {name: {...}}."""
    if not isinstance(signals, dict) or not signals:
        return render.Para("The generator's table of built-in signals is not recorded in these results.")
    rows = []
    for name in sorted(signals):
        desc = signals[name] if isinstance(signals[name], dict) else {"head": str(signals[name])}
        rows.append([f"**{name}**", _strength(desc, "head"), _strength(desc, "video")])
    header = ["verb", "head motion built in (strength: what)", "visual signal built in (kind, strength: what)"]
    return render.Table(header, rows)


def source_blocks(src: dict[str, Any]) -> list[render.Block]:
    """The box(es) for the top of the report: synthetic data, unknown source; a plain line for real data."""
    files = src["files"]
    n = sum(len(v) for v in files.values())
    out: list[render.Block] = []
    if files["synthetic"]:
        gens = ", ".join(f"`{g}`" for g in src["generators"])
        blocks: list[render.Block] = [render.Para(
            f"{len(files['synthetic'])} of {n} results were computed on **synthetic data** written by {gens}. "
            "The generator builds the signal in: the verbs below are given the head motion and the visual cue "
            "listed, so a model can only find what was put there. These numbers check that the code runs and "
            "finds a planted signal; they are **no evidence about the method on real egocentric video and "
            "IMU data**, and they are not comparable with the paper's numbers beside them.")]
        for table in src["signal_tables"]:
            blocks.append(render.Para(f"Built in by `{table['generator']}` (data: "
                                      + ", ".join(f"`{d}`" for d in table["data"]) + "):"))
            blocks.append(signals_table(table["signals"]))
        if files["real"] or files["unknown"]:
            blocks.append(render.Para("Only these results are synthetic: "
                                      + ", ".join(f"`{f}`" for f in files["synthetic"])))
        out.append(render.Box(SYNTHETIC_TITLE, blocks))
    if files["unknown"]:
        out.append(render.Box(UNKNOWN_TITLE, [render.Para(
            f"{len(files['unknown'])} of {n} results have `synthetic: null` in their conditions (a build from "
            "before manifest.json recorded its source): the data may be synthetic or real, and the report cannot "
            "tell. Results: " + ", ".join(f"`{f}`" for f in files["unknown"]))]))
    if src["status"] == "real":
        out.append(render.Para("Data: every result records real (not synthetic) data in its conditions."))
    return out
