"""``egoimu report RUN_DIR... --out DIR [--title T]``: the paper's Tables 1-5 and claims from evaluation results.

Reads every ``eval-*.json`` (:mod:`egoimu.train.eval.results`) and every training run (``config.json`` +
``metrics.jsonl``) under the given directories; writes ``report.md``, ``report.html``, ``report.json`` and PNG
plots into DIR; prints the report's path, the headline numbers of Tables 3-5 and the claims' verdicts.
Exit status 0, or 2 for unusable inputs (no results, a bad result file: the message names it).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from egoimu.manifests.clihelp import HelpFormatter, OneLineParser
from egoimu.train.report import fmt, paper
from egoimu.train.report.build import DEFAULT_TITLE, Report, write_report
from egoimu.train.report.collect import ReportError
from egoimu.train.report.layout import basis_text


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = OneLineParser(
        formatter_class=HelpFormatter,
        prog="egoimu report",
        description="Report the paper's Tables 1-5 and claims from `egoimu eval` results (eval-*.json) and "
                    "training runs found under RUN_DIR..., beside the paper's numbers.")
    p.add_argument("dirs", nargs="+", metavar="RUN_DIR", help="directories (searched recursively) or result files")
    p.add_argument("--out", required=True, metavar="DIR", help="where report.md, report.html, report.json go")
    p.add_argument("--title", default=DEFAULT_TITLE, help="the report's title")
    return p.parse_args(argv)


def _rows(name: str, rows: list[tuple[str, Any, list[dict[str, Any]]]]) -> list[str]:
    """Lines of one headline table: label, paper, run (one line per condition group)."""
    width = max(len(label) for label, _, _ in rows)
    out = [f"{name}", f"  {'':<{width}}  {'paper':>7}  run"]
    for label, paper_value, run in rows:
        out.append(f"  {label:<{width}}  {fmt.paper_value(paper_value):>7}  {'; '.join(fmt.groups(run))}")
    return out


def summary(report: Report) -> str:
    """The short stdout table: where the report is, Tables 3-5 headline numbers, the claims' verdicts."""
    data = report.data
    t = data["tables"]
    lines = [f"report: {report.markdown}  (also report.html, report.json, {len(data['plots'])} plots)"]
    status = data["data_source"]["status"]
    if status != "real":
        lines.append(f"DATA: {status.upper()} (see the box at the top of the report)")
    lines += _rows("Table 3 ROC-AUC (%)", [
        (f"{paper.VIDEO_CNN_NAMES.get(c['video_cnn'], c['video_cnn'])} / "
         f"{paper.PRETRAINED_NAMES.get(c['pretrained_on'], c['pretrained_on'])}", c["paper"], c["run"])
        for c in t["table3"]["cells"]])
    for name, key in (("Table 4 EPIC-KITCHENS probe top-1 (%)", "table4"), ("Table 5 DogCentric top-1 (%)", "table5")):
        lines += _rows(name, [(r["name"], r["paper"], r["run"]) for r in t[key]["rows"]])
    lines.append("Claims")
    for c in data["claims"]:
        sig = {True: ", significant", False: ", intervals overlap", None: ""}[c["significant"]]
        lines.append(f"  ({c['id']}) {c['verdict'].upper()}{sig}: {c['statement']} [{basis_text(c)}]")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run ``egoimu report``; returns the exit status (2 for unusable inputs)."""
    args = parse_args(argv)
    try:
        report = write_report(args.dirs, args.out, args.title)
    except ReportError as exc:
        print(f"egoimu report: {exc}", file=sys.stderr)
        return 2
    print(summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
