"""The paper's claims (:data:`egoimu.train.report.paper.CLAIMS`) checked on the run's numbers.

Each claim is one or more comparisons of two run values (percent). A claim "holds" when every comparison
holds on the values (the means over seeds), "does not hold" when one fails, and is "not run" when a value is
missing — "not checked" for the paper's Kinetics comparisons (a, b, e) when the inputs hold no Kinetics result
(a representation is Kinetics only when the user named it so, ``--init-name kinetics400``). Each claim carries
its ``basis``: "paper" (the paper's own comparison) or "substitute" (egoimu's stand-in, ``<id>-sub``, against
random init or the supervised EPIC-KITCHENS init) and, for a substitute, ``substitute_for``.

Each comparison also says whether the two 95 % intervals overlap: if they do, the difference is not
significant at this size, whichever way it goes.

When a cell holds several condition groups (different data, steps), the pair compared is the one on the
same data with the most results; the claim's text says when there was a choice.
"""

from __future__ import annotations

from typing import Any

from egoimu.train.report import fmt, paper

HOLDS, FAILS, NOT_RUN, NOT_CHECKED = "holds", "does not hold", "not run", "not checked"
#: The paper's claims whose other side is a Kinetics-supervised result.
KINETICS_CLAIMS = ("a", "b", "e")
NO_KINETICS = ("not checked: no Kinetics-supervised result among the inputs (a pytorchvideo checkpoint counts as "
               "Kinetics only when named so: --init-name kinetics400)")
RELATIONS = {">": lambda a, b: a > b, "<": lambda a, b: a < b, ">=": lambda a, b: a >= b}


def _side(label: str, metric: dict[str, Any] | None, paper_value: float | None) -> dict[str, Any]:
    m = metric or {}
    return {"label": label, "value": m.get("value"), "low": m.get("low"), "high": m.get("high"),
            "std": m.get("std"), "k": m.get("k") or 0, "per_seed": m.get("per_seed") or [], "paper": paper_value}


def overlap(a: dict[str, Any], b: dict[str, Any]) -> bool | None:
    """Whether the intervals [low, high] of ``a`` and ``b`` overlap (None when either has none)."""
    if None in (a.get("low"), a.get("high"), b.get("low"), b.get("high")):
        return None
    return not (a["high"] < b["low"] or b["high"] < a["low"])


def compare(name: str, a: dict[str, Any], relation: str, b: dict[str, Any], choice: str = "") -> dict[str, Any]:
    """One comparison ``a relation b`` of two sides (:func:`_side`): holds (None if a value is missing),
    ci_overlap, the difference a - b, and a sentence."""
    known = a["value"] is not None and b["value"] is not None
    holds = RELATIONS[relation](a["value"], b["value"]) if known else None
    ov = overlap(a, b) if known else None
    out = {"name": name, "a": a, "relation": relation, "b": b, "holds": holds, "ci_overlap": ov,
           "difference": round(a["value"] - b["value"], 6) if known else None}
    if not known:
        missing = " and ".join(s["label"] for s in (a, b) if s["value"] is None)
        out["text"] = f"{name}: not run ({missing} missing)."
        return out
    verdict = "holds" if holds else "does NOT hold"
    text = (f"{name}: {a['label']} {fmt.agg(a)} {relation} {b['label']} {fmt.agg(b)}? {verdict} "
            f"(difference {a['value'] - b['value']:+.2f} points).")
    if ov is True:
        text += " The intervals overlap: the difference is not significant at this size."
    elif ov is False:
        text += " The intervals do not overlap."
    else:
        text += " No interval for one side: significance not assessed."
    out["text"] = text + choice
    return out


def _pick(a_groups: list[dict[str, Any]], b_groups: list[dict[str, Any]]) -> tuple[Any, Any, str]:
    """The pair of condition groups to compare (same data first, then the most results, then order)."""
    if not a_groups or not b_groups:
        return (a_groups or [None])[0], (b_groups or [None])[0], ""
    best = max(((ga.get("conditions", {}).get("data") == gb.get("conditions", {}).get("data"),
                 len(ga["files"]) + len(gb["files"]), -i, -j, i, j)
                for i, ga in enumerate(a_groups) for j, gb in enumerate(b_groups)))
    ga, gb = a_groups[best[4]], b_groups[best[5]]
    choice = ""
    if len(a_groups) > 1 or len(b_groups) > 1:
        choice = (f" (several condition sets: compared {fmt.condition_tag(ga['conditions'])} with "
                  f"{fmt.condition_tag(gb['conditions'])})")
    return ga, gb, choice


def _cells(name: str, a_label: str, a: dict[str, Any], relation: str, b_label: str,
           b: dict[str, Any]) -> dict[str, Any]:
    """Compare two table cells ``{"paper", "run": [groups]}`` on their ``metric``."""
    ga, gb, choice = _pick(a["run"], b["run"])
    return compare(name, _side(a_label, ga and ga["metric"], a["paper"]), relation,
                   _side(b_label, gb and gb["metric"], b["paper"]), choice)


def _row(rows: list[dict[str, Any]], key: str, value: str) -> dict[str, Any]:
    return next((r for r in rows if r[key] == value), {"paper": None, "run": []})


def _claim_d(t1: dict[str, Any]) -> list[dict[str, Any]]:
    """Ensemble >= video over the top-5 average and overall, on the Table 1 group with the most results."""
    groups = sorted(t1["run"], key=lambda g: -len(g["files"]))
    g = groups[0] if groups else None
    note = "" if len(groups) <= 1 else f" (several condition sets: used {fmt.condition_tag(g['conditions'])})"
    avg, overall = (g or {}).get("top5_average", {}), (g or {}).get("overall", {})
    pavg = t1["paper_top5_average"]
    return [
        compare("top-5 average", _side("ensemble", avg.get("ensemble"), pavg["ensemble"]), ">=",
                _side("video", avg.get("video"), pavg["video"]), note),
        compare("overall", _side("ensemble", overall.get("ensemble"), None), ">=",
                _side("video", overall.get("video"), None), note),
    ]


def check_claims(tables: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The claims of :data:`paper.CLAIMS` (the paper's a-e, the substitutes a-sub, b-sub, e-sub) on ``tables``
    (:func:`egoimu.train.report.tables.all_tables`)."""
    t3 = tables["table3"]["cells"]
    t4, t5 = tables["table4"]["rows"], tables["table5"]["rows"]

    def cell3(video_cnn: str, pretrained_on: str) -> dict[str, Any]:
        return next(c for c in t3 if c["video_cnn"] == video_cnn and c["pretrained_on"] == pretrained_on)

    def table3_claim(init: str) -> list[dict[str, Any]]:
        return [_cells("ROC-AUC", "update", cell3("update", init), ">", "freeze", cell3("freeze", init))]

    def probe_claim(rows: list[dict[str, Any]], name: str, other: str, relation: str = ">") -> list[dict[str, Any]]:
        label = {"kinetics": "Kinetics-supervised", "random": "random init", "supervised": "fully supervised"}
        return [_cells(name, "self-supervised", _row(rows, rep, "self-supervised"), relation, label[other],
                       _row(rows, rep, other))]

    rep = "representation"
    comparisons = {
        "a": table3_claim("kinetics"), "a-sub": table3_claim("supervised"),
        "b": probe_claim(t4, "probe top-1", "kinetics"), "b-sub": probe_claim(t4, "probe top-1", "random"),
        "c": probe_claim(t4, "probe top-1", "supervised", "<"),
        "d": _claim_d(tables["table1"]),
        "e": probe_claim(t5, "DogCentric top-1", "kinetics"), "e-sub": probe_claim(t5, "DogCentric top-1", "random"),
    }
    out = []
    for cid, (table, statement, basis) in paper.CLAIMS.items():
        comps = comparisons[cid]
        if any(c["holds"] is None for c in comps):
            no_kinetics = cid in KINETICS_CLAIMS and any(c["b"]["value"] is None for c in comps)
            verdict = NOT_CHECKED if no_kinetics else NOT_RUN
            if no_kinetics:
                for c in comps:
                    c["text"] = f"{c['name']}: {NO_KINETICS}."
        else:
            verdict = HOLDS if all(c["holds"] for c in comps) else FAILS
        claim = {"id": cid, "table": table, "statement": statement, "basis": basis, "verdict": verdict,
                 "significant": _significant(comps, verdict), "comparisons": comps}
        if basis == paper.SUBSTITUTE:
            claim["substitute_for"] = cid.removesuffix("-sub")
        out.append(claim)
    return out


def _significant(comps: list[dict[str, Any]], verdict: str) -> bool | None:
    """True when every comparison's intervals are disjoint; False when one overlaps; None if unknown/not run."""
    if verdict in (NOT_RUN, NOT_CHECKED) or any(c["ci_overlap"] is None for c in comps):
        return None
    return not any(c["ci_overlap"] for c in comps)
