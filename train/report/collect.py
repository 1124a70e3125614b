"""Collect what ``egoimu report`` reads: evaluation results (``eval-*.json``, :mod:`egoimu.train.eval.results`) and
training runs (a directory with ``config.json`` as ``egoimu train`` writes it, and ``metrics.jsonl``).

Everything comes back sorted by path, so that the same inputs give the same report.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egoimu.train.eval.results import ResultError, find_results, read_result

RUN_CONFIG = "config.json"
RUN_METRICS = "metrics.jsonl"
#: The per-epoch validation metrics a run logs: the headline correspondence ROC-AUC (overlapping same-video pairs
#: excluded), the all-pairs value beside it, and a verb objective's top-1.
VAL_METRICS = ("val_roc_auc", "val_roc_auc_all_pairs", "val_top1")


class ReportError(Exception):
    """An input ``egoimu report`` cannot use (missing directory, bad file, no results); exit status 2."""


@dataclass(frozen=True)
class Entry:
    """One evaluation result file: its path and the checked result dict (``egoimu.eval/1``)."""

    path: Path
    result: dict[str, Any]

    @property
    def conditions(self) -> dict[str, Any]:
        """The result's ``conditions`` object."""
        return self.result["conditions"]


@dataclass(frozen=True)
class RunLog:
    """One training run: ``config.json``'s object and ``metrics.jsonl``'s rows.

    ``rows`` are sorted by step; where a resumed run logged a step twice, the later line wins.
    """

    path: Path
    name: str
    info: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def config(self) -> dict[str, Any]:
        """The run's TrainConfig as a dict (``config.json``'s ``config``)."""
        return self.info.get("config") or {}

    @property
    def objective(self) -> str:
        """"contrastive", "verb_video" or "verb_imu" (contrastive when the config predates the field)."""
        return str(self.config.get("objective") or "contrastive")

    def curve(self, key: str) -> tuple[list[int], list[float]]:
        """(steps, values) of the rows holding a finite number under ``key`` (e.g. "loss", "val_roc_auc")."""
        steps, values = [], []
        for row in self.rows:
            v = row.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                steps.append(int(row["step"]))
                values.append(float(v))
        return steps, values

    def val_keys(self) -> list[str]:
        """The validation metrics it logged (of :data:`VAL_METRICS`), sorted."""
        return sorted({k for row in self.rows for k in row if k in VAL_METRICS})

    def summary(self) -> dict[str, Any]:
        """The run's settings and last numbers for report.json and the runs table."""
        cfg = self.config
        out: dict[str, Any] = {
            "name": self.name, "path": str(self.path), "objective": self.objective,
            **{k: cfg.get(k) for k in ("model", "steps", "seed", "batch_size", "freeze_video", "init_video",
                                       "lr", "temperature")},
            "world_size": self.info.get("world_size"), "data_root": self.info.get("data_root"),
            "config_sha256": self.info.get("config_sha256"), "manifest_sha256": self.info.get("manifest_sha256"),
            "last_step": max((int(r["step"]) for r in self.rows), default=None),
        }
        for key in ("loss", *self.val_keys()):
            steps, values = self.curve(key)
            out[f"last_{key}"] = values[-1] if values else None
            if key.startswith("val_"):
                out[f"best_{key}"] = max(values) if values else None
        return out


@dataclass(frozen=True)
class Collected:
    """Everything found under the report's input directories."""

    dirs: list[Path]
    entries: list[Entry]
    runs: list[RunLog]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from None


def relabel_legacy(row: dict[str, Any]) -> dict[str, Any]:
    """A metrics.jsonl row as egoimu now names its numbers. A validation row written before validation reported
    the headline (``val_roc_auc`` without ``val_roc_auc_all_pairs`` beside it) counted all pairs: its value is
    ``val_roc_auc_all_pairs``, and the run has no headline for that epoch. Other rows come back unchanged."""
    if "val_roc_auc" in row and "val_roc_auc_all_pairs" not in row:
        row = {("val_roc_auc_all_pairs" if k == "val_roc_auc" else k): v for k, v in row.items()}
    return row


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """``metrics.jsonl``'s rows (each a JSON object with an integer ``step``), sorted by step, the last line
    of a repeated step kept, old validation rows relabelled (:func:`relabel_legacy`); :class:`ReportError`
    names the file and line of a bad one. Missing file: []."""
    if not path.is_file():
        return []
    by_step: dict[int, dict[str, Any]] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReportError(f"{path}:{lineno}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("step"), int):
            raise ReportError(f"{path}:{lineno}: expected an object with an integer 'step'")
        # validation lines share a step with training lines: merge, later keys win
        by_step[row["step"]] = {**by_step.get(row["step"], {}), **relabel_legacy(row)}
    return [by_step[s] for s in sorted(by_step)]


def _run_name(run_dir: Path, roots: list[Path]) -> str:
    """The run's directory relative to the input directory holding it (its own name when it is one)."""
    for root in roots:
        try:
            rel = run_dir.relative_to(root)
        except ValueError:
            continue
        return str(Path(root.name) / rel) if str(rel) != "." else root.name
    return run_dir.name


def find_runs(dirs: list[Path]) -> list[RunLog]:
    """Every training run under ``dirs``: a ``config.json`` holding a ``config`` object. A config.json that is
    not JSON is an error only when a ``metrics.jsonl`` lies beside it (otherwise it is someone else's)."""
    roots = [d.resolve() for d in dirs if d.is_dir()]
    found: set[Path] = set()
    for root in roots:
        found.update(p.parent for p in root.rglob(RUN_CONFIG))
    runs = []
    for run_dir in sorted(found):
        try:
            info = _read_json(run_dir / RUN_CONFIG)
        except ReportError:
            if (run_dir / RUN_METRICS).is_file():
                raise
            continue
        if not isinstance(info, dict) or not isinstance(info.get("config"), dict):
            continue
        runs.append(RunLog(run_dir, _run_name(run_dir, roots), info, read_metrics(run_dir / RUN_METRICS)))
    return runs


def collect(dirs: list[str | Path]) -> Collected:
    """Read every result and run under ``dirs``.

    Raises :class:`ReportError` for a missing input, a result file that does not follow ``egoimu.eval/1``
    (the message names it), a bad run file, or no result file at all (naming the directories).
    """
    paths = [Path(d) for d in dirs]
    if not paths:
        raise ReportError("no input directories given")
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise ReportError(f"no such file or directory: {', '.join(missing)}")
    files = sorted({f.resolve() for f in find_results(*paths)})
    entries = []
    for f in files:
        try:
            entries.append(Entry(f, read_result(f)))
        except ResultError as exc:
            raise ReportError(f"bad result file: {exc}") from None
    if not entries:
        raise ReportError(f"no evaluation results (eval-*.json) found under: {', '.join(map(str, paths))}")
    return Collected([p.resolve() for p in paths], entries, find_runs(paths))
