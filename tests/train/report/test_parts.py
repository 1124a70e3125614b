"""The report's parts without plotting: aggregation, Wilson intervals, cells, claims, source, rendering."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from egoimu.train.eval.results import read_result
from egoimu.train.report import fmt, render
from egoimu.train.report.cells import aggregate, group_cells, is_per_seed, wilson
from egoimu.train.report.claims import check_claims, compare, overlap
from egoimu.train.report.collect import Entry, ReportError, find_runs
from egoimu.train.report.source import data_source, source_blocks
from egoimu.train.report.tables import all_tables


def _entries(paths: list[Path]) -> list[Entry]:
    return [Entry(p, read_result(p)) for p in sorted(paths)]


def test_wilson_interval() -> None:
    low, high = wilson(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == pytest.approx(1.0)
    assert wilson(0, 0) == (None, None)


def test_aggregate_one_and_several() -> None:
    one = aggregate([{"seed": 0, "value": 0.5, "low": 0.4, "high": 0.6, "file": "a"}])
    assert (one.value, one.low, one.high, one.std, one.k) == (0.5, 0.4, 0.6, None, 1)
    two = aggregate([{"seed": 0, "value": 0.5, "low": 0.4, "high": 0.6, "file": "a"},
                     {"seed": 1, "value": 0.7, "low": None, "high": None, "file": "b"}])
    assert two.value == pytest.approx(0.6) and two.std == pytest.approx(0.141421, abs=1e-6)
    assert (two.low, two.high) == (None, None)  # an interval is missing: no envelope
    assert two.scaled(100).value == pytest.approx(60.0)


def test_overlap_and_compare() -> None:
    a = {"label": "a", "value": 0.9, "low": 0.85, "high": 0.95, "std": None, "k": 1, "per_seed": []}
    b = {"label": "b", "value": 0.8, "low": 0.70, "high": 0.86, "std": None, "k": 1, "per_seed": []}
    assert overlap(a, b) is True and overlap(a, {**b, "high": 0.84}) is False
    assert overlap(a, {**b, "low": None}) is None
    c = compare("x", a, ">", b)
    assert c["holds"] is True and "not significant at this size" in c["text"]
    c = compare("x", a, "<", {**b, "high": 0.84})
    assert c["holds"] is False and "does NOT hold" in c["text"] and "do not overlap" in c["text"]
    assert compare("x", a, ">", {**b, "value": None})["holds"] is None


def test_condition_groups_stay_apart_and_claims_pair_same_data(tmp_path: Path, builders: SimpleNamespace) -> None:
    paths = [builders.corr(tmp_path / "a", False, "update", (0.99, 0.98, 1.0)),
             builders.corr(tmp_path / "b", False, "update", (0.70, 0.65, 0.75)),
             builders.corr(tmp_path / "b", False, "freeze", (0.80, 0.75, 0.85))]
    entries = _entries(paths)
    entries[0].result["conditions"]["data"] = "/data/other"  # the first update result: other data
    cells = group_cells(entries)
    assert [len(g) for g in cells.values()] == [1, 2]  # freeze: 1 group, update: 2 groups
    tables = all_tables(cells)
    update = next(c for c in tables["table3"]["cells"] if c["video_cnn"] == "update" and
                  c["pretrained_on"] == "supervised")
    assert len(update["run"]) == 2 and len(fmt.groups(update["run"])) == 2
    (claim_a,) = [c for c in check_claims(tables) if c["id"] == "a-sub"]
    comp = claim_a["comparisons"][0]
    assert comp["a"]["value"] == pytest.approx(70.0)  # same data as freeze, not the 99 on other data
    assert claim_a["verdict"] == "does not hold" and "several condition sets" in comp["text"]


def test_supervised_seeds_aggregate_per_verb(tmp_path: Path, builders: SimpleNamespace) -> None:
    entries = _entries([builders.supervised(tmp_path, True, seed=s) for s in (0, 1)])
    entries[1].result["per_class"][0]["video"] = 0.6  # take: 0.8 (seed 0) and 0.6 (seed 1)
    t1 = all_tables(group_cells(entries))["table1"]
    (group,) = t1["run"]
    take = group["rows"][0]
    assert take["verb"] == "take" and take["video"]["k"] == 2
    assert take["video"]["value"] == pytest.approx(70.0) and take["video"]["std"] == pytest.approx(14.1421, abs=1e-4)
    assert group["conditions"]["seeds"] == [0, 1]


def test_data_source_kinds(tmp_path: Path, builders: SimpleNamespace) -> None:
    entries = _entries([builders.probe(tmp_path / "s", True, "probe", "random", (0.3, 0.2, 0.4)),
                        builders.probe(tmp_path / "r", False, "probe", "random", (0.3, 0.2, 0.4))])
    src = data_source(entries)
    assert src["status"] == "mixed" and src["generators"] == ["egoimu synth epic"]
    assert len(src["signal_tables"]) == 1 and sorted(src["signal_tables"][0]["signals"]) == ["take", "wash"]
    md = render.to_markdown(source_blocks(src))
    assert "1 of 2 results" in md and "Only these results are synthetic" in md


def test_render_escapes() -> None:
    blocks = [render.Heading("T", 1), render.Table(["a|b", "c"], [["x<y", ["1", "2"]]]),
              render.Box("box", [render.Para("**bold** and `code`")])]
    md = render.to_markdown(blocks)
    assert "| a\\|b | c |" in md and "| x<y | 1<br>2 |" in md and "> **⚠️ box**" in md
    html = render.to_html(blocks, "T")
    assert "x&lt;y" in html and "<strong>bold</strong> and <code>code</code>" in html and 'class="box warning"' in html


def test_per_seed_keys() -> None:
    for key in ("seed", "run", "checkpoint_sha256", "video_seed", "imu_run", "video_config_sha256", "eval_seed",
                "init_video"):
        assert is_per_seed(key), key
    for key in ("data", "n", "step", "model", "video_step", "manifest_sha256", "objective"):
        assert not is_per_seed(key), key


def test_bad_metrics_line_is_named(tmp_path: Path, builders: SimpleNamespace) -> None:
    run = builders.run_dir(tmp_path, "r")
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write('{"step": 50, "loss": \n')
    with pytest.raises(ReportError, match=r"metrics\.jsonl:8: not JSON"):
        find_runs([tmp_path])
