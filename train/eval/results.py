"""The evaluation results' file format: what every ``egoimu eval ...`` writes and ``egoimu report`` reads.

One JSON object per evaluation (``RESULT_SCHEMA``), written with :func:`write_result`::

    {
      "schema": "egoimu.eval/1",
      "evaluation": "corr" | "probe" | "supervised" | "dogcentric",
      "table": 1..5,                        # the paper's table it belongs to (supervised: 1, covering 1 and 2)
      "label": "update video CNN (supervised init)",   # the row/column it fills, free text
      "conditions": {                       # what was evaluated, how (see data_conditions / run_conditions)
        "data": "/abs/path/to/shards", "split": "test", "n": 123, "manifest_sha256": "...",
        "synthetic": true, "generator": "egoimu synth epic", "signals": {...} | null,
        "run": "/abs/run/dir" | null, "checkpoint": "...", "step": 300, "seed": 0, "config_sha256": "...",
        "model": "small", "objective": "contrastive", "freeze_video": false, "init_video": "", ...
      },
      "metrics": {"roc_auc": {"value": 0.91, "low": 0.89, "high": 0.93}, ...},   # 95 % bootstrap CIs
      ...                                   # evaluation-specific extras (per-class tables, curves)
    }

Per evaluation (the keys ``egoimu report`` relies on; more are allowed):

- ``corr`` (table 3): metrics ``roc_auc`` (the headline: all N² pairs, same-video overlapping windows
  excluded; as the trainer's ``val_roc_auc``), ``roc_auc_all_pairs`` (every pair counted: the paper's count, no
  interval), ``roc_auc_batch`` (within batches of B), ``roc_auc_shifted`` (negatives: the same video at other times),
  ``v2i_recall@1``, ``v2i_recall@5``, ``v2i_mrr``, ``i2v_recall@1``, ``i2v_recall@5``, ``i2v_mrr``;
  extras ``variant`` {"video_cnn": "freeze"|"update", "pretrained_on": "supervised"|"kinetics"|"none"|"other",
  and for a pytorchvideo init "provenance": the user's ``--init-name``, else "pytorchvideo checkpoint (unnamed)";
  "kinetics" only when that name starts with "kinetics"} (also ``conditions.init_provenance``),
  ``roc_curve`` {"fpr": [...], "tpr": [...]} (<= 201 points), ``batch_size``, ``n_pairs``, ``n_excluded``.
- ``probe`` (table 4) and ``dogcentric`` (table 5): metric ``top1`` (test accuracy; dogcentric: the mean over
  the three dog pairings, CI by bootstrap over clips); probe also ``top5`` and ``mean_class`` (EPIC's verb
  metrics: the label among the 5 most probable classes; the mean of the per-class accuracies); extras ``representation``
  "random"|"self-supervised"|"supervised"|"kinetics"|"checkpoint" ("kinetics": a pytorchvideo checkpoint the
  user named so, ``--init-name``; ``conditions.provenance`` records the name, else "pytorchvideo checkpoint
  (unnamed)"), ``per_class`` {name: accuracy},
  ``confusion`` {"labels": [names], "matrix": [[int]]} (rows true, columns predicted), ``C``;
  dogcentric also ``pairings`` (per pairing: dogs, mean, folds) and ``spread`` {"std", "min", "max"}.
- ``supervised`` (tables 1 and 2): metrics ``top1_video``, ``top1_imu``, ``top1_ensemble``, and the same
  sides' ``top5_*`` and ``mean_class_*``; extras
  ``per_class`` [{"verb_class", "name", "n", "video", "imu", "ensemble"}] (the 5 most frequent test verbs),
  ``correct_by`` [{"verb_class", "name", "video_only", "imu_only", "both", "neither"}] (same verbs) and
  ``correct_by_all`` {"video_only", "imu_only", "both", "neither"} (all test clips), ``confusion`` as probe's
  (of the ensemble).

Repeated runs (``--seeds K``) give one file per seed; ``conditions.seed`` tells them apart and the report
shows their mean and spread.

A metric is always ``{"value", "low", "high"}`` (:func:`ci`; low/high null where no interval applies).
Floats are plain JSON numbers (no NaN: a missing value is null). The files are named
``eval-<evaluation>-<label slug>.json`` by convention (:func:`result_name`) so that ``egoimu report DIR``
finds them with a glob.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from egoimu.manifests.card import class_names as _class_names
from egoimu.manifests.files import atomic_write_text
from egoimu.manifests.schema import SUMMARY_FILENAME, read_table

RESULT_SCHEMA = "egoimu.eval/1"
EVALUATIONS = ("corr", "probe", "supervised", "dogcentric")


class ResultError(ValueError):
    """An evaluation result file that does not follow ``RESULT_SCHEMA``; the message names the file."""


def ci(value: float | None, low: float | None = None, high: float | None = None) -> dict[str, float | None]:
    """A metric with its confidence interval: ``{"value", "low", "high"}`` (floats or None)."""
    def num(x: float | None) -> float | None:
        return None if x is None or not math.isfinite(float(x)) else float(x)

    return {"value": num(value), "low": num(low), "high": num(high)}


def _plain(obj: Any) -> Any:
    """numpy scalars/arrays, tuples and non-string keys -> JSON-able Python values (NaN/inf -> None)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        return _plain(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def data_conditions(data_root: str | Path, split: str | None = None) -> dict[str, Any]:
    """Conditions of a build's data: ``data`` (absolute path), ``split``, ``manifest_sha256`` (of manifest.json's
    bytes, as :class:`egoimu.train.data.SplitIndex`),
    and ``synthetic``, ``generator``, ``signals`` from manifest.json's ``source`` (absent in builds older than
    it: ``synthetic`` is then None, meaning unknown)."""
    root = Path(data_root)
    raw = (root / SUMMARY_FILENAME).read_bytes()
    summary = json.loads(raw)
    source = summary.get("source") or {}
    return {"data": str(root.resolve()), "split": split, "manifest_sha256": hashlib.sha256(raw).hexdigest(),
            "synthetic": source.get("synthetic"), "generator": source.get("generator"),
            "signals": source.get("signals"), "split_mode": summary.get("split", {}).get("mode")}


def result_name(evaluation: str, label: str) -> str:
    """The conventional file name ``eval-<evaluation>-<slug of label>.json``."""
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "result"
    return f"eval-{evaluation}-{slug}.json"


def make_result(evaluation: str, table: int, label: str, conditions: dict[str, Any], metrics: dict[str, Any],
                **extra: Any) -> dict[str, Any]:
    """A result dict following ``RESULT_SCHEMA`` (checked by :func:`check_result`)."""
    result = _plain({"schema": RESULT_SCHEMA, "evaluation": evaluation, "table": int(table), "label": label,
                     "conditions": conditions, "metrics": metrics, **extra})
    return check_result(result, "<new result>")


def check_result(result: Any, where: str | Path) -> dict[str, Any]:
    """``result`` if it follows ``RESULT_SCHEMA``; else :class:`ResultError` naming ``where`` and the problem."""
    def fail(reason: str) -> ResultError:
        return ResultError(f"{where}: {reason}")

    if not isinstance(result, dict):
        raise fail("not a JSON object")
    if result.get("schema") != RESULT_SCHEMA:
        raise fail(f"schema is {result.get('schema')!r}, expected {RESULT_SCHEMA!r}")
    if result.get("evaluation") not in EVALUATIONS:
        raise fail(f"evaluation {result.get('evaluation')!r} is not one of {EVALUATIONS}")
    if not isinstance(result.get("table"), int) or not 1 <= result["table"] <= 5:
        raise fail(f"table must be an int 1..5, got {result.get('table')!r}")
    if not isinstance(result.get("label"), str) or not isinstance(result.get("conditions"), dict):
        raise fail("label must be a string and conditions an object")
    metrics = result.get("metrics")
    if not isinstance(metrics, dict):
        raise fail("metrics must be an object")
    for name, m in metrics.items():
        if not isinstance(m, dict) or set(m) != {"value", "low", "high"}:
            raise fail(f"metric {name!r} must be {{value, low, high}}, got {m!r}")
    return result


def write_result(path: str | Path, result: dict[str, Any]) -> Path:
    """Write ``result`` (checked) as indented JSON to ``path`` (parents created); returns the path."""
    path = Path(path)
    check_result(result, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(_plain(result), indent=2, allow_nan=False) + "\n")
    return path


def read_result(path: str | Path) -> dict[str, Any]:
    """Read and check one result file; :class:`ResultError` names the file when it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultError(f"{path}: not found") from None
    except json.JSONDecodeError as exc:
        raise ResultError(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from None
    return check_result(data, path)


def find_results(*dirs: str | Path) -> list[Path]:
    """Every ``eval-*.json`` under the given directories (recursively), sorted; a file argument is kept."""
    found: set[Path] = set()
    for d in map(Path, dirs):
        if d.is_file():
            found.add(d)
        else:
            found.update(d.rglob("eval-*.json"))
    return sorted(found)



def class_names(data_root: str | Path) -> dict[int, str]:
    """verb_class -> name, as the audit and the dataset card name them (:func:`egoimu.manifests.card.class_names`:
    manifest.json's ``source.class_names``, EPIC's class keys or DogCentric's activities; for a build without them,
    the most frequent raw ``verb`` of each class in clips.csv)."""
    root = Path(data_root)
    summary = json.loads((root / SUMMARY_FILENAME).read_text(encoding="utf-8"))
    return _class_names(summary, read_table(root / "clips.csv", "clips"))
