"""DogCentric folds for the paper's Table 5: a linear probe, 2-fold cross-validation by dog.

Paper (section 3.1): the four activities with head motion (Walk, Shake, Look at left, Look at right; 86 clips),
"split into the half-and-half based on dog ids", 2-fold cross-validation, mean accuracy reported. The four
dogs are Hime, Ku, Ringo and Ryu; the paper does not say which two went together, so every evaluation here
runs all three pairings (:func:`dog_pairings`) and :func:`pairings_summary` reports their spread.

Per fold (ours where the paper is silent): the probe of :mod:`egoimu.train.eval.probe` is trained on the clips of
one pair of dogs and tested on the other pair's; both directions are run and the pairing's accuracy is the
mean of the two fold accuracies (the paper's "mean accuracy"; the pooled accuracy over all test clips is
reported too). C is fixed when given; otherwise it is chosen inside the training pair by leave-one-dog-out
(train on one dog, validate on the other, both ways, mean validation top-1; ties: smallest C) and the probe
is refit on both training dogs. Test dogs never influence C.

Selecting the clips is the caller's job (:func:`head_motion_mask` on activity names). The names mirror
``egoimu.pipeline.sources.dogcentric`` (which ``train`` must not import).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from egoimu.train.eval.probe import DEFAULT_CS, choose_c, fit_probe_at, predict

#: The dataset's four dogs.
DOGS: tuple[str, ...] = ("Hime", "Ku", "Ringo", "Ryu")
#: The paper's four head-motion activities (Table 5), canonical names as in the pipeline's reader.
HEAD_MOTION_ACTIVITIES: tuple[str, ...] = ("Walk", "Shake", "LookLeft", "LookRight")

Pairing = tuple[tuple[str, str], tuple[str, str]]


def head_motion_mask(activities: Any) -> np.ndarray:
    """(N,) bool: which clips' activity (N,) str is one of :data:`HEAD_MOTION_ACTIVITIES`."""
    return np.isin(np.asarray(activities).astype(str), HEAD_MOTION_ACTIVITIES)


def dog_pairings(dogs: Sequence[str] = DOGS) -> list[Pairing]:
    """The three ways to split four dogs into two pairs: each item (pair A, pair B), A holding ``dogs[0]``.

    Order: dogs[0] paired with dogs[1], then dogs[2], then dogs[3]; each pair in the order of ``dogs``.
    """
    if len(dogs) != 4 or len(set(dogs)) != 4:
        raise ValueError(f"need four distinct dogs, got {list(dogs)}")
    out: list[Pairing] = []
    for mate in dogs[1:]:
        other = [d for d in dogs[1:] if d != mate]
        out.append(((dogs[0], mate), (other[0], other[1])))
    return out


def _check(features: Any, labels: Any, dogs: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y, d = np.asarray(features, dtype=np.float64), np.asarray(labels), np.asarray(dogs).astype(str)
    if x.ndim != 2 or y.shape != (len(x),) or d.shape != (len(x),):
        raise ValueError(f"features (N, D), labels (N,) and dogs (N,) expected, got {x.shape}, {y.shape}, {d.shape}")
    return x, y, d


def _select_c(x: np.ndarray, y: np.ndarray, d: np.ndarray, train_dogs: Sequence[str], Cs: Sequence[float],
              seed: int) -> tuple[float, dict[float, float]]:
    """Leave-one-dog-out C selection inside the training dogs; inner folds with < 2 classes are skipped."""
    inner = []
    for val_dog in train_dogs:
        tr, va = np.isin(d, train_dogs) & (d != val_dog), d == val_dog
        if va.any() and len(np.unique(y[tr])) >= 2:
            inner.append((tr, va))
    if not inner:
        raise ValueError(f"dogs {list(train_dogs)}: no leave-one-dog-out fold to choose C; pass C")
    acc = {float(c): float(np.mean([np.mean(predict(fit_probe_at(x[tr], y[tr], c, seed=seed), x[va]) == y[va])
                                    for tr, va in inner])) for c in Cs}
    return choose_c(acc), acc


def two_fold_detail(
    features: Any, labels: Any, dogs: Any, pairing: Pairing, *, C: float | None = None,
    Cs: Sequence[float] = DEFAULT_CS, seed: int = 0,
) -> dict[str, Any]:
    """Both folds of one pairing: train on one pair of dogs, test on the other, and back.

    features (N, D) float, labels (N,) (str or int), dogs (N,) str dog names; pairing: (pair A, pair B).
    Clips of dogs in neither pair are ignored. Returns dict: ``pairing``, ``mean`` (mean of the two fold
    accuracies), ``pooled`` (correct test clips / test clips over both folds), ``folds``: two dicts with
    ``train_dogs``, ``test_dogs``, ``accuracy``, ``n_train``, ``n_test``, ``C`` and ``val_accuracy``
    ({C: leave-one-dog-out accuracy}; empty when C was given).
    """
    x, y, d = _check(features, labels, dogs)
    a, b = (tuple(p) for p in pairing)
    if len(set(a) | set(b)) != len(a) + len(b):
        raise ValueError(f"pairing {pairing} names a dog twice")
    folds = []
    for train_dogs, test_dogs in ((a, b), (b, a)):
        tr, te = np.isin(d, train_dogs), np.isin(d, test_dogs)
        if not tr.any() or not te.any():
            raise ValueError(f"fold {train_dogs} -> {test_dogs}: no clips on one side")
        c, val = (float(C), {}) if C is not None else _select_c(x, y, d, train_dogs, Cs, seed)
        pred = predict(fit_probe_at(x[tr], y[tr], c, seed=seed), x[te])
        folds.append({"train_dogs": train_dogs, "test_dogs": test_dogs, "accuracy": float(np.mean(pred == y[te])),
                      "n_correct": int(np.sum(pred == y[te])), "n_train": int(tr.sum()), "n_test": int(te.sum()),
                      "C": c, "val_accuracy": val})
    return {"pairing": (a, b), "mean": float(np.mean([f["accuracy"] for f in folds])),
            "pooled": sum(f["n_correct"] for f in folds) / sum(f["n_test"] for f in folds), "folds": folds}


def two_fold_probe(
    features: Any, labels: Any, dogs: Any, pairing: Pairing, *, C: float | None = None,
    Cs: Sequence[float] = DEFAULT_CS, seed: int = 0,
) -> float:
    """Mean top-1 accuracy over the pairing's two folds (see :func:`two_fold_detail`)."""
    return two_fold_detail(features, labels, dogs, pairing, C=C, Cs=Cs, seed=seed)["mean"]


def pairings_summary(
    features: Any, labels: Any, dogs: Any, *, C: float | None = None, Cs: Sequence[float] = DEFAULT_CS,
    seed: int = 0, dog_names: Sequence[str] = DOGS,
) -> dict[str, Any]:
    """Table 5 over all three dog pairings: the spread of the 2-fold mean accuracy.

    Arguments as :func:`two_fold_detail`. Returns dict: ``mean``, ``std`` (population, ddof=0), ``min``, ``max``
    of the three pairing accuracies, and ``per_pairing`` (the three :func:`two_fold_detail` dicts).
    """
    per = [two_fold_detail(features, labels, dogs, p, C=C, Cs=Cs, seed=seed) for p in dog_pairings(dog_names)]
    acc = np.array([p["mean"] for p in per])
    return {"mean": float(acc.mean()), "std": float(acc.std()), "min": float(acc.min()), "max": float(acc.max()),
            "per_pairing": per}
