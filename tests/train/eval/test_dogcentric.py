"""DogCentric folds: the three dog pairings and the 2-fold probe on separable toy data."""

from __future__ import annotations

import numpy as np
import pytest

from egoimu.train.eval.dogcentric import (
    DOGS,
    HEAD_MOTION_ACTIVITIES,
    dog_pairings,
    head_motion_mask,
    pairings_summary,
    two_fold_detail,
    two_fold_probe,
)


def test_three_distinct_partitions():
    pairings = dog_pairings()
    assert len(pairings) == 3
    for a, b in pairings:
        assert len(a) == len(b) == 2 and set(a) | set(b) == set(DOGS) and not set(a) & set(b)
    assert len({frozenset({frozenset(a), frozenset(b)}) for a, b in pairings}) == 3
    assert pairings[0] == (("Hime", "Ku"), ("Ringo", "Ryu"))
    with pytest.raises(ValueError):
        dog_pairings(("a", "b", "c"))


def test_head_motion_mask():
    np.testing.assert_array_equal(head_motion_mask(["Walk", "Car", "LookLeft", "Sniff", "Shake", "LookRight"]),
                                  [True, False, True, False, True, True])


def toy(n_per: int = 4, seed: int = 0, noise: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every dog has n_per clips of each activity; features: a one-hot of the activity (x6) plus noise."""
    rng = np.random.default_rng(seed)
    act = np.tile(np.repeat(np.arange(4), n_per), 4)
    dogs = np.repeat(np.array(DOGS), 4 * n_per)
    x = 6.0 * np.eye(4)[act] + noise * rng.normal(size=(len(act), 4))
    return x, np.array(HEAD_MOTION_ACTIVITIES)[act], dogs


def test_two_fold_probe_separable_is_one():
    x, y, d = toy()
    for pairing in dog_pairings():
        assert two_fold_probe(x, y, d, pairing, C=1.0) == 1.0
    detail = two_fold_detail(x, y, d, dog_pairings()[1], Cs=(0.1, 10.0))  # C chosen leave-one-dog-out
    assert detail["mean"] == 1.0 and detail["pooled"] == 1.0
    f0, f1 = detail["folds"]
    assert (f0["train_dogs"], f0["test_dogs"]) == (("Hime", "Ringo"), ("Ku", "Ryu"))
    assert (f1["train_dogs"], f1["test_dogs"]) == (("Ku", "Ryu"), ("Hime", "Ringo"))
    assert f0["n_train"] == f0["n_test"] == 32 and set(f0["val_accuracy"]) == {0.1, 10.0}
    assert f0["C"] == 0.1  # both Cs perfect on the held-out training dog: the smaller


def test_pairings_summary():
    x, y, d = toy(n_per=3)
    got = pairings_summary(x, y, d, C=1.0)
    assert (got["mean"], got["std"], got["min"], got["max"]) == (1.0, 0.0, 1.0, 1.0)
    assert [p["pairing"] for p in got["per_pairing"]] == dog_pairings()


def test_mean_of_folds_and_pooled_with_unequal_folds():
    x, y, d = toy(n_per=4, noise=0.1)
    keep = ~((d == "Ku") & (np.arange(len(d)) % 2 == 0))  # Ku keeps 2 of its 4 clips per activity
    x, y, d = x[keep], y[keep].copy(), d[keep]
    ku, order = d == "Ku", list(HEAD_MOTION_ACTIVITIES)
    y[ku] = [order[(order.index(a) + 1) % 4] for a in y[ku]]  # Ku's labels rotated: always wrong when tested
    detail = two_fold_detail(x, y, d, dog_pairings()[0], C=1.0)  # (Hime, Ku) vs (Ringo, Ryu)
    f0, f1 = detail["folds"]
    assert (f0["n_train"], f0["n_test"], f1["n_test"]) == (24, 32, 24)
    assert f0["accuracy"] == 1.0  # Hime's 16 outvote Ku's 8 rotated labels; Ringo and Ryu are all right
    assert f1["accuracy"] == pytest.approx(16 / 24)  # Hime's 16 right, Ku's 8 wrong
    assert detail["mean"] == pytest.approx((1 + 2 / 3) / 2)  # mean of the two folds (the paper's)
    assert detail["pooled"] == pytest.approx(48 / 56)
