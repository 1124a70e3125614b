"""The correspondence evaluation (paper Table 3): does this head motion go with this video?

Every clip of a split is embedded on both sides (video and head-motion encoder, eval mode, no gradient;
the embeddings after the projection heads, which the loss compares) and all N x N (video i, head motion j)
pairs are scored by cosine similarity (:func:`egoimu.train.eval.metrics.pair_scores`); the N pairs i = j are the
positives. The paper reports the ROC-AUC over all pairs; egoimu's headline excludes overlapping same-video
pairs, with the all-pairs value beside it (:func:`egoimu.train.eval.metrics.correspondence_headline`, the one
definition, which the trainer's per-epoch validation reports too); chance is 0.5.

Command (the result file of ``egoimu.train.eval.results``, evaluation "corr", table 3)::

    egoimu eval corr RUN [--split test] [--data DATA_ROOT] [--checkpoint PATH] [--batch-size-auc B]
                         [--n-boot 200] [--seed 0] [--label L] [--out-dir DIR] [--json FILE]

RUN's ``config.json`` names the data root unless ``--data`` is given; the checkpoint is ``RUN/last.pt``
unless ``--checkpoint`` (an egoimu checkpoint) is given. The run needs both encoders (a contrastive run).
Metrics (:func:`correspondence_report`, all on the same score matrix):

- ``roc_auc`` (the headline, = the trainer's ``val_roc_auc`` on the validation split): all N positives against
  every other pair, except pairs of clips of the same video whose windows overlap (clips.csv ``start_s``/``end_s``;
  :func:`egoimu.train.eval.metrics.overlap_mask`): they share head motion, so they are not negatives (ours;
  ``roc_auc_all_pairs``, = ``val_roc_auc_all_pairs``, is the paper's count with them);
- ``roc_auc_batch``: negatives only within blocks of B clips after a permutation seeded with ``--seed``
  (B: ``--batch-size-auc``, default the run's global training batch): what the loss sees;
- ``roc_auc_shifted``: negatives only from the same video at non-overlapping times (null when no clip
  has one); ``v2i_*`` / ``i2v_*``: recall@1, recall@5 and MRR of retrieval in both directions;
- 95 % CIs: percentile bootstrap over clips (:func:`egoimu.train.eval.metrics.bootstrap_pairs_ci`: rows and columns
  resampled together, a clip's copies never negatives of each other), ``--n-boot`` resamples (default
  200, fewer than the probes' 1000 because every resample re-scores ~N² pairs), the same draws for every
  metric (one seed). The ROC-AUCs of the resamples use a sort-based Mann-Whitney count, equal to
  scikit-learn's ``roc_auc_score`` (ties count one half) at a fraction of its time.
- ``roc_curve``: scikit-learn's ``roc_curve`` over the counted pairs, thinned to <= 201 of its points.

Cost at the paper's test split (N = 4379, 19 M pairs): a few (N, N) matrices (~150 MB each); the default
200 resamples take tens of minutes on one CPU core (``--n-boot 0``: estimates only, seconds).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from egoimu.manifests.clihelp import HelpFormatter, OneLineParser, examples
from egoimu.manifests.shardfmt import SPLITS
from egoimu.train.config import TrainConfig
from egoimu.train.data import SplitIndex
from egoimu.train.encode import encode_split
from egoimu.train.eval.metrics import (
    PAIR_METRICS,
    batch_blocks,
    bootstrap_pairs_ci,
    correspondence_headline,
    correspondence_metrics,
    overlap_mask,
    pair_scores,
    shifted_negatives,
)
from egoimu.train.eval.representations import (
    Representation,
    RepresentationError,
    add_result_args,
    checkpoint_objective,
    data_root_of,
    is_kinetics,
    load_representation,
    out_dir,
    provenance,
    run_command,
    write_summary,
)
from egoimu.train.eval.results import ci, data_conditions, make_result, result_name, write_result
from egoimu.train.models.slowfast import CheckpointError

MAX_ROC_POINTS = 201
RETRIEVAL = tuple(m for m in PAIR_METRICS if m != "roc_auc")  # v2i/i2v recall@1, recall@5, mrr


# ---------------------------------------------------------------------------------------------- metrics


def mann_whitney_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC-AUC of positive scores ``pos`` (P,) against negative scores ``neg`` (M,) as the Mann-Whitney
    count: P(pos > neg) + P(pos == neg) / 2 (= ``roc_auc_score``); sorts ``neg`` once (O(M log M)).
    ValueError when either side is empty."""
    pos, neg = np.asarray(pos, dtype=np.float64).ravel(), np.sort(np.asarray(neg, dtype=np.float64).ravel())
    if pos.size == 0 or neg.size == 0:
        raise ValueError(f"ROC-AUC needs positives and negatives, got {pos.size} and {neg.size}")
    below = np.searchsorted(neg, pos, side="left").astype(np.float64)
    ties = np.searchsorted(neg, pos, side="right") - below
    return float((below.sum() + 0.5 * ties.sum()) / (pos.size * neg.size))


def _off_diagonal(exclude: np.ndarray) -> np.ndarray:
    neg = ~exclude
    np.fill_diagonal(neg, False)
    return neg


def _auc(scores: np.ndarray, exclude: np.ndarray) -> float:
    """The pooled ROC-AUC: every diagonal entry against every non-excluded off-diagonal pair."""
    return mann_whitney_auc(np.diag(scores), scores[_off_diagonal(exclude)])


def _shifted_auc(scores: np.ndarray, exclude: np.ndarray) -> float:
    """The pooled ROC-AUC of the clips that have a negative (``exclude``: all but same-video shifted pairs)."""
    neg = _off_diagonal(exclude)
    has = neg.any(axis=1)
    return mann_whitney_auc(np.diag(scores)[has], scores[neg])


def _batch_auc(batch_size: int, seed: int):
    def metric(scores: np.ndarray, exclude: np.ndarray) -> float:
        block = batch_blocks(len(scores), batch_size, seed)
        neg = _off_diagonal(exclude) & (block[:, None] == block[None, :])
        return mann_whitney_auc(np.diag(scores), scores[neg])

    return metric


def roc_points(scores: np.ndarray, exclude: np.ndarray, max_points: int = MAX_ROC_POINTS) -> dict[str, list[float]]:
    """scikit-learn's ``roc_curve`` over the diagonal (positives) and the non-excluded pairs, thinned to at
    most ``max_points`` of its points (evenly along the curve; first and last kept): {"fpr", "tpr"}."""
    from sklearn.metrics import roc_curve

    pos, neg = np.diag(scores), scores[_off_diagonal(exclude)]
    y = np.concatenate([np.ones(pos.size, dtype=bool), np.zeros(neg.size, dtype=bool)])
    fpr, tpr, _ = roc_curve(y, np.concatenate([pos, neg]))
    keep = np.unique(np.round(np.linspace(0, len(fpr) - 1, min(max_points, len(fpr)))).astype(np.int64))
    return {"fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist()}


def correspondence_report(
    video_emb: Any, imu_emb: Any, video_ids: Any, start_s: Any, end_s: Any, *, batch_size: int, seed: int = 0,
    n_boot: int = 200, progress: bool = False,
) -> tuple[dict[str, tuple[float | None, float | None, float | None]], dict[str, Any]]:
    """Every Table 3 metric of one split (module docstring) with bootstrap CIs.

    video_emb, imu_emb: (N, D) float; video_ids (N,), start_s, end_s (N,) float seconds (the clips' windows).
    batch_size: B >= 2 of the within-batch ROC-AUC; seed: its permutation and the bootstrap's draws;
    n_boot: resamples (0: no intervals). Returns (metrics {name: (value, low, high)} with the names of
    ``results.RESULT_SCHEMA``'s corr and ``roc_auc_all_pairs`` (no interval); value None where undefined,
    extras {roc_curve, n, n_pairs (= N + counted negatives), n_negative, n_excluded (ordered pairs), batch_size,
    batch_seed, n_negative_batch, shifted {n_clips, n_negative, n_dropped}, n_boot, bootstrap_skipped {metric:
    note} (resamples without positives or negatives, e.g. every draw one clip, are skipped)}).
    """
    scores = pair_scores(video_emb, imu_emb)
    n = len(scores)
    headline = correspondence_headline(scores, video_ids, start_s, end_s)
    overlap = overlap_mask(video_ids, start_s, end_s)
    cm = correspondence_metrics(scores, exclude=overlap, batch_size=batch_size, batch_seed=seed)
    same = np.unique(np.asarray(video_ids), return_inverse=True)[1]
    shift_exclude = (same[:, None] != same[None, :]) | overlap
    try:
        shifted: dict[str, Any] | None = shifted_negatives(scores, video_ids, start_s, end_s)
    except ValueError:
        shifted = None  # no clip shares its video with a non-overlapping one
    values = {"roc_auc": headline["roc_auc"], **{name: cm[name] for name in ("roc_auc_batch", *RETRIEVAL)}}
    values["roc_auc_shifted"] = shifted["roc_auc"] if shifted else None
    plan: dict[str, tuple[Any, np.ndarray]] = {
        "roc_auc": (_auc, overlap), "roc_auc_batch": (_batch_auc(batch_size, seed), overlap),
        **({"roc_auc_shifted": (_shifted_auc, shift_exclude)} if shifted else {}),
        **{name: (name, overlap) for name in RETRIEVAL}}
    metrics: dict[str, tuple[float | None, float | None, float | None]] = {}
    skipped: dict[str, str] = {}
    for name in tqdm(values, desc="bootstrap", unit="metric", disable=None if progress and n_boot else True,
                     leave=False):
        low = high = None
        if name in plan and n_boot > 0:
            fn, exclude = plan[name]
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", RuntimeWarning)
                _, low, high = bootstrap_pairs_ci(scores, fn, exclude=exclude, n_boot=n_boot, seed=seed)
            notes = [str(w.message) for w in caught if "resamples failed" in str(w.message)]
            if notes:
                skipped[name] = notes[-1]
        metrics[name] = (values[name], low, high)
    metrics["roc_auc_all_pairs"] = (headline["roc_auc_all_pairs"], None, None)
    extras = {"roc_curve": roc_points(scores, overlap), "n": n, "n_pairs": n + cm["n_negative"],
              "n_negative": cm["n_negative"], "n_excluded": cm["n_excluded"], "batch_size": batch_size,
              "batch_seed": seed, "n_negative_batch": cm["n_negative_batch"], "n_boot": n_boot,
              "bootstrap_skipped": skipped,
              "shifted": {k: shifted[k] for k in ("n_clips", "n_negative", "n_dropped")} if shifted else None}
    return metrics, extras


def variant(cfg: TrainConfig) -> dict[str, str]:
    """Table 3's cell of a run: {"video_cnn": "freeze" | "update", "pretrained_on": "supervised" (init_video
    is an egoimu verb_video checkpoint) | "kinetics" (a pytorchvideo checkpoint the user named Kinetics:
    ``--init-name kinetics400``, :func:`~egoimu.train.eval.representations.is_kinetics`) | "other" (another
    egoimu checkpoint, one no longer readable: noted on stderr, or a pytorchvideo checkpoint named otherwise or
    not at all) | "none" (no init_video)}; for a pytorchvideo init also "provenance": the user's name, else
    "pytorchvideo checkpoint (unnamed)" — recorded, never guessed from the file."""
    video_cnn = "freeze" if cfg.freeze_video else "update"
    if not cfg.init_video:
        return {"video_cnn": video_cnn, "pretrained_on": "none"}
    try:
        objective = checkpoint_objective(cfg.init_video)
    except CheckpointError as exc:
        print(f"egoimu eval corr: note: cannot tell what init_video was pretrained on ({exc}); 'other'",
              file=sys.stderr)
        return {"video_cnn": video_cnn, "pretrained_on": "other"}
    if objective is None:
        name = cfg.init_video_name
        return {"video_cnn": video_cnn, "pretrained_on": "kinetics" if is_kinetics(name) else "other",
                "provenance": provenance(name)}
    return {"video_cnn": video_cnn, "pretrained_on": "supervised" if objective == "verb_video" else "other"}


def variant_label(v: dict[str, str]) -> str:
    """E.g. "update video CNN (supervised init)", "freeze video CNN (random init)", "update video CNN
    (kinetics400 init)" (a pytorchvideo init: its provenance)."""
    init = v.get("provenance") or ("random" if v["pretrained_on"] == "none" else v["pretrained_on"])
    return f"{v['video_cnn']} video CNN ({init} init)"


# ---------------------------------------------------------------------------------------------- command


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = OneLineParser(
        formatter_class=HelpFormatter,
        prog="egoimu eval corr",
        description="Correspondence of video and head motion (paper Table 3): embed every clip of a split with "
                    "a trained run's two encoders, score all N² pairs by cosine similarity; ROC-AUC (headline: "
                    "overlapping same-video pairs excluded, as the trainer's val_roc_auc; beside it all pairs, "
                    "within batches, shifted in time), retrieval recall@1/@5 and MRR, bootstrap 95% CIs, ROC "
                    "curve; writes eval-corr-<label>.json.",
        epilog=examples("egoimu eval corr runs/ssl", "egoimu eval corr runs/ssl --split validation --json -"))
    p.add_argument("run", help="run directory (holds config.json and last.pt)")
    p.add_argument("--split", default="test", choices=SPLITS, help="the split to use")
    p.add_argument("--data", help="data root (a build's output) (default: the one in RUN/config.json)")
    p.add_argument("--checkpoint", help="egoimu checkpoint to evaluate (default: RUN/last.pt)")
    p.add_argument("--batch-size", type=int, help="clips per embedding batch (default: the run's)")
    p.add_argument("--num-workers", type=int, help="DataLoader workers (default: the run's)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="auto: CUDA if available")
    p.add_argument("--batch-size-auc", type=int, help="B of the within-batch ROC-AUC (default: the run's global "
                                                      "training batch)")
    p.add_argument("--seed", type=int, default=0, help="seeds the batch permutation and the bootstrap (default: 0)")
    add_result_args(p, n_boot=200)
    return p.parse_args(argv)


def _load(args: argparse.Namespace) -> Representation:
    loader = {"batch_size": args.batch_size, "num_workers": args.num_workers, "device": args.device}
    if args.checkpoint:
        rep = load_representation(checkpoint=args.checkpoint, **loader)
        if rep.kind != "run":
            raise RepresentationError(f"--checkpoint {args.checkpoint}: not an egoimu training checkpoint")
        rep.run = Path(args.run)
    else:
        rep = load_representation(args.run, **loader)
    if rep.video is None or rep.imu is None:
        raise RepresentationError(f"{rep.source}: a {rep.objective} run has only one encoder; the correspondence "
                                  f"needs both the video and the head-motion encoder (a contrastive run)")
    return rep


def evaluate(args: argparse.Namespace) -> tuple[dict[str, Any], Path]:
    """Embed, score and write the result file; returns (result, its path)."""
    if args.n_boot < 0 or (args.batch_size_auc is not None and args.batch_size_auc < 2):
        raise RepresentationError(f"need --n-boot >= 0 and --batch-size-auc >= 2, got {args.n_boot} and "
                                  f"{args.batch_size_auc}")
    data = args.data if args.data is not None else data_root_of(args.run)
    rep = _load(args)
    index = SplitIndex.open(data, args.split)
    if index.manifest_sha256 != rep.trained_manifest_sha256:
        print(f"egoimu eval corr: note: {data} is not the build the run trained on (manifest sha256 differs)",
              file=sys.stderr)
    out, ids, _ = encode_split(index, rep.cfg, rep.device, {"video": lambda v, s: rep.video(v),  # type: ignore
                                                            "imu": lambda v, s: rep.imu(s)},  # type: ignore
                               [rep.video, rep.imu], progress=True, desc=f"embed {args.split}")
    batch = args.batch_size_auc or rep.train_batch or rep.cfg.batch_size
    if len(ids) < 2:
        raise RepresentationError(f"{data}: split {args.split!r} has {len(ids)} clip; the correspondence needs two")
    clips = index.clips
    metrics, extras = correspondence_report(out["video"].numpy(), out["imu"].numpy(), clips.video_id.to_numpy(),
                                            clips.start_s.to_numpy(), clips.end_s.to_numpy(), batch_size=batch,
                                            seed=args.seed, n_boot=args.n_boot, progress=True)
    v = variant(rep.cfg)
    label = args.label or variant_label(v)
    conditions = {**data_conditions(data, args.split), "n": len(ids), **rep.conditions(), "eval_seed": args.seed,
                  "init_provenance": v.get("provenance")}
    result = make_result("corr", 3, label, conditions, {k: ci(*m) for k, m in metrics.items()}, variant=v,
                         **extras, ci_method=f"percentile bootstrap over clips, {args.n_boot} resamples")
    return result, write_result(out_dir(args, rep) / result_name("corr", label), result)


def _fmt(m: dict[str, Any]) -> str:
    if m["value"] is None:
        return "n/a"
    interval = f" [{m['low']:.3g}, {m['high']:.3g}]" if m["low"] is not None else ""
    return f"{m['value']:.4g}{interval}"


def _main(args: argparse.Namespace) -> int:
    result, path = evaluate(args)
    m, c = result["metrics"], result["conditions"]
    print(f"correspondence on {c['split']} (N = {c['n']} clips; {result['n_pairs']} pairs counted, "
          f"{result['n_excluded']} overlapping same-video pairs excluded; step {c['step']}; chance 0.5):\n"
          f"  ROC-AUC {_fmt(m['roc_auc'])} (all pairs {_fmt(m['roc_auc_all_pairs'])}), within batches of "
          f"B = {result['batch_size']} {_fmt(m['roc_auc_batch'])}, shifted {_fmt(m['roc_auc_shifted'])}\n"
          f"  video->head motion recall@1 {_fmt(m['v2i_recall@1'])}, @5 {_fmt(m['v2i_recall@5'])}, MRR "
          f"{_fmt(m['v2i_mrr'])}; head motion->video recall@1 {_fmt(m['i2v_recall@1'])}, MRR {_fmt(m['i2v_mrr'])}\n"
          f"  95% CIs: {result['ci_method']}; Table 3 cell: {result['variant']['video_cnn']} video CNN, pretrained "
          f"on {result['variant']['pretrained_on']} -> {path}")
    for name, note in result["bootstrap_skipped"].items():
        print(f"  note: {name}: {note}")
    write_summary(args.json, {
        "roc_auc": m["roc_auc"]["value"], "roc_auc_low": m["roc_auc"]["low"], "roc_auc_high": m["roc_auc"]["high"],
        "roc_auc_all_pairs": m["roc_auc_all_pairs"]["value"], "n": c["n"], "n_pairs": result["n_pairs"],
        "n_excluded": result["n_excluded"], "split": c["split"], "data": c["data"], "checkpoint": c["checkpoint"],
        "step": c["step"], "model": c["model"], "config_sha256": c["config_sha256"],
        "manifest_sha256": c["manifest_sha256"], "result": str(path)})
    return 0


def main(argv: list[str] | None = None) -> int:
    """``egoimu eval corr``: prints the metrics, writes the result file; 0 on success, 2 on bad input."""
    args = parse_args(argv)
    return run_command("egoimu eval corr", lambda: _main(args), args.json)
