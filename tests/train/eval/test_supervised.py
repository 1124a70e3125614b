"""Tables 1-2 helpers on hand-checked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from egoimu.train.eval.supervised import (
    correct_by_class,
    correct_by_table,
    ensemble_probs,
    per_class_accuracy,
    softmax,
    supervised_tables,
    top_k_frequent,
)


def test_ensemble_averages_probabilities():
    got = ensemble_probs([[0.8, 0.2], [0.3, 0.7]], [[0.4, 0.6], [0.9, 0.1]])
    np.testing.assert_allclose(got, [[0.6, 0.4], [0.6, 0.4]])
    with pytest.raises(ValueError, match="logits"):
        ensemble_probs([[2.0, -1.0]], [[0.5, 0.5]])
    with pytest.raises(ValueError):
        ensemble_probs([[0.5, 0.5]], [[0.2, 0.3, 0.5]])
    np.testing.assert_allclose(softmax([[0.0, math.log(3.0)]]), [[0.25, 0.75]])


def test_per_class_accuracy():
    got = per_class_accuracy([0, 0, 1, 1, 1, 2], [0, 1, 1, 1, 0, 2], [0, 1, 2, 3])
    assert list(got) == [0, 1, 2, 3]
    assert got[0] == 0.5 and got[1] == pytest.approx(2 / 3) and got[2] == 1.0 and math.isnan(got[3])


def test_top_k_frequent():
    y = [3, 3, 3, 1, 1, 2, 2, 5]
    assert top_k_frequent(y, 2) == [3, 1]  # 1 and 2 tie: the smaller first
    assert top_k_frequent(y, 10) == [3, 1, 2, 5]
    with pytest.raises(ValueError):
        top_k_frequent(y, 0)


def test_correct_by_table():
    y = [0, 1, 2, 0, 1]
    got = correct_by_table(y, [0, 1, 0, 1, 1], [0, 0, 2, 1, 0])
    assert got == {"video_only": 2, "imu_only": 1, "both": 1, "neither": 1}
    assert sum(got.values()) == len(y)
    assert correct_by_class(y, [0, 1, 0, 1, 1], [0, 0, 2, 1, 0], [1, 0])[1] == {
        "video_only": 2, "imu_only": 0, "both": 0, "neither": 0}


def test_supervised_tables_hand_case():
    y = [0, 1, 0]
    p_video = [[0.9, 0.1], [0.6, 0.4], [0.45, 0.55]]  # predicts 0, 0, 1
    p_imu = [[0.2, 0.8], [0.3, 0.7], [0.6, 0.4]]  # predicts 1, 1, 0
    got = supervised_tables(y, p_video, p_imu, k=5)  # ensemble .55/.45, .45/.55, .525/.475: 0, 1, 0
    assert got["classes"] == [0, 1] and got["n"] == 3
    assert got["accuracy"] == {"video": pytest.approx(1 / 3), "imu": pytest.approx(2 / 3), "ensemble": 1.0}
    assert got["per_class"]["video"] == {0: 0.5, 1: 0.0}
    assert got["per_class"]["imu"] == {0: 0.5, 1: 1.0}
    assert got["per_class"]["ensemble"] == {0: 1.0, 1: 1.0}
    assert got["correct_by"][0] == {"video_only": 1, "imu_only": 1, "both": 0, "neither": 0}
    assert got["correct_by"][1] == {"video_only": 0, "imu_only": 1, "both": 0, "neither": 0}
