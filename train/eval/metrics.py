"""Correspondence metrics (paper Table 3) beyond the plain ROC-AUC, with bootstrap confidence intervals.

The paper scores every (video i, head motion j) pair of a split by cosine similarity and reports the ROC-AUC
with positives i = j. egoimu's headline ROC-AUC (:func:`correspondence_headline`: the one definition, reported by
both the trainer's per-epoch validation, ``val_roc_auc``, and ``egoimu eval corr``, ``roc_auc``) counts every
other pair as a negative except pairs of clips of the same video whose windows overlap; beside it, labelled
``*_all_pairs``, the paper's count over all N² pairs (:func:`correspondence_auc`). This module adds, on the same
(N, N) score matrix ``scores[i, j] = sim(video_i, imu_j)``:

- **exclusions**: pairs (i, j), i != j, that must not count as negatives, e.g. two clips whose windows overlap
  in the same video (:func:`overlap_mask`): their head motion is partly the same, so calling them
  non-matching is wrong. Excluded pairs are dropped from the AUC and from the retrieval rankings.
- **within-batch ROC-AUC** (ours): the view the contrastive loss has during training, where a clip only meets
  the other clips of its batch. Clips are cut into consecutive blocks of B (in the given order, or after a
  seeded permutation, which mimics random batches); the negatives are the off-diagonal pairs *within* a block,
  the positives all N diagonal pairs; the AUC pools every block's pairs into one ``roc_auc_score`` (it is not
  a mean of per-block AUCs). A last, shorter block is kept.
- **retrieval** in both directions: video -> head motion ranks row i (candidates j), head motion -> video
  ranks column j (candidates i); recall@1, recall@5 and the mean reciprocal rank. Ties count against the
  positive (rank = 1 + #candidates scoring >= the positive), so constant scores cannot look perfect.
- **shifted negatives** (ours, harder): each clip's negatives are only the other clips *of the same video*
  whose windows do not overlap (optionally only those starting within ``max_shift_s``): the same person,
  scene and kitchen, the head motion of another moment. See :func:`shifted_negatives`.
- **classification** (Tables 1, 2, 4): EPIC-KITCHENS' standard verb metrics, top-1, top-5 accuracy and mean
  class accuracy (:func:`classification_metrics`), for the verb classifiers and the linear probe.
- **bootstrap** percentile intervals; for pair metrics the resampling draws clips (rows and columns
  together) and never counts a drawn clip's copy as its own negative (:func:`bootstrap_pairs_ci`).

Arrays are numpy (a CPU torch tensor converts via ``np.asarray``); scores are float64 internally.
Memory and time: a few (N, N) boolean/float matrices (N = 4379: 19 M pairs, ~150 MB per float64 matrix);
:func:`correspondence_metrics` at that size takes ~15 s, nearly all in ``roc_auc_score``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

#: Names accepted as ``metric`` by :func:`bootstrap_pairs_ci`.
PAIR_METRICS: tuple[str, ...] = ("roc_auc", "v2i_recall@1", "v2i_recall@5", "v2i_mrr",
                                 "i2v_recall@1", "i2v_recall@5", "i2v_mrr")


def pair_scores(video_emb: Any, imu_emb: Any) -> np.ndarray:
    """Cosine similarity of every (video i, head motion j) pair.

    video_emb, imu_emb: (N, D) float, any row scale (rows are L2-normalised here; an all-zero row scores 0).
    Returns (N, N) float64, ``[i, j] = cos(video_i, imu_j)``; the diagonal holds the matching pairs.
    """
    v = np.asarray(video_emb, dtype=np.float64)
    m = np.asarray(imu_emb, dtype=np.float64)
    if v.ndim != 2 or v.shape != m.shape:
        raise ValueError(f"video {v.shape} and imu {m.shape} embeddings must both be (N, D)")
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    m = m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
    return v @ m.T


def correspondence_auc(video_emb: Any, imu_emb: Any) -> float:
    """The paper's count of the correspondence ROC-AUC: cosine similarity over all N² (video i, head motion j)
    pairs, positives i = j, every other pair a negative (overlapping windows included: the ``*_all_pairs``
    value beside egoimu's headline, :func:`correspondence_headline`).

    video_emb, imu_emb: (N, D) float arrays or CPU tensors (any row scale), N >= 2. Returns a float in [0, 1]
    (0.5 = chance). ValueError for other shapes or non-finite scores.
    """
    scores = _check_scores(pair_scores(video_emb, imu_emb))
    return _pooled_auc(scores, _negatives(len(scores), None))


def correspondence_headline(scores: Any, video_ids: Any, start_s: Any, end_s: Any) -> dict[str, Any]:
    """The headline correspondence ROC-AUC and the all-pairs value beside it: the one definition that the
    trainer's per-epoch validation (``val_roc_auc``, ``val_roc_auc_all_pairs``) and ``egoimu eval corr``
    (``roc_auc``, ``roc_auc_all_pairs``) both report.

    scores: (N, N) as in :func:`correspondence_metrics` (e.g. :func:`pair_scores`); video_ids, start_s, end_s:
    (N,) the clips' videos and windows in the same order, as in :func:`overlap_mask`.

    Returns {"roc_auc": the N positives against every off-diagonal pair except the same-video pairs whose
    windows overlap (they share head motion, so they are not negatives), None when no negative is left (every
    pair overlaps); "roc_auc_all_pairs": against every off-diagonal pair (the paper's count); "n": N;
    "n_excluded": the ordered pairs left out of the headline}. ValueError for mismatched shapes, N < 2 or
    non-finite scores.
    """
    s = _check_scores(scores)
    n = s.shape[0]
    if np.asarray(video_ids).shape != (n,):
        raise ValueError(f"video_ids must be ({n},) for ({n}, {n}) scores, got {np.asarray(video_ids).shape}")
    neg = _negatives(n, overlap_mask(video_ids, start_s, end_s))
    return {"roc_auc": _pooled_auc(s, neg) if neg.any() else None,
            "roc_auc_all_pairs": _pooled_auc(s, _negatives(n, None)), "n": n,
            "n_excluded": int(n * (n - 1) - neg.sum())}


def _check_scores(scores: Any) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise ValueError(f"scores must be a square (N, N) matrix, got {s.shape}")
    if s.shape[0] < 2:
        raise ValueError(f"correspondence metrics need at least 2 clips (negatives), got {s.shape[0]}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or infinity")
    return s


def _negatives(n: int, exclude: Any | None) -> np.ndarray:
    """(N, N) bool: the pairs that count as negatives (off-diagonal, not excluded)."""
    neg = ~np.eye(n, dtype=bool)
    if exclude is not None:
        ex = np.asarray(exclude)
        if ex.shape != (n, n) or ex.dtype != bool:
            raise ValueError(f"exclude must be a ({n}, {n}) bool mask, got {ex.shape} {ex.dtype}")
        neg &= ~ex
    return neg


def _pooled_auc(scores: np.ndarray, neg: np.ndarray, pos: np.ndarray | None = None) -> float:
    """ROC-AUC of the diagonal entries (those of clips ``pos``, bool (N,); default all) against ``scores[neg]``."""
    diag = np.diag(scores) if pos is None else np.diag(scores)[pos]
    negs = scores[neg]
    if diag.size == 0 or negs.size == 0:
        raise ValueError(f"ROC-AUC needs positives and negatives, got {diag.size} and {negs.size}")
    y = np.concatenate([np.ones(diag.size, dtype=bool), np.zeros(negs.size, dtype=bool)])
    return float(roc_auc_score(y, np.concatenate([diag, negs])))


def _ranks(scores: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """(N,) int64 rank of each row's diagonal among itself and the row's negatives; ties count against it."""
    pos = np.diag(scores)[:, None]
    return 1 + ((scores >= pos) & neg).sum(axis=1)


def _retrieval(ranks: np.ndarray, prefix: str) -> dict[str, float]:
    return {f"{prefix}_recall@1": float(np.mean(ranks <= 1)), f"{prefix}_recall@5": float(np.mean(ranks <= 5)),
            f"{prefix}_mrr": float(np.mean(1.0 / ranks))}


def batch_blocks(n: int, batch_size: int, seed: int | None = None) -> np.ndarray:
    """(N,) int64 block id of each clip: consecutive blocks of ``batch_size`` (the last may be shorter).

    seed None: blocks in the given order (clip k is in block k // B); an int: the clips are first permuted
    with ``np.random.default_rng(seed)``, so that blocks look like the trainer's random batches.
    """
    if batch_size < 2:
        raise ValueError(f"batch_size must be >= 2 (a block needs negatives), got {batch_size}")
    block = np.arange(n, dtype=np.int64) // batch_size
    if seed is None:
        return block
    out = np.empty(n, dtype=np.int64)
    out[np.random.default_rng(seed).permutation(n)] = block
    return out


def correspondence_metrics(
    scores: Any, *, exclude: Any | None = None, batch_size: int | None = None, batch_seed: int | None = None
) -> dict[str, Any]:
    """All correspondence metrics of one (N, N) score matrix (``scores[i, j]``: video i vs head motion j).

    exclude: optional (N, N) bool, True for off-diagonal pairs that are not negatives (e.g. :func:`overlap_mask`);
    its diagonal is ignored (the N matching pairs are always the positives).
    batch_size: B >= 2 for the within-batch ROC-AUC (blocks from :func:`batch_blocks` with ``batch_seed``).

    Returns a dict: ``n`` (N), ``n_negative`` (negatives counted), ``n_excluded`` (off-diagonal pairs excluded),
    ``roc_auc`` (all N positives vs all counted negatives), ``batch_size``, ``batch_seed``, ``roc_auc_batch`` and
    ``n_negative_batch`` (None without batch_size), and ``v2i_recall@1``, ``v2i_recall@5``, ``v2i_mrr``
    (video -> head motion: rank within row i), ``i2v_recall@1``, ``i2v_recall@5``, ``i2v_mrr`` (within
    column j), all floats in [0, 1]. Excluded pairs are not candidates in the rankings.
    """
    s = _check_scores(scores)
    n = s.shape[0]
    neg = _negatives(n, exclude)
    out: dict[str, Any] = {"n": n, "n_negative": int(neg.sum()), "n_excluded": int(n * (n - 1) - neg.sum()),
                           "roc_auc": _pooled_auc(s, neg), "batch_size": batch_size, "batch_seed": batch_seed,
                           "roc_auc_batch": None, "n_negative_batch": None}
    if batch_size is not None:
        block = batch_blocks(n, batch_size, batch_seed)
        neg_b = neg & (block[:, None] == block[None, :])
        out["roc_auc_batch"] = _pooled_auc(s, neg_b)
        out["n_negative_batch"] = int(neg_b.sum())
    out.update(_retrieval(_ranks(s, neg), "v2i"))
    out.update(_retrieval(_ranks(s.T, neg.T), "i2v"))
    return out


def overlap_mask(video_ids: Any, start_s: Any, end_s: Any) -> np.ndarray:
    """(N, N) bool: True where two different clips (i != j) of the same video have overlapping windows.

    video_ids: (N,) any hashable dtype (str or int); start_s, end_s: (N,) float seconds on the video
    timeline, windows half-open [start, end): clips that only touch (end_i == start_j) do not overlap.
    Two clips with the same window overlap. The diagonal is False. Symmetric.
    """
    vid = np.asarray(video_ids)
    a = np.asarray(start_s, dtype=np.float64)
    b = np.asarray(end_s, dtype=np.float64)
    if vid.ndim != 1 or a.shape != vid.shape or b.shape != vid.shape:
        raise ValueError(f"video_ids {vid.shape}, start_s {a.shape} and end_s {b.shape} must all be (N,)")
    if np.any(b <= a):
        raise ValueError("every window needs end_s > start_s")
    _, code = np.unique(vid, return_inverse=True)
    same = code[:, None] == code[None, :]
    out = same & (a[:, None] < b[None, :]) & (a[None, :] < b[:, None])
    np.fill_diagonal(out, False)
    return out


def shifted_negatives(
    scores: Any, video_ids: Any, start_s: Any, end_s: Any, *, max_shift_s: float | None = None
) -> dict[str, Any]:
    """Harder correspondence ROC-AUC: negatives only from the same video, at another (non-overlapping) moment.

    scores: (N, N) as in :func:`correspondence_metrics`; video_ids, start_s, end_s: (N,) as in :func:`overlap_mask`.
    Negatives: pairs (i, j), i != j, of the same video whose windows do not overlap and, when ``max_shift_s``
    (seconds) is given, whose starts differ by at most that (the nearest shifts are the hardest). Both (i, j)
    and (j, i) count. Positives: the diagonal of the clips with at least one such negative; clips without
    (alone in their video) are dropped. One pooled ``roc_auc_score``.

    Returns dict: ``roc_auc``, ``n_clips`` (positives), ``n_negative``, ``n_dropped`` (clips without negatives),
    ``max_shift_s``.
    """
    s = _check_scores(scores)
    n = s.shape[0]
    if np.asarray(video_ids).shape != (n,):
        raise ValueError(f"video_ids must be ({n},) for ({n}, {n}) scores")
    vid = np.unique(np.asarray(video_ids), return_inverse=True)[1]
    neg = (vid[:, None] == vid[None, :]) & ~overlap_mask(video_ids, start_s, end_s) & ~np.eye(n, dtype=bool)
    if max_shift_s is not None:
        a = np.asarray(start_s, dtype=np.float64)
        neg &= np.abs(a[:, None] - a[None, :]) <= max_shift_s
    has = neg.any(axis=1)
    if not has.any():
        raise ValueError("no clip has a same-video, non-overlapping negative")
    return {"roc_auc": _pooled_auc(s, neg, has), "n_clips": int(has.sum()), "n_negative": int(neg.sum()),
            "n_dropped": int(n - has.sum()), "max_shift_s": max_shift_s}


def _interval(values: list[float], estimate: float, alpha: float, n_boot: int) -> tuple[float, float, float]:
    if not values:
        raise ValueError("every bootstrap resample failed (metric raised ValueError)")
    if len(values) < n_boot:
        warnings.warn(f"bootstrap: {n_boot - len(values)} of {n_boot} resamples failed and were skipped",
                      RuntimeWarning, stacklevel=3)
    low, high = np.quantile(np.asarray(values, dtype=np.float64), [alpha / 2, 1 - alpha / 2])
    return float(estimate), float(low), float(high)


def _check_boot(n_boot: int, alpha: float) -> None:
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def bootstrap_ci(
    metric_fn: Callable[..., float], *arrays: Any, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> tuple[float, float, float]:
    """Percentile bootstrap over items: (estimate, low, high).

    arrays: one or more arrays with the same length N along axis 0 (items: clips); every resample draws N
    item indices with replacement (``np.random.default_rng(seed)``) and applies them to all arrays alike.
    metric_fn(*arrays) -> float. estimate = metric_fn on the full arrays; low/high = the alpha/2 and
    1 - alpha/2 quantiles of the ``n_boot`` resampled values. Resamples where metric_fn raises ValueError
    (e.g. one class only) are skipped with a RuntimeWarning. Deterministic for a seed.
    """
    _check_boot(n_boot, alpha)
    arrs = [np.asarray(a) for a in arrays]
    if not arrs or arrs[0].ndim == 0:
        raise ValueError("bootstrap_ci needs at least one array with an item axis")
    n = len(arrs[0])
    if n == 0 or any(len(a) != n for a in arrs):
        raise ValueError(f"arrays must share a non-zero length along axis 0, got {[len(a) for a in arrs]}")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        try:
            values.append(float(metric_fn(*(a[idx] for a in arrs))))
        except ValueError:
            continue
    return _interval(values, float(metric_fn(*arrs)), alpha, n_boot)


def _named_pair_metric(name: str) -> Callable[[np.ndarray, np.ndarray], float]:
    if name not in PAIR_METRICS:
        raise ValueError(f"unknown pair metric {name!r}; one of {PAIR_METRICS} or a callable")

    def metric(scores: np.ndarray, exclude: np.ndarray) -> float:
        neg = _negatives(len(scores), exclude)
        if name == "roc_auc":
            return _pooled_auc(scores, neg)
        if name.startswith("v2i"):
            return _retrieval(_ranks(scores, neg), "v2i")[name]
        return _retrieval(_ranks(scores.T, neg.T), "i2v")[name]

    return metric


def bootstrap_pairs_ci(
    scores: Any,
    metric: str | Callable[[np.ndarray, np.ndarray], float] = "roc_auc",
    *,
    exclude: Any | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[float, float, float]:
    """Percentile bootstrap of a pair metric, resampling clips: (estimate, low, high).

    scores: (N, N) as in :func:`correspondence_metrics`; exclude: optional (N, N) bool as there.
    metric: a name in :data:`PAIR_METRICS` or a callable ``metric(scores (M, M) float64, exclude (M, M) bool)
    -> float``. Each resample draws N clip indices ``idx`` with replacement and takes ``scores[idx][:, idx]``
    (rows and columns together); a clip drawn twice is the same clip, so pairs of its copies are added to
    the exclusions (never negatives). estimate: the metric on the full matrix. Cost: n_boot full metric
    evaluations: the retrieval metrics are cheap (~0.05 s at N = 4379), but ``roc_auc_score`` on the test
    split's 19 M pairs takes ~10 s on one CPU core, so 1000 resamples of the ROC-AUC take ~3 h there.
    """
    s = _check_scores(scores)
    n = s.shape[0]
    _check_boot(n_boot, alpha)
    fn = _named_pair_metric(metric) if isinstance(metric, str) else metric
    ex = np.zeros((n, n), dtype=bool) if exclude is None else ~_negatives(n, exclude)
    np.fill_diagonal(ex, False)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        sub_ex = ex[np.ix_(idx, idx)] | (idx[:, None] == idx[None, :])
        np.fill_diagonal(sub_ex, False)
        try:
            values.append(float(fn(s[np.ix_(idx, idx)], sub_ex)))
        except ValueError:
            continue
    return _interval(values, float(fn(s, ex)), alpha, n_boot)


# ------------------------------------------------------------------------ classification (EPIC's verb metrics)

#: EPIC-KITCHENS' standard verb metrics beside top-1: top-5 accuracy and mean class accuracy.
CLASSIFICATION_METRICS = ("top1", "top5", "mean_class")


def top_k_correct(y: Any, probs: Any, k: int = 5, classes: Any | None = None) -> np.ndarray:
    """Per item (N,) bool: whether label ``y[i]`` is among the ``k`` highest-scoring columns of ``probs`` (N, C).
    Column j is class ``classes[j]`` (default: j); a label with no column counts as wrong. k >= C: every
    label that has a column is correct. Ties: the lower column first (a stable sort)."""
    p = np.asarray(probs, dtype=np.float64)
    ya = np.asarray(y)
    if p.ndim != 2 or ya.shape != (len(p),):
        raise ValueError(f"probs {p.shape} must be (N, C) and y {ya.shape} (N,)")
    cols = np.arange(p.shape[1]) if classes is None else np.asarray(classes)
    top = cols[np.argsort(-p, axis=1, kind="stable")[:, :k]]
    return (top == ya[:, None]).any(axis=1)


def mean_class_accuracy(y: Any, pred: Any) -> float:
    """The mean over the labels present in ``y`` of each label's accuracy (its recall): every class counts the
    same, however many items it has."""
    ya, pa = np.asarray(y), np.asarray(pred)
    if ya.shape != pa.shape or ya.ndim != 1 or len(ya) == 0:
        raise ValueError(f"y {ya.shape} and pred {pa.shape} must be the same non-empty (N,)")
    return float(np.mean([np.mean(pa[ya == c] == c) for c in np.unique(ya)]))


def classification_metrics(y: Any, probs: Any, classes: Any | None = None, *, k: int = 5, n_boot: int = 1000,
                           seed: int = 0) -> dict[str, tuple[float, float | None, float | None]]:
    """{"top1", "top5" (top-``k``), "mean_class"}: (value, low, high) with percentile-bootstrap 95 % intervals
    over items (the same ``seed`` for the three; no interval when ``n_boot`` is 0). ``probs`` (N, C) as
    :func:`top_k_correct`; the prediction is the argmax column."""
    p = np.asarray(probs, dtype=np.float64)
    cols = np.arange(p.shape[1]) if classes is None else np.asarray(classes)
    ya = np.asarray(y)
    pred = cols[p.argmax(axis=1)]
    values = {"top1": (np.mean, ((pred == ya).astype(np.float64),)),
              "top5": (np.mean, (top_k_correct(ya, p, k, cols).astype(np.float64),)),
              "mean_class": (mean_class_accuracy, (ya, pred))}
    out: dict[str, tuple[float, float | None, float | None]] = {}
    for name, (fn, arrays) in values.items():
        out[name] = (bootstrap_ci(fn, *arrays, n_boot=n_boot, seed=seed) if n_boot > 0
                     else (float(fn(*arrays)), None, None))
    return out
