"""``egoimu eval supervised``: the paper's Tables 1 and 2 from a video and a head-motion verb classifier.

    egoimu eval supervised VIDEO_RUN IMU_RUN [--data OUT] [--split test] [--label L] [--out-dir DIR]
                           [--json FILE] [--n-boot 1000] [--seed 0] [--device auto] [--batch-size B]
                           [--num-workers W]

VIDEO_RUN must be a run trained with ``objective=verb_video``, IMU_RUN one with ``objective=verb_imu``
(``egoimu train DATA --run-dir RUN --objective verb_video``); each is read from its ``last.pt``, whose saved
config rebuilds the model. Both classify every labelled clip (verb_class >= 0) of the split (eval mode, no
gradient, manifest order; :func:`egoimu.train.encode.classify_split`); their softmax probabilities and
the ensemble (the mean of the two, paper section 3.2) give, via
:func:`egoimu.train.eval.supervised.supervised_tables`, Table 1 (per-verb accuracy of the 5 most frequent verbs of
the split) and Table 2 (clips correct by video only, head motion only, both, neither), and the three sides'
overall top-1, top-5 and mean class accuracy (EPIC's verb metrics) with 95 % percentile bootstrap intervals over
clips (:func:`egoimu.train.eval.metrics.classification_metrics`, ``--n-boot`` resamples, 0 = no interval;
``--seed``; the same resamples for all).

Output: ONE result file (train/eval/results.py, evaluation "supervised", table 1; metrics ``top1_video``,
``top1_imu``, ``top1_ensemble``, ``top5_*``, ``mean_class_*``; extras ``per_class``, ``correct_by``,
``correct_by_all`` and ``confusion``
of the ensemble as ``egoimu eval probe`` gives it) named ``eval-supervised-<label>.json`` in ``--out-dir``
(default: VIDEO_RUN); the conditions hold both runs' (``video_*``, ``imu_*``: run, checkpoint, step, seed,
config sha256, model, ...), the split and n. ``--json FILE`` also writes a short summary, and the tables are
printed. ``--data`` defaults to the data root in VIDEO_RUN/config.json. Exit 0, or 2 on bad input (the
message names the file and the reason).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from egoimu.manifests.clihelp import HelpFormatter, OneLineParser, examples
from egoimu.manifests.files import sha256_file
from egoimu.manifests.shardfmt import SPLITS
from egoimu.train.checkpoint import load_model_state, read_checkpoint
from egoimu.train.config import VERB_OBJECTIVES, ConfigError, TrainConfig
from egoimu.train.data import DataError, SplitIndex
from egoimu.train.encode import classify_split
from egoimu.train.eval.metrics import classification_metrics
from egoimu.train.eval.representations import (
    RepresentationError,
    add_result_args,
    data_root_of,
    pick_device,
    run_command,
    run_problem,
    write_summary,
)
from egoimu.train.eval.results import ci, class_names, data_conditions, make_result, result_name, write_result
from egoimu.train.eval.supervised import (
    class_label,
    correct_by_table,
    ensemble_probs,
    named_confusion,
    softmax,
    supervised_tables,
)
from egoimu.train.model import build_model
from egoimu.train.models.classifier import VerbClassifier

PROG = "egoimu eval supervised"
LABEL = "video and head-motion verb classifiers"
SIDES = {side: objective for objective, side in VERB_OBJECTIVES.items()}  # "video" -> "verb_video", "imu" -> ...
SIDE_NAMES = {"video": "video", "imu": "head motion", "ensemble": "ensemble"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = OneLineParser(
        formatter_class=HelpFormatter,
        prog=PROG,
        description="Paper Tables 1 and 2: a video-only and a head-motion-only verb classifier (runs trained "
                    "with --objective verb_video / verb_imu) and their ensemble on a split's labelled clips.",
        epilog=f"The result file goes to VIDEO_RUN unless --out-dir is given; its label is {LABEL!r} unless --label "
               f"is given.\n\n" + examples("egoimu eval supervised runs/verb-video runs/verb-imu",
                                             "egoimu eval supervised runs/verb-video runs/verb-imu --split validation"))
    p.add_argument("video_run", help="run directory of an objective=verb_video run (holds last.pt, config.json)")
    p.add_argument("imu_run", help="run directory of an objective=verb_imu run")
    p.add_argument("--data", help="data root (a build's output) (default: the one in VIDEO_RUN/config.json)")
    p.add_argument("--split", default="test", choices=SPLITS, help="the split to use")
    add_result_args(p, n_boot=1000)
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="auto: CUDA if available")
    p.add_argument("--batch-size", type=int, help="clips per batch (default: each run's)")
    p.add_argument("--num-workers", type=int, help="DataLoader workers (default: each run's)")
    return p.parse_args(argv)


def load_classifier(run: Path, objective: str, args: argparse.Namespace, device: torch.device
                    ) -> tuple[VerbClassifier, TrainConfig, dict[str, Any]]:
    """RUN/last.pt's :class:`VerbClassifier` on ``device`` (weights loaded), the config to evaluate it with
    (``--batch-size`` / ``--num-workers`` applied) and the run's conditions (keys as
    ``Representation.conditions``). ConfigError naming the checkpoint when the run's objective is not
    ``objective``; CheckpointError when it is not a readable egoimu checkpoint."""
    path = run / "last.pt"
    ckpt = read_checkpoint(path)
    trained = TrainConfig.from_dict(ckpt["config"], f"{path} config")
    if trained.objective != objective:
        raise ConfigError(f"{path}: the run was trained with objective={trained.objective!r}; this argument must "
                          f"be an objective={objective!r} run (egoimu train DATA --run-dir RUN --objective "
                          f"{objective})")
    cfg = trained.replace({k: v for k, v in (("batch_size", args.batch_size), ("num_workers", args.num_workers))
                           if v is not None}, "command line")
    model = build_model(cfg)
    assert isinstance(model, VerbClassifier)
    load_model_state(model, ckpt["model"], path)
    conditions = {"run": str(run.resolve()), "checkpoint": str(path.resolve()), "checkpoint_sha256": sha256_file(path),
                  "step": int(ckpt["step"]), "seed": trained.seed, "config_sha256": trained.sha256(),
                  "model": trained.model, "objective": trained.objective, "freeze_video": trained.freeze_video,
                  "init_video": trained.init_video, "num_verbs": trained.num_verbs,
                  "trained_on_manifest_sha256": ckpt.get("manifest_sha256")}
    return model.to(device), cfg, conditions


def evaluate(args: argparse.Namespace) -> tuple[dict[str, Any], Path]:
    """Both runs on the split, the tables, the result file; returns (result, its path)."""
    if args.n_boot < 0:
        raise ConfigError(f"--n-boot must be >= 0, got {args.n_boot}")
    runs = {"video": Path(args.video_run), "imu": Path(args.imu_run)}
    for role, run in (("VIDEO_RUN", runs["video"]), ("IMU_RUN", runs["imu"])):
        if problem := run_problem(run, role):
            raise RepresentationError(problem)
    data = args.data or data_root_of(runs["video"], "VIDEO_RUN")
    device = pick_device(args.device)
    manifest = SplitIndex.open(data, args.split).manifest_sha256
    probs, conditions, verbs = {}, {}, np.empty(0, dtype=np.int64)
    for side, objective in SIDES.items():
        model, cfg, conditions[side] = load_classifier(runs[side], objective, args, device)
        if conditions[side]["trained_on_manifest_sha256"] != manifest:
            print(f"{PROG}: note: {data} is not the build the {side} run trained on (manifest sha256 differs)",
                  file=sys.stderr)
        logits, verb_class = classify_split(model, data, args.split, cfg, device)
        verbs = verb_class.numpy()
        probs[side] = softmax(logits.double().numpy()[verbs >= 0])
        del model
    if probs["video"].shape[1] != probs["imu"].shape[1]:
        raise ConfigError(f"{runs['video'] / 'last.pt'} has {probs['video'].shape[1]} verb classes, "
                          f"{runs['imu'] / 'last.pt'} {probs['imu'].shape[1]}: the ensemble needs the same num_verbs")
    y = verbs[verbs >= 0]
    if len(y) == 0:
        raise DataError(f"{data}: split {args.split!r} has no labelled clip to classify", split=args.split)
    probs["ensemble"] = ensemble_probs(probs["video"], probs["imu"])
    preds = {side: p.argmax(axis=1) for side, p in probs.items()}
    tables = supervised_tables(y, probs["video"], probs["imu"], k=5)
    names = class_names(data)

    def verb(c: int) -> dict[str, Any]:
        return {"verb_class": int(c), "name": class_label(c, names)}

    first, second = conditions["video"], conditions["imu"]
    common = {"run": first["run"], "step": first["step"], "objective": "verb_video + verb_imu",
              **{k: first[k] if first[k] == second[k] else None for k in ("seed", "model")},
              "n": len(y), "n_unlabelled": int((verbs < 0).sum()), "eval_seed": args.seed}
    label = args.label or LABEL
    result = make_result(
        "supervised", 1, label,
        {**data_conditions(data, args.split), **common,
         **{f"{side}_{k}": v for side, c in conditions.items() for k, v in c.items()}},
        {f"{m}_{side}": ci(*v) for side, p in probs.items()
         for m, v in classification_metrics(y, p, n_boot=args.n_boot, seed=args.seed).items()},
        per_class=[{**verb(c), "n": int(np.sum(y == c)), **{side: tables["per_class"][side][c] for side in preds}}
                   for c in tables["classes"]],
        correct_by=[{**verb(c), **tables["correct_by"][c]} for c in tables["classes"]],
        correct_by_all=correct_by_table(y, preds["video"], preds["imu"]),
        confusion=named_confusion(y, preds["ensemble"], names),
        ci_method=f"percentile bootstrap over {args.split} clips, {args.n_boot} resamples (seed {args.seed}), the "
                  f"same resamples for the three accuracies" if args.n_boot else "none (--n-boot 0)")
    folder = Path(args.out_dir) if args.out_dir else runs["video"]
    return result, write_result(folder / result_name("supervised", label), result)


def format_tables(result: dict[str, Any]) -> str:
    """Tables 1 and 2 of a ``supervised`` result as plain text (per-verb rows, then the overall numbers)."""
    cond, m = result["conditions"], result["metrics"]
    width = max([len(r["name"]) for r in result["per_class"]] + [12])

    def pct(x: float | None) -> str:
        return "   n/a" if x is None else f"{100 * x:5.1f}%"

    lines = [f"Table 1: top-1 accuracy, the {len(result['per_class'])} most frequent verbs of {cond['split']} "
             f"({cond['n']} labelled clips)",
             f"{'verb':<{width}} {'n':>5}  {'video':>7} {'head motion':>11} {'ensemble':>8}"]
    lines += [f"{r['name']:<{width}} {r['n']:>5}  {pct(r['video']):>7} {pct(r['imu']):>11} {pct(r['ensemble']):>8}"
              for r in result["per_class"]]
    lines.append(f"{'all clips':<{width}} {cond['n']:>5}  " + " ".join(
        f"{pct(m[f'top1_{side}']['value']):>{w}}" for side, w in (("video", 7), ("imu", 11), ("ensemble", 8))))
    lines += ["", "Table 2: clips classified correctly by",
              f"{'verb':<{width}} {'video only':>10} {'head motion only':>16} {'both':>6} {'neither':>7}"]
    rows = [*result["correct_by"], {"name": "all clips", **result["correct_by_all"]}]
    lines += [f"{r['name']:<{width}} {r['video_only']:>10} {r['imu_only']:>16} {r['both']:>6} {r['neither']:>7}"
              for r in rows]
    lines += ["", f"overall top-1 (95 % CI: {result['ci_method']}):"]
    lines += [f"  {SIDE_NAMES[side]:<12} {pct(m[f'top1_{side}']['value'])}  [{pct(m[f'top1_{side}']['low'])}, "
              f"{pct(m[f'top1_{side}']['high'])}]" for side in SIDE_NAMES]
    if all(f"{k}_{side}" in m for k in ("top5", "mean_class") for side in SIDE_NAMES):
        lines.append("top-5 accuracy / mean class accuracy (EPIC's verb metrics):")
        lines += [f"  {SIDE_NAMES[side]:<12} {pct(m[f'top5_{side}']['value'])} / "
                  f"{pct(m[f'mean_class_{side}']['value'])}" for side in SIDE_NAMES]
    return "\n".join(lines)


def _main(args: argparse.Namespace) -> int:
    result, path = evaluate(args)
    print(format_tables(result))
    print(f"result: {path}")
    m, c = result["metrics"], result["conditions"]
    write_summary(args.json, {
        **{f"{name}{suffix}": m[name][key] for name in m for suffix, key in (("", "value"), ("_low", "low"),
                                                                              ("_high", "high"))},
        "n": c["n"], "split": c["split"], "data": c["data"], "video_run": c["video_run"], "imu_run": c["imu_run"],
        "video_step": c["video_step"], "imu_step": c["imu_step"], "result": str(path)})
    return 0


def main(argv: list[str] | None = None) -> int:
    """``egoimu eval supervised``: writes the result file and prints the tables; 0, or 2 on bad input."""
    args = parse_args(argv)
    return run_command(PROG, lambda: _main(args), args.json)
