"""``egoimu eval probe``: a linear probe on frozen video features, EPIC-KITCHENS verbs (paper Table 4).

    egoimu eval probe (RUN | --random MODEL | --checkpoint PATH [--model full]) --data OUT
                      [--representation NAME] [--label L] [--out-dir DIR] [--cache DIR] [--Cs C ...]
                      [--n-boot 1000] [--seed 0] [--json FILE]

The representation's video backbone features (:mod:`egoimu.train.eval.embed`, cached in ``--cache``, default
``OUT_DIR/features``) of the labelled clips (verb_class >= 0) of the build's train, validation and test
splits; :func:`egoimu.train.eval.probe.fit_linear_probe` on train with C chosen on validation (grid ``--Cs``),
:func:`egoimu.train.eval.probe.evaluate_probe` on test: metrics ``top1``, ``top5`` and ``mean_class`` (EPIC's
verb metrics) with percentile-bootstrap 95 % CIs over the test clips (``--n-boot`` resamples, ``--seed``).
The result file (``egoimu.train.eval.results``, evaluation "probe",
table 4) adds the representation ("random" | "self-supervised" | "supervised" | "kinetics" | "checkpoint",
from the source: "kinetics" only for a checkpoint the user named so with ``--init-name``, ``--representation``
overrides), per-class accuracy by class name, the confusion
matrix of the 10 most frequent test classes (the rest pooled as "other"), C and the validation accuracy of
every C, the clip counts, the classes the probe never saw in training, and the majority-class baseline.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from egoimu.manifests.clihelp import HelpFormatter, OneLineParser, examples
from egoimu.manifests.shardfmt import SPLITS
from egoimu.train.eval.embed import features_for
from egoimu.train.eval.metrics import CLASSIFICATION_METRICS
from egoimu.train.eval.probe import DEFAULT_CS, evaluate_probe, fit_linear_probe
from egoimu.train.eval.representations import (
    NAMES,
    Representation,
    RepresentationError,
    add_representation_args,
    add_result_args,
    out_dir,
    representation_from_args,
    run_command,
    write_summary,
)
from egoimu.train.eval.results import ci, class_names, data_conditions, make_result, result_name, write_result
from egoimu.train.eval.supervised import class_label, named_confusion


def probe_parser(prog: str, description: str, epilog: str = "") -> argparse.ArgumentParser:
    """The options probe and dogcentric share: the representation's, --data, --representation, --cache, --Cs,
    and the result file's (--label, --out-dir, --json, --n-boot 1000)."""
    p = OneLineParser(prog=prog, description=description, epilog=epilog or None,
                                formatter_class=HelpFormatter)
    add_representation_args(p)
    p.add_argument("--data", required=True, help="a build's output directory")
    p.add_argument("--representation", choices=NAMES,
                   help="the representation's name in the result (default: detected from the source)")
    p.add_argument("--cache", help="features cache folder (default: OUT_DIR/features)")
    p.add_argument("--Cs", type=float, nargs="+", default=list(DEFAULT_CS), metavar="C",
                   help=f"inverse regularisation strengths to choose from (default: {' '.join(map(str, DEFAULT_CS))})")
    add_result_args(p, n_boot=1000)
    return p


def probe_setup(args: argparse.Namespace) -> tuple[Representation, Path, Path, str]:
    """(representation, output folder, cache folder, representation name) from the shared options."""
    if any(c <= 0 for c in args.Cs) or args.n_boot < 0:
        raise RepresentationError(f"--Cs must be > 0 and --n-boot >= 0, got {args.Cs} and {args.n_boot}")
    rep = representation_from_args(args)
    if rep.video is None:
        raise RepresentationError(f"{rep.source}: a {rep.objective} run has no video encoder to probe")
    folder = out_dir(args, rep)
    return rep, folder, Path(args.cache) if args.cache else folder / "features", args.representation or rep.name


def accuracy_ci(result: dict[str, Any], n_boot: int, name: str = "top1") -> tuple[float, float | None, float | None]:
    """(value, low, high) of metric ``name`` ("top1", "top5", "mean_class") of
    :func:`egoimu.train.eval.probe.evaluate_probe`'s dict; no interval when n_boot is 0."""
    low, high = result[f"{name}_ci"]
    return (result[name], low, high) if n_boot > 0 else (result[name], None, None)


def run_probe(args: argparse.Namespace) -> tuple[dict[str, Any], Path]:
    """Features, probe, evaluation, result file; returns (result, its path)."""
    rep, folder, cache, name = probe_setup(args)
    xs, ys = {}, {}
    for split in SPLITS:
        x, table = features_for(rep, args.data, split, cache_dir=cache, labelled_only=True)
        xs[split], ys[split] = x, table.verb_class.to_numpy(dtype=np.int64)
    try:
        probe = fit_linear_probe(xs["train"], ys["train"], xs["validation"], ys["validation"], args.Cs,
                                 seed=args.seed)
        ev = evaluate_probe(probe, xs["test"], ys["test"], n_boot=max(args.n_boot, 1), seed=args.seed)
    except ValueError as exc:
        raise RepresentationError(f"{args.data}: linear probe: {exc}") from exc
    names = class_names(args.data)
    y_test = ys["test"]
    counts = dict(zip(*np.unique(y_test, return_counts=True)))
    majority = np.bincount(ys["train"]).argmax()
    label = args.label or name
    conditions = {**data_conditions(args.data, "test"), "n": len(y_test), **rep.conditions(),
                  "eval_seed": args.seed, "feature_dim": int(xs["test"].shape[1])}
    result = make_result(
        "probe", 4, label, conditions, {m: ci(*accuracy_ci(ev, args.n_boot, m)) for m in CLASSIFICATION_METRICS},
        representation=name,
        per_class={class_label(c, names): a for c, a in ev["per_class"].items()},
        per_class_n={class_label(c, names): int(n) for c, n in counts.items()},
        confusion=named_confusion(y_test, ev["predictions"], names), C=probe.C,
        val_accuracy={str(c): a for c, a in probe.val_accuracy.items()}, converged=probe.converged,
        n_train=probe.n_train, n_val=probe.n_val, n_test=ev["n"], n_classes_train=len(probe.classes),
        unseen_classes=[class_label(c, names) for c in ev["unseen_classes"]], n_unseen=ev["n_unseen"],
        majority_baseline={"class": class_label(majority, names), "top1": float(np.mean(y_test == majority))},
        ci_method=f"percentile bootstrap over test clips, {args.n_boot} resamples (seed {args.seed})")
    return result, write_result(folder / result_name("probe", label), result)


def percent(m: Mapping[str, Any]) -> str:
    """A metric ``{"value", "low", "high"}`` as "41.9 % [38.0, 45.1]" (no interval when low is None)."""
    interval = f" [{100 * m['low']:.1f}, {100 * m['high']:.1f}]" if m["low"] is not None else ""
    return f"{100 * m['value']:.1f} %{interval}"


def _main(args: argparse.Namespace) -> int:
    result, path = run_probe(args)
    c, top1 = result["conditions"], result["metrics"]["top1"]
    print(f"linear probe, {result['representation']} ({c['representation_kind']}, model {c['model']}"
          f"{'' if c['step'] is None else ', step ' + str(c['step'])}): test top-1 {percent(top1)} "
          f"({result['n_test']} test clips; {result['n_train']} train, {result['n_classes_train']} classes; C = "
          f"{result['C']:g} chosen on {result['n_val']} validation clips; majority class "
          f"{100 * result['majority_baseline']['top1']:.1f} %) -> {path}")
    write_summary(args.json, {"top1": top1["value"], "low": top1["low"], "high": top1["high"],
                              "representation": result["representation"], "C": result["C"],
                              "n_test": result["n_test"], "result": str(path)})
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return probe_parser(
        "egoimu eval probe", "Linear probe (multinomial logistic regression) on a representation's frozen video "
        "features: train split to fit, validation to choose C, test top-1 with a bootstrap 95% CI (paper Table 4); "
        "writes eval-probe-<label>.json.",
        examples("egoimu eval probe runs/ssl --data out/epic", "egoimu eval probe --random small --data out/epic",
                 "egoimu eval probe --checkpoint SLOWFAST_8x8_R50.pyth --data out/epic")).parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """``egoimu eval probe``: 0 on success, 2 on bad input (message on stderr)."""
    args = parse_args(argv)
    return run_command("egoimu eval probe", lambda: _main(args), args.json)
