"""egoimu.train.runlog: config.json, metrics.jsonl cut back on resume, TensorBoard, a disabled log writes nothing."""

from __future__ import annotations

import json

from egoimu.train.runlog import RunLog, Throughput, memory_mb


def test_records_go_to_metrics_and_tensorboard(tmp_path):
    run = tmp_path / "run"
    with RunLog(run, 0, '{"config": {}}\n') as log:
        for step in (1, 2, 3):
            log.write({"step": step, "loss": 1.0 / step})
        log.write({"step": 3, "val_roc_auc": 0.7})
    assert json.loads((run / "config.json").read_text()) == {"config": {}}
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2, 3, 3]
    assert any(p.name.startswith("events.out.tfevents") for p in (run / "tb").iterdir())


def test_resume_drops_records_past_the_checkpoint(tmp_path):
    run = tmp_path / "run"
    with RunLog(run, 0, "{}\n") as log:
        for step in range(1, 6):
            log.write({"step": step, "loss": 0.5})
    with RunLog(run, 3, "{}\n") as log:
        log.write({"step": 4, "loss": 0.25})
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["loss"]) for r in lines] == [(1, 0.5), (2, 0.5), (3, 0.5), (4, 0.25)]


def test_a_disabled_log_writes_nothing(tmp_path):
    with RunLog(tmp_path / "run", 0, "{}\n", enabled=False) as log:
        log.write({"step": 1, "loss": 1.0})
    assert not (tmp_path / "run").exists()


def test_throughput_and_memory_figures():
    window = Throughput(clips_per_step=8)
    assert window.next_batch(iter([{"x": 1}])) == {"x": 1} and window.next_batch(iter([])) is None
    window.steps = 4
    figures = window.figures()
    assert figures["clips_per_s"] > 0 and 0 <= figures["data_wait"] <= 1
    assert window.steps == 0  # a new window
    mem = memory_mb()
    assert mem["rss_total_mb"] >= mem["rss_mb"] > 10
