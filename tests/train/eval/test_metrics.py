"""Correspondence metrics on hand-computed score matrices, against scikit-learn where it applies."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from egoimu.train.eval.metrics import (
    batch_blocks,
    bootstrap_ci,
    bootstrap_pairs_ci,
    classification_metrics,
    correspondence_auc,
    correspondence_headline,
    correspondence_metrics,
    mean_class_accuracy,
    overlap_mask,
    pair_scores,
    shifted_negatives,
    top_k_correct,
)

# rows: video i, columns: head motion j; the diagonal is positive.
S3 = np.array([[0.9, 0.5, 0.1],
               [0.8, 0.3, 0.2],
               [0.4, 0.6, 0.7]])


def test_pair_scores_is_cosine():
    s = pair_scores(np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([[3.0, 0.0], [1.0, 1.0]]))
    np.testing.assert_allclose(s, [[1.0, 1 / math.sqrt(2)], [0.0, 1 / math.sqrt(2)]])
    assert s.dtype == np.float64 and s.shape == (2, 2)
    with pytest.raises(ValueError):
        pair_scores(np.ones((2, 3)), np.ones((3, 3)))


def test_auc_equals_sklearn_and_corr_module():
    rng = np.random.default_rng(1)
    v, m = rng.normal(size=(12, 5)), rng.normal(size=(12, 5))
    m[:6] += v[:6]  # some signal
    s = pair_scores(v, m)
    got = correspondence_metrics(s)
    assert got["roc_auc"] == pytest.approx(roc_auc_score(np.eye(12, dtype=bool).ravel(), s.ravel()), abs=1e-12)
    assert got["n"] == 12 and got["n_negative"] == 132 and got["n_excluded"] == 0
    assert got["roc_auc"] == pytest.approx(correspondence_auc(v, m), abs=1e-9)


def test_hand_computed_3x3_auc_recall_mrr():
    got = correspondence_metrics(S3)
    # positives .9 .3 .7 vs negatives .5 .1 .8 .2 .4 .6: 6 + 2 + 5 of 18 pairs ordered right
    assert got["roc_auc"] == pytest.approx(13 / 18)
    # rows: ranks 1 (.9), 2 (.3 < .8), 1 (.7)
    assert got["v2i_recall@1"] == pytest.approx(2 / 3)
    assert got["v2i_mrr"] == pytest.approx((1 + 1 / 2 + 1) / 3)
    assert got["v2i_recall@5"] == 1.0
    # columns: ranks 1 (.9 vs .8 .4), 3 (.3 vs .5 .6), 1 (.7 vs .1 .2)
    assert got["i2v_recall@1"] == pytest.approx(2 / 3)
    assert got["i2v_mrr"] == pytest.approx((1 + 1 / 3 + 1) / 3)
    assert got["batch_size"] is None and got["roc_auc_batch"] is None


def test_ties_count_against_the_positive():
    got = correspondence_metrics(np.zeros((4, 4)))
    assert got["roc_auc"] == 0.5
    assert got["v2i_recall@1"] == 0.0 and got["i2v_mrr"] == pytest.approx(1 / 4)


def test_overlap_mask_hand_case():
    # clips 0 and 1 overlap in video a; clip 2 touches clip 1 ([3, 5) after [1, 3)); clip 3 is in video b
    mask = overlap_mask(["a", "a", "a", "b"], [0.0, 1.0, 3.0, 0.0], [2.0, 3.0, 5.0, 2.0])
    want = np.zeros((4, 4), dtype=bool)
    want[0, 1] = want[1, 0] = True
    np.testing.assert_array_equal(mask, want)
    # identical windows overlap; the diagonal stays False
    np.testing.assert_array_equal(overlap_mask([7, 7], [0.0, 0.0], [2.0, 2.0]), ~np.eye(2, dtype=bool))


def test_overlap_exclusion_changes_auc_and_ranks_as_hand_computed():
    exclude = overlap_mask(["a", "a", "b"], [0.0, 1.0, 0.0], [2.0, 3.0, 2.0])  # drops (0,1)=.5 and (1,0)=.8
    got = correspondence_metrics(S3, exclude=exclude)
    # positives .9 .3 .7 vs negatives .1 .2 .4 .6: 4 + 2 + 4 of 12
    assert got["roc_auc"] == pytest.approx(10 / 12)
    assert got["n_negative"] == 4 and got["n_excluded"] == 2
    assert got["v2i_recall@1"] == 1.0  # row 1 no longer sees .8
    assert got["i2v_mrr"] == pytest.approx((1 + 1 / 2 + 1) / 3)  # column 1: .3 vs .6 only
    with pytest.raises(ValueError):
        correspondence_metrics(S3, exclude=~np.eye(3, dtype=bool))  # nothing left as a negative


def test_headline_excludes_overlapping_same_video_pairs_and_reports_all_pairs_beside():
    """The one definition validation and ``eval corr`` share, on S3: clips 0 and 1 are windows [0, 2) and [1, 3)
    of video a (they overlap), clip 2 is in video b."""
    got = correspondence_headline(S3, ["a", "a", "b"], [0.0, 1.0, 0.0], [2.0, 3.0, 2.0])
    # headline: (0,1)=.5 and (1,0)=.8 are not negatives; positives .9 .3 .7 vs .1 .2 .4 .6: 4 + 2 + 4 of 12
    # all pairs: positives .9 .3 .7 vs .5 .1 .8 .2 .4 .6: 6 + 2 + 5 of 18
    assert got == {"roc_auc": pytest.approx(10 / 12), "roc_auc_all_pairs": pytest.approx(13 / 18), "n": 3,
                   "n_excluded": 2}
    # touching windows ([0, 2) and [2, 4)) do not overlap: both numbers are the all-pairs count
    touching = correspondence_headline(S3, ["a", "a", "b"], [0.0, 2.0, 0.0], [2.0, 4.0, 2.0])
    assert touching["roc_auc"] == touching["roc_auc_all_pairs"] == pytest.approx(13 / 18)
    assert touching["n_excluded"] == 0
    # every pair overlapping: no negative is left, the headline is undefined (None), all pairs still counts
    alone = correspondence_headline(S3, ["a", "a", "a"], [0.0, 0.5, 1.0], [2.0, 2.5, 3.0])
    assert alone["roc_auc"] is None and alone["roc_auc_all_pairs"] == pytest.approx(13 / 18)
    assert alone["n_excluded"] == 6
    with pytest.raises(ValueError, match="video_ids"):
        correspondence_headline(S3, ["a", "b"], [0.0, 1.0], [2.0, 3.0])


S4 = np.array([[0.9, 0.8, 0.95, 0.0],
               [0.1, 0.5, 0.0, 0.99],
               [0.0, 0.0, 0.6, 0.2],
               [0.97, 0.0, 0.3, 0.7]])


def test_within_batch_auc_hand_case():
    got = correspondence_metrics(S4, batch_size=2)
    # blocks {0,1}, {2,3}: negatives .8 .1 .2 .3; positives .9 (4) .5 (3) .6 (3) .7 (3) of 16
    assert got["roc_auc_batch"] == pytest.approx(13 / 16)
    assert got["n_negative_batch"] == 4
    # all pairs: the cross-block .95 .99 .97 and five zeros join: 9 + 8 + 8 + 8 of 48
    assert got["roc_auc"] == pytest.approx(33 / 48)
    assert correspondence_metrics(S4, batch_size=4)["roc_auc_batch"] == pytest.approx(got["roc_auc"])
    # a shorter last block is kept: blocks {0,1,2}, {3}
    assert correspondence_metrics(S4, batch_size=3)["n_negative_batch"] == 6


def test_batch_blocks_seeded_permutation():
    np.testing.assert_array_equal(batch_blocks(5, 2), [0, 0, 1, 1, 2])
    a, b = batch_blocks(10, 3, seed=4), batch_blocks(10, 3, seed=4)
    np.testing.assert_array_equal(a, b)
    assert sorted(np.bincount(a).tolist()) == [1, 3, 3, 3]
    with pytest.raises(ValueError):
        batch_blocks(4, 1)


def test_shifted_negatives_hand_case():
    s = np.zeros((4, 4))
    np.fill_diagonal(s, [0.5, 0.6, 0.7, 0.9])
    s[0, 2], s[2, 0], s[1, 2], s[2, 1] = 0.55, 0.2, 0.65, 0.8
    s[3, 0] = s[0, 3] = 5.0  # other video: never a shifted negative
    s[0, 1] = s[1, 0] = 5.0  # overlapping windows: never a negative
    ids, start, end = ["a", "a", "a", "b"], [0.0, 1.0, 4.0, 0.0], [2.0, 3.0, 6.0, 2.0]
    got = shifted_negatives(s, ids, start, end)
    # positives .5 .6 .7 vs .55 .2 .65 .8: 1 + 2 + 3 of 12; clip 3 is alone in its video
    assert got["roc_auc"] == pytest.approx(6 / 12)
    assert (got["n_clips"], got["n_negative"], got["n_dropped"]) == (3, 4, 1)
    near = shifted_negatives(s, ids, start, end, max_shift_s=3.5)  # starts 0 and 4 are 4 s apart
    assert near["roc_auc"] == pytest.approx(1 / 4)  # .6 .7 vs .65 .8
    assert (near["n_clips"], near["n_negative"], near["n_dropped"]) == (2, 2, 2)


def test_bootstrap_ci_is_deterministic_and_contains_estimate():
    x = np.random.default_rng(0).random(50)
    est, low, high = bootstrap_ci(np.mean, x, n_boot=300, seed=3)
    assert est == pytest.approx(x.mean()) and low <= est <= high and low < high
    assert bootstrap_ci(np.mean, x, n_boot=300, seed=3) == (est, low, high)
    assert bootstrap_ci(np.mean, x, n_boot=300, seed=4) != (est, low, high)
    # arrays are resampled together: a == b stays true in every resample
    assert bootstrap_ci(lambda a, b: float(np.mean(a == b)), x, x.copy(), n_boot=50) == (1.0, 1.0, 1.0)


def test_bootstrap_pairs_ci():
    rng = np.random.default_rng(2)
    v = rng.normal(size=(30, 8))
    s = pair_scores(v, v + rng.normal(size=(30, 8)))
    est, low, high = bootstrap_pairs_ci(s, "roc_auc", n_boot=100, seed=1)
    assert est == pytest.approx(correspondence_metrics(s)["roc_auc"]) and low <= est <= high
    assert bootstrap_pairs_ci(s, "roc_auc", n_boot=100, seed=1) == (est, low, high)
    mrr = bootstrap_pairs_ci(s, "i2v_mrr", n_boot=50)
    assert mrr[0] == pytest.approx(correspondence_metrics(s)["i2v_mrr"]) and mrr[1] <= mrr[0] <= mrr[2]
    fn = bootstrap_pairs_ci(s, lambda sc, ex: correspondence_metrics(sc, exclude=ex)["v2i_recall@1"], n_boot=50)
    assert fn[0] == pytest.approx(correspondence_metrics(s)["v2i_recall@1"])


def test_bootstrap_pairs_never_counts_a_clip_copy_as_negative():
    # perfect scores: a drawn-twice clip's copies score 1 like the positives; counted as negatives they would tie
    assert bootstrap_pairs_ci(np.eye(6), "roc_auc", n_boot=100) == (1.0, 1.0, 1.0)
    assert bootstrap_pairs_ci(np.eye(6), "v2i_recall@1", n_boot=100) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        bootstrap_pairs_ci(np.eye(3), "accuracy")


def test_classification_metrics_epic_top5_and_mean_class():
    """Top-1, top-5 and mean class accuracy on a hand-made case (7 classes, so top-5 can miss)."""
    y = np.array([0, 0, 0, 1, 6])
    probs = np.zeros((5, 7))
    probs[0, 0] = probs[1, 0] = 1.0  # right
    probs[2] = [0.1, 0.3, 0.2, 0.2, 0.15, 0.05, 0.0]  # true 0 is 5th by score: top-5 right, top-1 wrong
    probs[3] = [0.0, 0.05, 0.3, 0.25, 0.2, 0.1, 0.1]  # true 1 is 7th: wrong in both
    probs[4, 6] = 1.0  # right
    np.testing.assert_array_equal(top_k_correct(y, probs, 5), [True, True, True, False, True])
    np.testing.assert_array_equal(top_k_correct(y, probs, 1), [True, True, False, False, True])
    # columns named by classes: a label without a column is wrong
    np.testing.assert_array_equal(top_k_correct(np.array([7, 3]), np.eye(2), 5, classes=[3, 4]), [False, True])
    assert mean_class_accuracy(y, probs.argmax(axis=1)) == pytest.approx((2 / 3 + 0 + 1) / 3)
    got = classification_metrics(y, probs, n_boot=0)
    assert got == {"top1": (0.6, None, None), "top5": (0.8, None, None),
                   "mean_class": (pytest.approx(5 / 9), None, None)}
    boot = classification_metrics(y, probs, n_boot=200, seed=3)
    for name, (value, low, high) in boot.items():
        assert low <= value <= high and value == pytest.approx(got[name][0]), name
    assert boot == classification_metrics(y, probs, n_boot=200, seed=3)  # deterministic
    with pytest.raises(ValueError, match="must be the same non-empty"):
        mean_class_accuracy([], [])
