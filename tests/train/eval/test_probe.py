"""Linear probe: separable data, C selection on constructed cases, labels absent from training."""

from __future__ import annotations

import numpy as np
import pytest

from egoimu.train.eval.probe import choose_c, evaluate_probe, fit_linear_probe, fit_probe_at, predict, predict_proba


def blobs(n_per: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.array([[8.0, 0, 0, 0, 0], [0, 8.0, 0, 0, 0], [0, 0, 8.0, 0, 0]])
    y = np.repeat(np.arange(3), n_per)
    return centres[y] + rng.normal(size=(len(y), 5)), y


def test_separable_data_top1_is_one():
    (tx, ty), (vx, vy), (ex, ey) = blobs(20, 0), blobs(5, 1), blobs(10, 2)
    res = fit_linear_probe(tx, ty, vx, vy)
    assert res.converged and res.n_train == 60 and res.n_val == 15
    assert set(res.val_accuracy) == {0.01, 0.1, 1.0, 10.0, 100.0}
    assert res.C == 0.01  # every C is perfect on validation: the smallest wins
    got = evaluate_probe(res, ex, ey, n_boot=100)
    assert got["top1"] == 1.0 and got["top1_ci"] == (1.0, 1.0) and got["n"] == 30
    np.testing.assert_array_equal(got["confusion"], np.diag([10, 10, 10]))
    assert got["per_class"] == {0: 1.0, 1: 1.0, 2: 1.0} and got["unseen_classes"] == []
    np.testing.assert_array_equal(got["predictions"], ey)
    p = predict_proba(res, ex)
    assert p.shape == (30, 3) and np.allclose(p.sum(axis=1), 1.0)


# Training: nine clips of class 0 at x = -1, one of class 1 at x = +1. A tiny C leaves the weight ~0 and
# predicts the majority class 0 everywhere; a large C separates the two points.
TRAIN_X, TRAIN_Y = np.array([[-1.0]] * 9 + [[1.0]]), np.array([0] * 9 + [1])


def test_c_selection_prefers_large_c_when_validation_needs_separation():
    vx, vy = np.array([[-1.0], [-1.0], [1.0], [1.0]]), np.array([0, 0, 1, 1])
    res = fit_linear_probe(TRAIN_X, TRAIN_Y, vx, vy, Cs=(1e-4, 100.0))
    assert res.val_accuracy == {1e-4: 0.5, 100.0: 1.0}
    assert res.C == 100.0
    np.testing.assert_array_equal(predict(res, vx), vy)


def test_c_selection_prefers_small_c_when_validation_rewards_the_prior():
    vx, vy = np.array([[1.0], [1.0], [1.0]]), np.array([0, 0, 0])
    res = fit_linear_probe(TRAIN_X, TRAIN_Y, vx, vy, Cs=(100.0, 1e-4))
    assert res.val_accuracy == {1e-4: 1.0, 100.0: 0.0}
    assert res.C == 1e-4


def test_choose_c_tie_takes_smallest():
    assert choose_c({1.0: 0.5, 0.1: 0.5, 10.0: 0.3}) == 0.1
    with pytest.raises(ValueError):
        choose_c({})


def test_labels_absent_from_train_are_always_wrong():
    tx, ty = blobs(10, 0)
    keep = ty < 2  # train on classes 0 and 1 only
    res = fit_probe_at(tx[keep], ty[keep], 1.0)
    np.testing.assert_array_equal(res.classes, [0, 1])
    ex, ey = blobs(4, 3)
    got = evaluate_probe(res, ex, ey, n_boot=50)
    assert got["top1"] == pytest.approx(8 / 12)
    assert got["per_class"] == {0: 1.0, 1: 1.0, 2: 0.0}
    assert got["unseen_classes"] == [2] and got["n_unseen"] == 4
    # EPIC's other verb metrics: an unseen label is never among the probe's classes; each class counts once
    assert got["top5"] == pytest.approx(8 / 12) and got["mean_class"] == pytest.approx(2 / 3)
    assert got["mean_class_ci"][0] <= got["mean_class"] <= got["mean_class_ci"][1]
    np.testing.assert_array_equal(got["classes"], [0, 1, 2])
    assert got["confusion"][2].sum() == 4 and got["confusion"][2, 2] == 0 and got["confusion"][:, 2].sum() == 0
    # unseen labels in validation also count as wrong
    val = fit_linear_probe(tx[keep], ty[keep], ex, ey, Cs=(1.0,))
    assert val.val_accuracy == {1.0: pytest.approx(8 / 12)}


def test_string_labels_and_determinism():
    tx, ty = blobs(10, 0)
    names = np.array(["walk", "shake", "look"])[ty]
    a, b = fit_probe_at(tx, names, 1.0, seed=5), fit_probe_at(tx, names, 1.0, seed=5)
    np.testing.assert_array_equal(a.model.coef_, b.model.coef_)
    assert evaluate_probe(a, tx, names, n_boot=20)["per_class"] == {"look": 1.0, "shake": 1.0, "walk": 1.0}


def test_bad_input():
    with pytest.raises(ValueError, match="2 training classes"):
        fit_probe_at(np.zeros((3, 2)), np.zeros(3, dtype=int), 1.0)
    with pytest.raises(ValueError):
        fit_probe_at(np.zeros((3, 2)), np.array([0, 1]), 1.0)
