"""Number formatting shared by the report's Markdown, HTML and stdout: one style everywhere.

A run value is an aggregate dict ``{value, low, high, std, k, per_seed}`` (:class:`egoimu.train.report.cells.Agg`
as JSON). One seed: ``"91.20 [89.00, 93.10]"``; several: ``"91.20 ± 1.10 [88.90, 93.40] (2 seeds: 90.42,
91.98)"``, the bracket being the envelope of the per-seed CIs.
"""

from __future__ import annotations

from typing import Any

NOT_RUN = "not run"


def number(x: float | None, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals, "n/a" for None."""
    return "n/a" if x is None else f"{x:.{digits}f}"


def paper_value(x: float | int | None, digits: int = 2) -> str:
    """A paper number as printed ("—" where the paper has none)."""
    if x is None:
        return "—"
    return str(x) if isinstance(x, int) else f"{x:.{digits}f}"


def agg(a: dict[str, Any] | None, digits: int = 2, seeds: bool = True) -> str:
    """A run value: mean, ± std over seeds, [CI], per-seed values; "not run" for none (``k`` 0 or None)."""
    if not a or not a.get("k"):
        return NOT_RUN
    if a.get("value") is None:
        return "n/a"
    text = number(a["value"], digits)
    if a.get("std") is not None:
        text += f" ± {number(a['std'], digits)}"
    if a.get("low") is not None and a.get("high") is not None:
        text += f" [{number(a['low'], digits)}, {number(a['high'], digits)}]"
    if a["k"] > 1 and seeds:
        per = ", ".join(number(p["value"], digits) for p in a.get("per_seed") or [])
        text += f" ({a['k']} seeds: {per})"
    return text


def groups(run: list[dict[str, Any]], digits: int = 2) -> list[str]:
    """One line per condition group of a cell (``[{"metric": ...}]``); ["not run"] for none."""
    if not run:
        return [NOT_RUN]
    if len(run) == 1:
        return [agg(run[0]["metric"], digits)]
    return [f"{agg(g['metric'], digits)} ({condition_tag(g['conditions'])})" for g in run]


def condition_tag(cond: dict[str, Any]) -> str:
    """A short tag telling condition groups apart: data directory name, split, N, step."""
    data = str(cond.get("data") or "?").rstrip("/").rsplit("/", 1)[-1]
    return f"{data}, {cond.get('split')}, N={cond.get('n')}, step {cond.get('step')}"


def conditions(cond: dict[str, Any]) -> str:
    """The conditions of a group in one line: data, split, N, step, seeds, model, objective, video CNN."""
    parts = [f"data `{cond.get('data')}`", f"split {cond.get('split')}", f"N={cond.get('n')}"]
    if "step" in cond:
        parts.append(f"step {cond.get('step')}")
    seeds = cond.get("seeds") or []
    parts.append(f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}")
    for key in ("model", "objective"):
        if cond.get(key) is not None:
            parts.append(f"{key} {cond[key]}")
    if cond.get("freeze_video") is not None:
        parts.append("video CNN frozen" if cond["freeze_video"] else "video CNN updated")
    if cond.get("init_video"):
        parts.append(f"init `{cond['init_video']}`")
    for key, what in (("init_provenance", "init provenance"), ("provenance", "provenance")):
        if cond.get(key):
            parts.append(f"{what}: {cond[key]}")
    synthetic = cond.get("synthetic")
    parts.append({True: "synthetic data", False: "real data"}.get(synthetic, "data source unknown"))
    return ", ".join(parts)
