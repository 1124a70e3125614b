"""Helpers for the paper's Tables 1 and 2: video-only vs head-motion-only classifiers and their ensemble.

Table 1 lists, for the five most frequent test verbs, the per-class accuracy (the fraction of that verb's
clips classified correctly, i.e. its recall) of a fully supervised video classifier, a head-motion classifier
and their ensemble, which averages the two softmax probability vectors (paper, section 3.2). Table 2 counts,
for the same verbs, the clips classified correctly by video only, head motion only, both, and neither.

Conventions: probability matrices are (N, K) float with column k the class id k (0..K-1), rows summing to 1;
labels and predictions are (N,) integer class ids (other hashable label dtypes work where noted).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def softmax(logits: Any) -> np.ndarray:
    """Row-wise softmax: logits (N, K) float -> (N, K) float64 probabilities (numerically stable)."""
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"logits must be (N, K), got {z.shape}")
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _check_probs(p: Any, name: str) -> np.ndarray:
    a = np.asarray(p, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be (N, K), got {a.shape}")
    if np.any(a < 0) or not np.allclose(a.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError(f"{name} rows must be probability vectors (softmax outputs, not logits)")
    return a


def ensemble_probs(p_video: Any, p_imu: Any) -> np.ndarray:
    """The paper's ensemble: the mean of the two classifiers' softmax probability vectors.

    p_video, p_imu: (N, K) float, rows non-negative and summing to 1 (checked to 1e-4: logits are refused).
    Returns (N, K) float64.
    """
    v = _check_probs(p_video, "p_video")
    m = _check_probs(p_imu, "p_imu")
    if v.shape != m.shape:
        raise ValueError(f"p_video {v.shape} and p_imu {m.shape} must have the same shape")
    return (v + m) / 2.0


def _pair(y: Any, pred: Any, name: str = "pred") -> tuple[np.ndarray, np.ndarray]:
    ya, pa = np.asarray(y), np.asarray(pred)
    if ya.ndim != 1 or pa.shape != ya.shape:
        raise ValueError(f"y {ya.shape} and {name} {pa.shape} must both be (N,)")
    return ya, pa


def per_class_accuracy(y: Any, pred: Any, classes: Any) -> dict[Any, float]:
    """Accuracy per true class (recall): {c: mean(pred[y == c] == c)} for every c in ``classes``.

    y, pred: (N,) labels (any comparable dtype); classes: iterable of labels, in the order of the dict.
    A class with no clip in y maps to NaN. Keys are Python scalars (``.item()`` of numpy scalars).
    """
    ya, pa = _pair(y, pred)
    out: dict[Any, float] = {}
    for c in np.asarray(list(classes)).tolist():
        sel = ya == c
        out[c] = float(np.mean(pa[sel] == c)) if sel.any() else float("nan")
    return out


def top_k_frequent(y: Any, k: int = 5) -> list[Any]:
    """The k most frequent labels of y (N,), most frequent first; equal counts: the smaller label first.

    Fewer than k distinct labels: all of them. Returns Python scalars.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    labels, counts = np.unique(np.asarray(y), return_counts=True)  # sorted labels
    order = np.argsort(-counts, kind="stable")  # stable: ties keep the ascending label order
    return labels[order[:k]].tolist()


def correct_by_table(y: Any, pred_video: Any, pred_imu: Any) -> dict[str, int]:
    """Table 2 counts: clips correct by video only, by head motion only, by both, by neither.

    y, pred_video, pred_imu: (N,) labels. Returns {"video_only", "imu_only", "both", "neither"} -> int,
    summing to N.
    """
    ya, pv = _pair(y, pred_video, "pred_video")
    _, pm = _pair(y, pred_imu, "pred_imu")
    cv, cm = pv == ya, pm == ya
    return {"video_only": int(np.sum(cv & ~cm)), "imu_only": int(np.sum(~cv & cm)), "both": int(np.sum(cv & cm)),
            "neither": int(np.sum(~cv & ~cm))}


def correct_by_class(y: Any, pred_video: Any, pred_imu: Any, classes: Any) -> dict[Any, dict[str, int]]:
    """Table 2 rows: :func:`correct_by_table` restricted to the clips of each true class in ``classes``."""
    ya, pv = _pair(y, pred_video, "pred_video")
    _, pm = _pair(y, pred_imu, "pred_imu")
    return {c: correct_by_table(ya[ya == c], pv[ya == c], pm[ya == c]) for c in np.asarray(list(classes)).tolist()}


def supervised_tables(y: Any, p_video: Any, p_imu: Any, k: int = 5) -> dict[str, Any]:
    """Tables 1 and 2 for the k most frequent classes of y.

    y: (N,) int class ids in [0, K); p_video, p_imu: (N, K) softmax probabilities. Predictions are the argmax
    (first column on ties). Returns dict: ``classes`` (the top-k ids, most frequent first), ``n``,
    ``accuracy`` {"video", "imu", "ensemble"} (overall top-1 over all N clips), ``per_class``
    {"video"|"imu"|"ensemble": {class: accuracy}} (Table 1), ``correct_by`` {class: counts} (Table 2).
    """
    v = _check_probs(p_video, "p_video")
    ens = ensemble_probs(v, p_imu)
    m = np.asarray(p_imu, dtype=np.float64)
    ya = np.asarray(y)
    if ya.shape != (len(v),):
        raise ValueError(f"y {ya.shape} must be ({len(v)},)")
    preds = {"video": v.argmax(axis=1), "imu": m.argmax(axis=1), "ensemble": ens.argmax(axis=1)}
    top = top_k_frequent(ya, k)
    return {"classes": top, "n": len(ya),
            "accuracy": {name: float(np.mean(p == ya)) for name, p in preds.items()},
            "per_class": {name: per_class_accuracy(ya, p, top) for name, p in preds.items()},
            "correct_by": correct_by_class(ya, preds["video"], preds["imu"], top)}


TOP_CLASSES = 10
OTHER = "other"


def class_label(c: Any, names: Mapping[int, str] | None) -> str:
    """A class's display name: ``names[c]`` for an int class with a name, else ``str(c)``."""
    if names is not None and isinstance(c, (int, np.integer)) and int(c) in names:
        return names[int(c)]
    return str(c)


def named_confusion(y_true: Any, y_pred: Any, names: Mapping[int, str] | None = None, top: int = TOP_CLASSES,
                    order: list[Any] | None = None) -> dict[str, Any]:
    """Confusion matrix of the ``top`` most frequent true classes (ties: the smaller label; ``order``: these
    classes in this order instead), every other class pooled as "other" (row and column, present only when
    needed). y_true, y_pred: (N,) labels. Returns {"labels": [names], "matrix": [[int]]}, rows true,
    columns predicted."""
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    if order is None:
        labels, counts = np.unique(yt, return_counts=True)
        order = [labels[i] for i in sorted(range(len(labels)), key=lambda i: (-counts[i], labels[i]))[:top]]
    position = {c: k for k, c in enumerate(order)}
    pooled = any(c not in position for c in np.concatenate([yt, yp]))
    size = len(order) + int(pooled)
    matrix = np.zeros((size, size), dtype=np.int64)
    for t, p in zip(yt, yp):
        matrix[position.get(t, size - 1), position.get(p, size - 1)] += 1
    return {"labels": [class_label(c, names) for c in order] + ([OTHER] if pooled else []),
            "matrix": matrix.tolist()}
