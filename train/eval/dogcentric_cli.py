"""``egoimu eval dogcentric``: a linear probe on DogCentric's head-motion activities, 2 folds by dog (Table 5).

    egoimu eval dogcentric (RUN | --random MODEL | --checkpoint PATH [--model full]) --data DOG_OUT
                           [--split test] [--C C | --Cs C ...] [--representation NAME] [--label L]
                           [--out-dir DIR] [--cache DIR] [--n-boot 1000] [--seed 0] [--json FILE]

DOG_OUT is a video-only build of ``egoimu build ROOT DOG_OUT --source dogcentric``: every clip in the
``test`` split, the dog in ``participant_id``, the activity in ``verb`` / ``verb_class`` (names in
manifest.json's ``source.class_names``). The representation's video backbone features of those clips
(:mod:`egoimu.train.eval.embed`, cached) are restricted to the paper's four head-motion activities (Walk, Shake,
LookLeft, LookRight; :func:`egoimu.train.eval.dogcentric.head_motion_mask`), and
:func:`egoimu.train.eval.dogcentric.pairings_summary` runs the 2-fold probe for each of the three ways to pair
the four dogs (C fixed with ``--C``, else chosen by leave-one-dog-out inside the training pair).

Result file (evaluation "dogcentric", table 5): metric ``top1`` = the mean over the three pairings of the
pairing's mean fold accuracy. Its 95 % CI is a percentile bootstrap over the selected clips: each
resample draws clips with replacement (the same draw for the three pairings) and recomputes that mean
from the clips' fixed test predictions (every clip is tested once per pairing; the probes are not
refitted, so the interval covers the test clips' sampling, not the training's). Extras: ``pairings`` (per
pairing: dogs, mean, pooled, folds with C), ``spread`` {std, min, max} over the pairings, ``per_class``
(accuracy per activity over all three pairings' test predictions) and ``confusion`` (summed over the
pairings: each clip counted three times), ``counts`` {dog: {activity: clips}}, ``C``.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from egoimu.manifests.clihelp import examples
from egoimu.train.eval.dogcentric import DOGS, HEAD_MOTION_ACTIVITIES, head_motion_mask, pairings_summary
from egoimu.train.eval.embed import features_for
from egoimu.train.eval.metrics import bootstrap_ci
from egoimu.train.eval.probe import fit_probe_at, predict
from egoimu.train.eval.probe_cli import accuracy_ci, percent, probe_parser, probe_setup
from egoimu.train.eval.representations import RepresentationError, run_command, write_summary
from egoimu.train.eval.results import ci, class_names, data_conditions, make_result, result_name, write_result
from egoimu.train.eval.supervised import named_confusion


def fold_predictions(features: np.ndarray, labels: np.ndarray, dogs: np.ndarray, pairing: dict[str, Any],
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each clip's test prediction and fold (0 or 1) in one pairing of
    :func:`egoimu.train.eval.dogcentric.two_fold_detail` (refitted with each fold's C: lbfgs is deterministic, so
    the predictions are the ones it counted, which is checked). Returns (pred (N,), fold (N,) int64; -1 and
    the input label dtype for clips of dogs outside the pairing)."""
    pred = np.empty(len(labels), dtype=labels.dtype)
    fold = np.full(len(labels), -1, dtype=np.int64)
    for k, f in enumerate(pairing["folds"]):
        tr, te = np.isin(dogs, f["train_dogs"]), np.isin(dogs, f["test_dogs"])
        pred[te] = predict(fit_probe_at(features[tr], labels[tr], f["C"], seed=seed), features[te])
        fold[te] = k
        if int(np.sum(pred[te] == labels[te])) != f["n_correct"]:
            raise RuntimeError(f"fold {f['train_dogs']} -> {f['test_dogs']}: the refitted probe differs")
    return pred, fold


def table5_accuracy(correct: np.ndarray, fold: np.ndarray) -> float:
    """Mean over pairings (columns) of the mean over folds 0, 1 of the fold's accuracy.

    correct: (N, P) 0/1 float, clip n correct in pairing p; fold: (N, P) int64, clip n's test fold in pairing p.
    ValueError when a fold has no clip (a bootstrap resample that drew none of its dogs' clips)."""
    means = []
    for p in range(correct.shape[1]):
        accs = []
        for k in (0, 1):
            sel = fold[:, p] == k
            if not sel.any():
                raise ValueError(f"pairing {p}, fold {k}: no clips")
            accs.append(correct[sel, p].mean())
        means.append(np.mean(accs))
    return float(np.mean(means))


def run_dogcentric(args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    """Features, the three pairings' folds, the bootstrap, the result file; returns (result, its path)."""
    rep, folder, cache, name = probe_setup(args)
    features, table = features_for(rep, args.data, args.split, cache_dir=cache, labelled_only=True)
    names = class_names(args.data)
    activity = np.array([names.get(int(c), str(c)) for c in table.verb_class])
    keep = head_motion_mask(activity)
    x, y, dogs = features[keep], activity[keep], table.participant_id.to_numpy().astype(str)[keep]
    found = sorted(set(dogs))
    if found != sorted(DOGS):
        raise RepresentationError(f"{args.data}: the head-motion activities need clips of the four dogs {list(DOGS)}; "
                                  f"split {args.split!r} has {found} (is it a --source dogcentric build?)")
    try:
        summary = pairings_summary(x, y, dogs, C=args.C, Cs=args.Cs, seed=args.seed)
    except ValueError as exc:
        raise RepresentationError(f"{args.data}: DogCentric probe: {exc}") from exc
    folds = [fold_predictions(x, y, dogs, p, args.seed) for p in summary["per_pairing"]]
    preds = np.stack([p for p, _ in folds], axis=1)
    fold = np.stack([f for _, f in folds], axis=1)
    correct = (preds == y[:, None]).astype(np.float64)
    estimate, low, high = bootstrap_ci(table5_accuracy, correct, fold, n_boot=max(args.n_boot, 1), seed=args.seed)
    if not np.isclose(estimate, summary["mean"]):
        raise RuntimeError(f"table 5 accuracy {estimate} differs from the pairings' mean {summary['mean']}")
    order = [a for a in HEAD_MOTION_ACTIVITIES if a in set(y)]
    pooled_y, pooled_pred = np.repeat(y, preds.shape[1]), preds.ravel()
    label = args.label or name
    pairings = [{"dogs": [list(p["pairing"][0]), list(p["pairing"][1])], "mean": p["mean"], "pooled": p["pooled"],
                 "folds": [{**{k: f[k] for k in ("train_dogs", "test_dogs", "accuracy", "n_train", "n_test", "C")},
                            "val_accuracy": {str(c): a for c, a in f["val_accuracy"].items()}} for f in p["folds"]]}
                for p in summary["per_pairing"]]
    conditions = {**data_conditions(args.data, args.split), "n": int(keep.sum()), **rep.conditions(),
                  "eval_seed": args.seed, "feature_dim": int(x.shape[1])}
    result = make_result(
        "dogcentric", 5, label, conditions,
        {"top1": ci(*accuracy_ci({"top1": summary["mean"], "top1_ci": (low, high)}, args.n_boot))},
        representation=name, pairings=pairings, spread={k: summary[k] for k in ("std", "min", "max")},
        per_class={a: float(np.mean(pooled_pred[pooled_y == a] == a)) for a in order},
        confusion=named_confusion(pooled_y, pooled_pred, order=order), C=args.C,
        C_per_fold=[f["C"] for p in summary["per_pairing"] for f in p["folds"]],
        counts={d: {a: int(np.sum((dogs == d) & (y == a))) for a in order} for d in DOGS},
        n_clips_all=len(table), activities=order,
        ci_method=f"percentile bootstrap over the {len(y)} selected clips, {args.n_boot} resamples (seed "
                  f"{args.seed}), the same draw for the 3 pairings, fixed test predictions")
    return result, write_result(folder / result_name("dogcentric", label), result)


def _main(args: argparse.Namespace) -> int:
    result, path = run_dogcentric(args)
    c, top1, spread = result["conditions"], result["metrics"]["top1"], result["spread"]
    print(f"DogCentric head-motion activities ({c['n']} clips of 4 dogs, {len(result['activities'])} activities), "
          f"{result['representation']} ({c['representation_kind']}, model {c['model']}): top-1 {percent(top1)}, "
          f"the mean over 3 dog pairings (min {100 * spread['min']:.1f}, max {100 * spread['max']:.1f}, std "
          f"{100 * spread['std']:.1f}) -> {path}")
    for p in result["pairings"]:
        fold_accs = ", ".join(f"{100 * f['accuracy']:.1f}" for f in p["folds"])
        print(f"  {'+'.join(p['dogs'][0])} | {'+'.join(p['dogs'][1])}: {100 * p['mean']:.1f} % (folds {fold_accs})")
    write_summary(args.json, {"top1": top1["value"], "low": top1["low"], "high": top1["high"], **spread,
                              "representation": result["representation"], "n": c["n"], "result": str(path)})
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = probe_parser(
        "egoimu eval dogcentric", "Linear probe on a representation's frozen video features of DogCentric's "
        "head-motion activities (Walk, Shake, LookLeft, LookRight), 2-fold cross-validation by dog for each of the "
        "three dog pairings (paper Table 5); writes eval-dogcentric-<label>.json.",
        examples("egoimu eval dogcentric runs/ssl --data out/dogcentric",
                 "egoimu eval dogcentric --random small --data out/dogcentric"))
    p.add_argument("--split", default="test", help="the build's split holding the clips (default: test, where "
                                                   "--source dogcentric puts them)")
    p.add_argument("--C", type=float, help="fixed C (default: chosen by leave-one-dog-out among --Cs)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """``egoimu eval dogcentric``: 0 on success, 2 on bad input (message on stderr)."""
    args = parse_args(argv)
    return run_command("egoimu eval dogcentric", lambda: _main(args), args.json)
