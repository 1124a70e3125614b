"""The report as document blocks (:mod:`egoimu.train.report.render`): Tables 1-5 laid out like the paper's with the
paper's numbers beside the run's, the claims, the plots, the training runs and every metric."""

from __future__ import annotations

from typing import Any

from egoimu.train.report import fmt, paper
from egoimu.train.report.cells import ENVELOPE_NOTE
from egoimu.train.report.render import Block, Bullets, Cell, Heading, Image, Para, Table
from egoimu.train.report.tables import EXTRA_PROBE_METRICS, VIDEO_CNN_ORDER, order

COLUMN_NAMES = {"video": "Video", "imu": "Head-motion", "ensemble": "Ensemble", "video_only": "Video only",
                "imu_only": "Head-motion only", "both": "Both", "neither": "Neither"}
NOT_IN_TOP5 = "not in the run's top 5"
EXTRA_NAMES = {"top5": "top-5", "mean_class": "mean class acc."}


def _count(a: dict[str, Any] | None) -> str:
    """A count (one seed) or a mean count over seeds (one decimal)."""
    return fmt.agg(a, digits=0 if (a or {}).get("k") == 1 else 1)


def _conditions(items: list[tuple[str, list[dict[str, Any]]]]) -> list[Block]:
    """"Conditions" bullets: per named cell, each condition group's conditions and result labels."""
    bullets = []
    for name, groups in items:
        for g in groups:
            line = f"**{name}**: {fmt.conditions(g['conditions'])}; result: {', '.join(g['labels'])}"
            for s in g.get("spread") or []:
                line += (f"; seed {s['seed']}: spread over the dog pairings std {fmt.number(s.get('std'), 3)}, "
                         f"min {fmt.number(s.get('min'), 3)}, max {fmt.number(s.get('max'), 3)}")
            bullets.append(line)
    return [Para("Conditions:"), Bullets(bullets)] if bullets else []


def _paired_header(first: list[str], columns: tuple[str, ...] | list[str]) -> list[str]:
    return first + [f"{COLUMN_NAMES[c]} ({who})" for c in columns for who in ("paper", "run")]


def _verb_table(group: dict[str, Any] | None, columns: list[str], value: Any, paper_table: dict[str, Any],
                digits: int = 2) -> list[list[Cell]]:
    """Rows of Table 1 or 2 for one condition group (None: the paper's verbs with the paper's numbers from
    ``paper_table``, run "not run")."""
    rows: list[list[Cell]] = []
    verbs = group["rows"] if group else [{"verb": v, "in_run": False, "paper": paper_table[v]} for v in paper.VERBS]
    for row in verbs:
        cells: list[Cell] = [row["verb"] + (f" (N={row['n']})" if row.get("n") is not None else "")]
        for c in columns:
            cells.append(fmt.paper_value((row["paper"] or {}).get(c), digits))
            if not group:
                cells.append(fmt.NOT_RUN)
            else:
                cells.append(value(row[c]) if row["in_run"] else NOT_IN_TOP5)
        rows.append(cells)
    return rows


def table1_blocks(t1: dict[str, Any]) -> list[Block]:
    """Table 1: per-verb accuracy (%), with the top-5 average and overall accuracy rows."""
    cols = t1["columns"]
    out: list[Block] = [Heading("Table 1: video vs head-motion vs ensemble, per-verb accuracy (%)")]
    groups = t1["run"] or [None]
    for g in groups:
        rows = _verb_table(g, cols, fmt.agg, paper.TABLE1)
        for label, key, paper_row in (("Average (top 5)", "top5_average", t1["paper_top5_average"]),
                                      ("Overall top-1 (all test clips)", "overall", {}),
                                      ("Overall top-5 accuracy", "overall_top5", {}),
                                      ("Mean class accuracy", "mean_class", {})):
            cells: list[Cell] = [f"**{label}**"]
            for c in cols:
                cells += [fmt.paper_value(paper_row.get(c)), fmt.agg(g[key][c]) if g else fmt.NOT_RUN]
            rows.append(cells)
        caption = "Run: its own five most frequent test verbs; paper: Take, Put, Wash, Open, Close"
        if g and len(t1["run"]) > 1:
            caption += f" ({fmt.condition_tag(g['conditions'])})"
        out.append(Table(_paired_header(["Verb"], cols), rows, caption))
    out.append(Para("Run per-verb intervals: 95 % Wilson intervals on the verb's test clips; overall: bootstrap. "
                    "Top-5 accuracy (the verb among the 5 most probable) and mean class accuracy (the mean of the "
                    "per-verb accuracies over every test verb) are EPIC-KITCHENS' standard verb metrics; the paper "
                    "reports neither. " + t1["note"]))
    return out + _conditions([("supervised classifiers", t1["run"])])


def table2_blocks(t2: dict[str, Any]) -> list[Block]:
    """Table 2: clips correctly classified by video only / head motion only / both / neither."""
    cols = t2["columns"]
    out: list[Block] = [Heading("Table 2: clips correctly classified by video only, head motion only, both, neither")]
    for g in t2["run"] or [None]:
        rows = _verb_table(g, cols, _count, paper.TABLE2, 0)
        cells: list[Cell] = ["**All test clips**"]
        for c in cols:
            cells += ["—", _count(g["all"][c]) if g else fmt.NOT_RUN]
        rows.append(cells)
        out.append(Table(_paired_header(["Verb"], cols), rows, "Counts of test clips (several seeds: mean ± std)"))
    return out + _conditions([("supervised classifiers", t2["run"])])


def table3_blocks(t3: dict[str, Any]) -> list[Block]:
    """Table 3: ROC-AUC (%), rows freeze / update video CNN, columns by the video CNN's pretraining."""
    cells = t3["cells"]
    pretrained = list(dict.fromkeys(c["pretrained_on"] for c in cells))
    video_cnns = sorted({c["video_cnn"] for c in cells}, key=lambda v: order(v, VIDEO_CNN_ORDER))
    header = ["Video CNN"]
    for p in pretrained:
        name = paper.PRETRAINED_NAMES.get(p, p)
        header += [f"{name} (paper)", f"{name} (run)"] if p in ("kinetics", "supervised") else [f"{name} (run)"]
    rows: list[list[Cell]] = []
    named = []
    for v in video_cnns:
        row: list[Cell] = [paper.VIDEO_CNN_NAMES.get(v, v)]
        for p in pretrained:
            cell = next((c for c in cells if c["video_cnn"] == v and c["pretrained_on"] == p),
                        {"paper": None, "run": []})
            if p in ("kinetics", "supervised"):
                row.append(fmt.paper_value(cell["paper"]))
            row.append(fmt.groups(cell["run"]))
            named.append((f"{paper.VIDEO_CNN_NAMES.get(v, v)} / {paper.PRETRAINED_NAMES.get(p, p)}", cell["run"]))
        rows.append(row)
    return [Heading("Table 3: correspondence ROC-AUC (%), video vs head motion"),
            Table(header, rows, "The run's supervised pretraining fills the paper's EPIC-KITCHENS column; "
                                "the head-motion CNN is always updated"),
            *_conditions(named)]


def probe_blocks(title: str, t: dict[str, Any]) -> list[Block]:
    """Tables 4 and 5: top-1 (%) by representation, paper beside run."""
    more = [m for m in EXTRA_PROBE_METRICS
            if any(g["more"][m]["value"] is not None for r in t["rows"] for g in r["run"])]
    rows: list[list[Cell]] = []
    for r in t["rows"]:
        rows.append([r["name"], fmt.paper_value(r["paper"]), fmt.groups(r["run"]),
                     *(fmt.groups([{**g, "metric": g["more"][m]} for g in r["run"]]) for m in more)])
    header = ["Representation", "Paper", "Run top-1", *(f"Run {EXTRA_NAMES[m]}" for m in more)]
    notes = t["note"] + (" Top-5 and mean class accuracy: EPIC-KITCHENS' standard verb metrics (the paper gives "
                         "top-1 only)." if more else "")
    return [Heading(title), Table(header, rows), Para(notes),
            *_conditions([(r["name"], r["run"]) for r in t["rows"]])]


def basis_text(claim: dict[str, Any]) -> str:
    """"paper", or "substitute for (a)" for egoimu's stand-in."""
    if claim.get("substitute_for"):
        return f"substitute for ({claim['substitute_for']})"
    return str(claim.get("basis", "paper"))


def claims_blocks(claims: list[dict[str, Any]]) -> list[Block]:
    """The claims: a verdict table, then each claim's comparisons in words."""
    rows: list[list[Cell]] = []
    detail: list[str] = []
    for c in claims:
        sig = {True: "yes", False: "no: intervals overlap", None: "—"}[c["significant"]]
        verdict = c["verdict"] if c["verdict"] != "does not hold" else "**does not hold**"
        rows.append([f"({c['id']})", f"Table {c['table']}", c["statement"], basis_text(c), verdict, sig])
        for comp in c["comparisons"]:
            prefix = f"({c['id']}) " + ("**does not hold** — " if comp["holds"] is False else "")
            detail.append(prefix + comp["text"])
    return [Heading("Claims"),
            Para("Each of the paper's claims checked on the run's numbers (means over seeds; 95 % intervals). "
                 "A claim holds when every comparison holds; overlapping intervals mean the difference is not "
                 "significant at this size. Basis \"paper\": the paper's own comparison (Tables 4-5: "
                 "self-supervised vs Kinetics-supervised; Table 3: update vs freeze from a Kinetics init), "
                 "\"not checked\" when the inputs hold no Kinetics result (a checkpoint counts as Kinetics only "
                 "when the user named it so, --init-name). \"Substitute\": egoimu's stand-in against random init "
                 "or the supervised EPIC-KITCHENS init — not the paper's claim."),
            Table(["", "Table", "Claim", "Basis", "Verdict", "Significant"], rows), Bullets(detail)]


def plots_blocks(plots: list[dict[str, Any]], kinds: tuple[str, ...], title: str) -> list[Block]:
    """The plots of the given kinds, each under its title."""
    chosen = [p for p in plots if p["kind"] in kinds]
    if not chosen:
        return []
    out: list[Block] = [Heading(title)]
    for p in chosen:
        out += [Para(f"**{p['title']}** (`{p['file']}`)"), Image(p["file"], p["title"])]
    return out


def runs_blocks(runs: list[dict[str, Any]], plots: list[dict[str, Any]]) -> list[Block]:
    """The training runs: settings, last loss and validation numbers, then their curves."""
    out: list[Block] = [Heading("Training runs")]
    if not runs:
        return out + [Para("No training run (a directory with config.json and metrics.jsonl) under the inputs.")]
    header = ["Run", "Objective", "Model", "Steps", "Seed", "Batch", "Video CNN", "Last loss", "Best val",
              "Data"]
    rows: list[list[Cell]] = []
    for r in runs:
        val = [f"{k.removeprefix('best_val_')} {fmt.number(r[k], 3)}"
               for k in ("best_val_roc_auc", "best_val_roc_auc_all_pairs", "best_val_top1") if r.get(k) is not None]
        video = "frozen" if r.get("freeze_video") else "updated"
        if r.get("init_video"):
            video += f", init `{r['init_video']}`"
        rows.append([r["name"], r["objective"], str(r.get("model")), f"{r.get('last_step')}/{r.get('steps')}",
                     str(r.get("seed")), str(r.get("batch_size")), video, fmt.number(r.get("last_loss"), 4),
                     ", ".join(val) or "—", f"`{r.get('data_root')}`"])
    out.append(Table(header, rows))
    return out + plots_blocks(plots, ("curves", "run"), "Training curves")[1:]


def metrics_blocks(metrics: list[dict[str, Any]]) -> list[Block]:
    """Every metric of every condition group, in the results' own units (fractions)."""
    rows: list[list[Cell]] = []
    for g in metrics:
        for name, m in g["metrics"].items():
            rows.append([f"Table {g['table']}", g["cell"], fmt.condition_tag(g["conditions"]), name,
                         fmt.agg(m, digits=3)])
    return [Heading("All metrics"), Para("Every metric of every result, as fractions (not percent)."),
            Table(["Table", "Cell", "Conditions", "Metric", "Value [95 % CI]"], rows)]


def notes_blocks() -> list[Block]:
    """How the numbers are made."""
    return [Heading("Notes"), Bullets([
        "Paper: " + paper.SOURCE + ". Its numbers are copied from Tables 1-5 (percent; Table 2: counts).",
        "Run numbers: percent in Tables 1, 3, 4, 5 (results hold fractions); 95 % bootstrap CIs from the "
        "evaluations unless stated.",
        ENVELOPE_NOTE,
        "A cell the run did not evaluate reads \"not run\"; nothing is filled in.",
    ])]
