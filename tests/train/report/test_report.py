"""``egoimu report``: outputs, the paper's numbers, claims, seed aggregation, the synthetic box, errors."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from egoimu.train.report.build import REPORT_SCHEMA
from egoimu.train.report.cli import main
from egoimu.train.report.source import SYNTHETIC_TITLE, UNKNOWN_TITLE

TABLE_KEYS = {"table1", "table2", "table3", "table4", "table5"}


def _json(out: Path) -> dict:
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def test_outputs_exist_and_plots_are_images(report: Path) -> None:
    import matplotlib.image as mpimg

    for name in ("report.md", "report.html", "report.json"):
        assert (report / name).stat().st_size > 0
    plots = _json(report)["plots"]
    assert {p["kind"] for p in plots} == {"run", "curves", "roc", "confusion"}
    md, html = (report / "report.md").read_text(), (report / "report.html").read_text()
    for p in plots:
        image = mpimg.imread(report / p["file"])
        assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50
        assert f"]({p['file']})" in md and f'src="{p["file"]}"' in html
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html


def test_paper_numbers_appear(report: Path) -> None:
    md, html = (report / "report.md").read_text(), (report / "report.html").read_text()
    numbers = ["74.73", "52.75", "76.92", "47.21", "42.13", "9.58", "384", "500", "87", "87.33", "86.44", "92.80",
               "94.73", "36.58", "27.01", "41.94", "55.61", "46.98", "54.21"]
    for number in numbers:
        assert number in md and number in html, number
    paper = _json(report)["paper"]
    assert paper["table3"]["roc_auc"]["update"]["supervised"] == 94.73
    assert paper["table4"]["text_kinetics"] == 27.01 and "2110.01680" in paper["source"]
    assert "not run" in md  # Kinetics cells were not run


def test_claims_verdicts(report: Path) -> None:
    claims = {c["id"]: c for c in _json(report)["claims"]}
    assert claims["a-sub"]["verdict"] == "holds" and claims["a-sub"]["significant"] is True
    assert claims["b-sub"]["verdict"] == "does not hold" and claims["b-sub"]["significant"] is False
    assert claims["c"]["verdict"] == "not run" and claims["c"]["significant"] is None
    assert claims["d"]["verdict"] == "holds" and len(claims["d"]["comparisons"]) == 2
    assert claims["e-sub"]["verdict"] == "holds"
    a = claims["a-sub"]["comparisons"][0]
    assert (a["a"]["value"], a["b"]["value"], a["ci_overlap"]) == (95.0, 85.0, False)
    md = (report / "report.md").read_text()
    assert "**does not hold**" in md and "not significant at this size" in md
    # no Kinetics result among the inputs: the paper's own comparisons are "not checked", the substitutes labelled
    for cid in ("a", "b", "e"):
        assert claims[cid]["basis"] == "paper" and claims[cid]["verdict"] == "not checked", cid
        assert claims[cid]["significant"] is None and "not checked" in claims[cid]["comparisons"][0]["text"]
        sub = claims[f"{cid}-sub"]
        assert sub["basis"] == "substitute" and sub["substitute_for"] == cid
        assert f"| substitute for ({cid}) |" in md
    assert "| paper | not checked |" in md and "Kinetics only when the user named it so" in md


def test_claims_with_kinetics_results(tmp_path: Path, builders: SimpleNamespace) -> None:
    """Result files with Kinetics rows (Table 3 from a kinetics400 init, Tables 4 and 5): the paper's own
    comparisons get verdicts beside the substitutes."""
    root = builders.build_inputs(tmp_path / "in")
    builders.corr(root, True, "update", (0.93, 0.91, 0.95), init="kinetics")
    builders.corr(root, True, "freeze", (0.88, 0.85, 0.92), init="kinetics")
    builders.probe(root, True, "probe", "kinetics", (0.30, 0.25, 0.35), provenance="kinetics400",
                   representation_kind="pytorchvideo")
    builders.probe(root, True, "dogcentric", "kinetics", (0.58, 0.48, 0.68), provenance="kinetics400")
    assert main([str(root), "--out", str(tmp_path / "out")]) == 0
    data = _json(tmp_path / "out")
    claims = {c["id"]: c for c in data["claims"]}
    assert claims["a"]["verdict"] == "holds" and claims["a"]["significant"] is False  # 93 vs 88, overlapping
    a = claims["a"]["comparisons"][0]
    assert (a["a"]["value"], a["b"]["value"]) == (93.0, 88.0)
    assert claims["b"]["verdict"] == "holds" and claims["b"]["comparisons"][0]["b"]["value"] == 30.0
    assert claims["b"]["comparisons"][0]["b"]["label"] == "Kinetics-supervised"
    assert claims["e"]["verdict"] == "does not hold"  # self-supervised mean 55 < Kinetics 58
    assert claims["a-sub"]["verdict"] == "holds" and claims["b-sub"]["verdict"] == "does not hold"
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| paper | holds |" in md and "| paper | **does not hold** |" in md
    assert "init provenance: kinetics400" in md and "provenance: kinetics400" in md
    cells = {(c["video_cnn"], c["pretrained_on"]): c for c in data["tables"]["table3"]["cells"]}
    assert cells[("update", "kinetics")]["run"][0]["metric"]["value"] == 93.0


def test_epic_verb_metrics_beside_top1(report: Path) -> None:
    """Top-5 and mean class accuracy (EPIC's verb metrics) in Table 1 and Table 4, from the result files."""
    data = _json(report)
    (group,) = data["tables"]["table1"]["run"]
    assert group["overall_top5"]["ensemble"]["value"] == pytest.approx(91.0)
    assert group["mean_class"]["imu"]["value"] == pytest.approx(25.0)
    row = next(r for r in data["tables"]["table4"]["rows"] if r["representation"] == "self-supervised")
    assert row["run"][0]["more"]["top5"]["value"] == pytest.approx(70.0)
    assert row["run"][0]["more"]["mean_class"]["value"] == pytest.approx(30.0)
    md = (report / "report.md").read_text()
    assert "| **Overall top-5 accuracy** | — | 90.00 [85.00, 95.00] | — | 70.00 [60.00, 80.00] |" in md
    assert "| **Mean class accuracy** | — | 55.00 [45.00, 65.00] |" in md
    assert "| Representation | Paper | Run top-1 | Run top-5 | Run mean class acc. |" in md
    assert ("| Self-supervised on EPIC-KITCHENS (ours) | 41.94 | 40.00 [35.00, 45.00] | 70.00 [65.00, 75.00] | "
            "30.00 |") in md
    table5 = md[md.index("## Table 5"):]
    assert "Run top-5" not in table5[:table5.index("\n## ")]  # DogCentric results have no top-5


def test_seed_aggregation(report: Path) -> None:
    row = next(r for r in _json(report)["tables"]["table5"]["rows"] if r["representation"] == "self-supervised")
    (group,) = row["run"]
    m = group["metric"]
    assert m["k"] == 2 and m["value"] == pytest.approx(55.0)
    assert m["std"] == pytest.approx(7.0710678, abs=1e-5)
    assert [(p["seed"], p["value"]) for p in m["per_seed"]] == [(0, 50.0), (1, 60.0)]
    assert (m["low"], m["high"]) == (40.0, 70.0)  # envelope of the per-seed CIs
    assert group["conditions"]["seeds"] == [0, 1]
    md = (report / "report.md").read_text()
    assert "55.00 ± 7.07 [40.00, 70.00] (2 seeds: 50.00, 60.00)" in md


def test_table1_uses_the_runs_own_verbs(report: Path) -> None:
    (group,) = _json(report)["tables"]["table1"]["run"]
    rows = {r["verb"]: r for r in group["rows"]}
    assert list(rows) == ["take", "put", "wash", "open", "cut", "Close"]
    assert rows["take"]["paper"]["video"] == 74.73 and rows["cut"]["paper"] is None
    assert rows["Close"]["in_run"] is False
    assert rows["take"]["video"]["value"] == pytest.approx(80.0)
    assert rows["take"]["video"]["low"] < 80.0 < rows["take"]["video"]["high"]  # Wilson interval
    assert "not in the run's top 5" in (report / "report.md").read_text()


def test_report_json_round_trips_and_is_deterministic(report: Path, tmp_path: Path) -> None:
    data = _json(report)
    assert data["schema"] == REPORT_SCHEMA
    assert set(data) >= {"inputs", "data_source", "paper", "tables", "claims", "metrics", "runs", "plots"}
    assert set(data["tables"]) == TABLE_KEYS and TABLE_KEYS <= set(data["paper"])
    assert json.loads(json.dumps(data)) == data
    inputs = Path(data["inputs"]["dirs"][0])
    assert main([str(inputs), "--out", str(tmp_path / "again")]) == 0
    for name in ("report.md", "report.json"):
        assert (tmp_path / "again" / name).read_bytes() == (report / name).read_bytes()


def test_runs_are_read(report: Path) -> None:
    runs = {r["name"]: r for r in _json(report)["runs"]}
    assert set(runs) == {"in/run-contrastive", "in/run-verb"}
    assert runs["in/run-contrastive"]["best_val_roc_auc"] == 0.8
    assert runs["in/run-contrastive"]["best_val_roc_auc_all_pairs"] == pytest.approx(0.75)
    md = (report / "report.md").read_text()
    assert "roc_auc 0.800, roc_auc_all_pairs 0.750" in md  # the runs table: the headline, all pairs beside it
    assert runs["in/run-verb"]["objective"] == "verb_video" and runs["in/run-verb"]["best_val_top1"] == 0.8


def test_resumed_metrics_keep_the_last_line(tmp_path: Path, builders: SimpleNamespace) -> None:
    from egoimu.train.report.collect import find_runs

    builders.run_dir(tmp_path, "r")
    (run,) = find_runs([tmp_path])
    assert run.curve("loss") == ([10, 20, 30, 40], [2.5, 1.9, 1.5, 1.0])
    assert run.curve("val_roc_auc") == ([20, 40], [0.7, 0.8])


def test_old_validation_rows_read_as_all_pairs(tmp_path: Path, builders: SimpleNamespace) -> None:
    """A metrics.jsonl written before validation reported the headline: its val_roc_auc counted all pairs, so
    the report shows it as val_roc_auc_all_pairs (no headline for those epochs); a resumed run's newer rows keep
    both numbers."""
    from egoimu.train.report.collect import find_runs

    run = builders.run_dir(tmp_path / "in", "old")
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    old = [{k: v for k, v in r.items() if k != "val_roc_auc_all_pairs"} for r in rows if r["step"] == 20]
    new = [r for r in rows if r["step"] != 20]  # step 40's validation row: written after the change
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old + new), encoding="utf-8")
    (found,) = find_runs([tmp_path / "in"])
    assert found.curve("val_roc_auc") == ([40], [0.8])
    assert found.curve("val_roc_auc_all_pairs") == ([20, 40], [0.7, pytest.approx(0.75)])
    builders.corr(tmp_path / "in", True, "update", (0.9, 0.85, 0.95))
    assert main([str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 0
    summary = _json(tmp_path / "out")["runs"][0]
    assert summary["best_val_roc_auc"] == 0.8 and summary["best_val_roc_auc_all_pairs"] == pytest.approx(0.75)


@pytest.mark.parametrize("synthetic", [True, False, None])
def test_synthetic_box_iff_synthetic(tmp_path: Path, builders: SimpleNamespace, synthetic: bool | None) -> None:
    builders.probe(tmp_path / "in", synthetic, "probe", "self-supervised", (0.4, 0.35, 0.45))
    assert main([str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 0
    md, html = (tmp_path / "out" / "report.md").read_text(), (tmp_path / "out" / "report.html").read_text()
    for text in (md, html):
        assert (SYNTHETIC_TITLE in text) is (synthetic is True)
        assert (UNKNOWN_TITLE in text) is (synthetic is None)
    if synthetic:
        assert md.index(SYNTHETIC_TITLE) < md.index("## Claims")
        assert "egoimu synth epic" in md and "pitch down and back" in md and "blue flicker" in md
    assert _json(tmp_path / "out")["data_source"]["status"] == {True: "synthetic", False: "real",
                                                                 None: "unknown"}[synthetic]


def test_bad_result_file_exits_2_naming_it(tmp_path: Path, builders: SimpleNamespace,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    builders.supervised(tmp_path / "in", False)
    bad = tmp_path / "in" / "eval-probe-broken.json"
    bad.write_text('{"schema": "egoimu.eval/1", "evaluation": "probe"', encoding="utf-8")
    assert main([str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 2
    assert str(bad) in capsys.readouterr().err
    bad.write_text(json.dumps({"schema": "other/1"}), encoding="utf-8")
    assert main([str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "schema" in err
    assert not (tmp_path / "out" / "report.md").exists()


def test_no_results_exits_2_naming_the_dirs(tmp_path: Path, builders: SimpleNamespace,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    builders.run_dir(tmp_path / "empty", "r")
    assert main([str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "no evaluation results" in err and str(tmp_path / "empty") in err
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "out")]) == 2
    assert str(tmp_path / "missing") in capsys.readouterr().err


def test_dispatcher_and_stdout(tmp_path: Path, builders: SimpleNamespace, capsys: pytest.CaptureFixture[str]) -> None:
    from egoimu.cli import main as egoimu_main

    builders.corr(tmp_path / "in", False, "update", (0.9, 0.88, 0.92))
    assert egoimu_main(["report", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--title", "T"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "out" / "report.md") in out
    assert "Table 3" in out and "Table 4" in out and "Table 5" in out and "90.00 [88.00, 92.00]" in out
    assert "(a-sub) NOT RUN" in out and "(a) NOT CHECKED" in out and "SYNTHETIC" not in out
    # no supervised result: Tables 1 and 2 still show the paper's per-verb numbers beside "not run"
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| Take | 74.73 | not run | 52.75 | not run | 76.92 | not run |" in md
    assert "| Close | 47.21 | not run | 18.78 | not run | 42.13 | not run |" in md
    assert "| Open | 161 | not run | 5 | not run | 20 | not run | 75 | not run |" in md
    assert (tmp_path / "out" / "report.md").read_text().startswith("# T\n")
