"""Linear probe (paper Tables 4 and 5): multinomial logistic regression on frozen features.

The paper trains "a linear classifier of multiclass logistic regression (or softmax regression)" on top of
each frozen representation and reports top-1 accuracy; it gives no regularisation or preprocessing.
Ours: features are standardised with the training set's mean and standard deviation (scikit-learn
``StandardScaler``; a constant feature keeps scale 1), scikit-learn ``LogisticRegression`` with the lbfgs
solver (softmax over all classes when there are more than two; an L2 penalty on the weights, not the
intercept), and C chosen from a grid by validation top-1 accuracy (equal accuracies: the smallest C, i.e.
the strongest regularisation). The chosen C's model is the one fitted on the training set (lbfgs is
deterministic, so this equals a refit on train). Validation data never enter the final fit.

Labels absent from the training set: the probe can only predict classes it was trained on (``classes``), so
validation or test clips of other classes are always wrong; they stay in every accuracy's denominator, get
per-class accuracy 0 and a confusion-matrix row of their own (:func:`evaluate_probe` reports them as
``unseen_classes``). At least two training classes are required.

Shapes: x (N, D) float (float64 internally), y (N,) labels (int class ids or strings).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix
from sklearn.preprocessing import StandardScaler

from egoimu.train.eval.metrics import bootstrap_ci, classification_metrics
from egoimu.train.eval.supervised import per_class_accuracy

DEFAULT_CS: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0)  # ours: the paper gives no grid


@dataclass(frozen=True)
class ProbeResult:
    """A fitted probe. ``classes``: (K,) the training labels (sorted), the columns of ``predict_proba``."""

    model: LogisticRegression
    scaler: StandardScaler
    C: float
    classes: np.ndarray
    n_train: int
    converged: bool  # lbfgs stopped before max_iter
    val_accuracy: dict[float, float] = field(default_factory=dict)  # C -> validation top-1 (empty: fixed C)
    n_val: int = 0


def _xy(x: Any, y: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y)
    if xa.ndim != 2 or ya.ndim != 1 or len(xa) != len(ya):
        raise ValueError(f"{name}: x must be (N, D) and y (N,), got {xa.shape} and {ya.shape}")
    if len(ya) == 0:
        raise ValueError(f"{name}: no items")
    if not np.all(np.isfinite(xa)):
        raise ValueError(f"{name}: features contain NaN or infinity")
    return xa, ya


def fit_probe_at(train_x: Any, train_y: Any, C: float, *, seed: int = 0, max_iter: int = 1000) -> ProbeResult:
    """Fit the probe with a fixed C on (train_x (N, D), train_y (N,)); see the module docstring."""
    x, y = _xy(train_x, train_y, "train")
    if len(np.unique(y)) < 2:
        raise ValueError(f"the probe needs at least 2 training classes, got {np.unique(y).tolist()}")
    if C <= 0:
        raise ValueError(f"C must be > 0, got {C}")
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=C, solver="lbfgs", max_iter=max_iter, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # reported as ``converged``
        model.fit(scaler.transform(x), y)
    return ProbeResult(model=model, scaler=scaler, C=float(C), classes=model.classes_.copy(), n_train=len(y),
                       converged=bool(np.all(model.n_iter_ < max_iter)))


def predict(result: ProbeResult, x: Any) -> np.ndarray:
    """(N,) predicted labels (dtype of the training labels) for x (N, D)."""
    xa = np.asarray(x, dtype=np.float64)
    if xa.ndim != 2:
        raise ValueError(f"x must be (N, D), got {xa.shape}")
    return result.model.predict(result.scaler.transform(xa))


def predict_proba(result: ProbeResult, x: Any) -> np.ndarray:
    """(N, K) float64 softmax probabilities for x (N, D); column k is ``result.classes[k]``."""
    xa = np.asarray(x, dtype=np.float64)
    if xa.ndim != 2:
        raise ValueError(f"x must be (N, D), got {xa.shape}")
    return result.model.predict_proba(result.scaler.transform(xa))


def choose_c(accuracy: dict[float, float]) -> float:
    """The C with the highest accuracy; equal accuracies: the smallest C (strongest regularisation)."""
    if not accuracy:
        raise ValueError("no C to choose from")
    best = max(accuracy.values())
    return min(c for c, a in accuracy.items() if a == best)


def fit_linear_probe(
    train_x: Any, train_y: Any, val_x: Any, val_y: Any, Cs: Sequence[float] = DEFAULT_CS, seed: int = 0,
    *, max_iter: int = 1000,
) -> ProbeResult:
    """Fit one probe per C on train, keep the one with the best validation top-1 (ties: smallest C).

    train_x (N, D), train_y (N,), val_x (M, D), val_y (M,); Cs: the grid (floats > 0). Deterministic.
    Validation clips whose labels are absent from train count as wrong. Returns the chosen probe with
    ``val_accuracy`` {C: top-1} for every C and ``n_val``.
    """
    vx, vy = _xy(val_x, val_y, "validation")
    if len(Cs) == 0:
        raise ValueError("Cs is empty")
    fits = {float(c): fit_probe_at(train_x, train_y, c, seed=seed, max_iter=max_iter) for c in Cs}
    acc = {c: float(np.mean(predict(r, vx) == vy)) for c, r in fits.items()}
    best = fits[choose_c(acc)]
    return ProbeResult(model=best.model, scaler=best.scaler, C=best.C, classes=best.classes, n_train=best.n_train,
                       converged=best.converged, val_accuracy=acc, n_val=len(vy))


def evaluate_probe(
    result: ProbeResult, x: Any, y: Any, *, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> dict[str, Any]:
    """Top-1 accuracy of a fitted probe on (x (N, D), y (N,)), with a bootstrap CI over clips.

    Returns dict: ``top1`` (float), ``top1_ci`` (low, high) (percentile bootstrap, ``n_boot`` resamples of
    the N clips, :func:`egoimu.train.eval.metrics.bootstrap_ci`), ``n``, ``classes`` (K,) (sorted union of the
    training labels and y's labels: the confusion matrix's order), ``confusion`` (K, K) int64 (rows: true,
    columns: predicted), ``per_class`` {label: accuracy} for every label present in y, ``predictions`` (N,),
    ``unseen_classes`` (labels of y the probe never saw in training) and ``n_unseen`` (clips with such labels);
    EPIC's other verb metrics with the same bootstrap: ``top5`` (the label among the probe's 5 most probable
    classes), ``mean_class`` (mean over y's labels of their accuracy), with ``top5_ci``, ``mean_class_ci``.
    """
    xa, ya = _xy(x, y, "evaluation")
    pred = predict(result, xa)
    correct = (pred == ya).astype(np.float64)
    top1, low, high = bootstrap_ci(np.mean, correct, n_boot=n_boot, seed=seed, alpha=alpha)
    classes = np.unique(np.concatenate([result.classes, ya]))
    unseen = np.setdiff1d(np.unique(ya), result.classes)
    more = classification_metrics(ya, predict_proba(result, xa), result.classes, n_boot=n_boot, seed=seed)
    return {"top1": top1, "top1_ci": (low, high), "n": len(ya), "classes": classes,
            **{k: more[k][0] for k in ("top5", "mean_class")},
            **{f"{k}_ci": more[k][1:] for k in ("top5", "mean_class")},
            "confusion": confusion_matrix(ya, pred, labels=classes).astype(np.int64),
            "per_class": per_class_accuracy(ya, pred, np.unique(ya)), "predictions": pred,
            "unseen_classes": unseen.tolist(), "n_unseen": int(np.isin(ya, unseen).sum())}
