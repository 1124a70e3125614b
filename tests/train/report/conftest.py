"""Hand-built inputs for ``egoimu report``: result files written with egoimu.train.eval.results and plain run dirs."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from egoimu.train.eval.results import ci, make_result, result_name, write_result

SIGNALS = {
    "take": {"head": "pitch down and back", "head_strength": "strong", "video": "object fades in",
             "video_kind": "appear", "video_strength": "moderate"},
    "wash": {"head": "small periodic motion", "head_strength": "moderate", "video": "blue flicker",
             "video_kind": "flicker", "video_strength": "strong"},
}
VERBS = ("take", "put", "wash", "open", "cut")  # the run's own top 5: "close" missing, "cut" not in the paper's


def conditions(synthetic: bool | None, seed: int = 0, **over: Any) -> dict[str, Any]:
    """Conditions as ``egoimu eval`` records them (tiny numbers)."""
    cond = {"data": "/data/shards", "split": "test", "n": 40, "manifest_sha256": "ab" * 32,
            "synthetic": synthetic, "generator": "egoimu synth epic" if synthetic else None,
            "signals": SIGNALS if synthetic else None, "run": f"/runs/seed{seed}",
            "checkpoint": f"/runs/seed{seed}/last.pt", "checkpoint_sha256": f"{seed + 7:064d}", "step": 300,
            "seed": seed, "config_sha256": f"{seed:064d}", "eval_seed": seed,
            "model": "small", "objective": "contrastive", "freeze_video": False, "init_video": ""}
    cond.update(over)
    return cond


def put(root: Path, result: dict[str, Any], seed: int = 0) -> Path:
    """Write ``result`` under ``root/seed<seed>/`` with the conventional name."""
    return write_result(root / f"seed{seed}" / result_name(result["evaluation"], result["label"]), result)


def corr(root: Path, synthetic: bool | None, video_cnn: str, auc: tuple[float, float, float], seed: int = 0,
         init: str = "supervised") -> Path:
    """A Table 3 result with a short ROC curve; ``init`` "kinetics": from a pytorchvideo checkpoint the user
    named kinetics400 (as ``egoimu eval corr`` records it)."""
    variant = {"video_cnn": video_cnn, "pretrained_on": init}
    over = {}
    if init == "kinetics":
        variant["provenance"] = over["init_provenance"] = "kinetics400"
        over["init_video"] = "/ckpt/SLOWFAST_8x8_R50.pyth"
    result = make_result("corr", 3, f"{video_cnn} video CNN ({variant.get('provenance', init)} init)",
                         conditions(synthetic, seed, **over),
                         {"roc_auc": ci(*auc), "v2i_recall@1": ci(0.2, 0.1, 0.3), "v2i_mrr": ci(0.4)},
                         variant=variant,
                         roc_curve={"fpr": [0.0, 0.1, 0.4, 1.0], "tpr": [0.0, 0.6, 0.9, 1.0]},
                         batch_size=16, n_pairs=1600, n_excluded=0)
    return put(root, result, seed)


def probe(root: Path, synthetic: bool | None, evaluation: str, representation: str,
          top1: tuple[float, float, float], seed: int = 0, **cond: Any) -> Path:
    """A Table 4 (probe) or 5 (dogcentric) result with a confusion matrix."""
    table = 4 if evaluation == "probe" else 5
    extra: dict[str, Any] = {"representation": representation, "per_class": {"take": 0.5, "put": 0.25}, "C": 1.0,
                             "confusion": {"labels": ["put", "take", "wash"], "matrix": [[3, 1, 0], [1, 4, 1],
                                                                                         [0, 2, 2]]}}
    if table == 5:
        extra["spread"] = {"std": 0.02, "min": top1[0] - 0.03, "max": top1[0] + 0.03}
    metrics = {"top1": ci(*top1)}
    if table == 4:  # EPIC's other verb metrics, as egoimu eval probe writes them
        metrics.update(top5=ci(top1[0] + 0.3, top1[1] + 0.3, top1[2] + 0.3), mean_class=ci(top1[0] - 0.1))
    result = make_result(evaluation, table, f"{representation} representation",
                         conditions(synthetic, seed, **cond), metrics, **extra)
    return put(root, result, seed)


def supervised(root: Path, synthetic: bool | None, seed: int = 0) -> Path:
    """A Tables 1 and 2 result: per-verb accuracies and correct-by counts for the run's five verbs."""
    per_class, correct_by = [], []
    for i, verb in enumerate(VERBS):
        n = 20 - 2 * i
        video, imu = (n - 4) / n, (n - 10) / n
        per_class.append({"verb_class": i, "name": verb, "n": n, "video": video, "imu": imu,
                          "ensemble": video + (1 / n if i % 2 == 0 else -1 / n)})
        correct_by.append({"verb_class": i, "name": verb, "video_only": 8 - i, "imu_only": 2, "both": n - 12 + i,
                           "neither": 2})
    result = make_result("supervised", 1, "video vs head motion (supervised)",
                         conditions(synthetic, seed, objective="verb_video + verb_imu",
                                    **{f"{side}_{k}": f"{side}-{k}-{seed}" for side in ("video", "imu")
                                       for k in ("run", "seed", "checkpoint", "config_sha256")}),
                         {"top1_video": ci(0.6, 0.5, 0.7), "top1_imu": ci(0.3, 0.2, 0.4),
                          "top1_ensemble": ci(0.62, 0.52, 0.72), "top5_video": ci(0.9, 0.85, 0.95),
                          "top5_imu": ci(0.7, 0.6, 0.8), "top5_ensemble": ci(0.91, 0.86, 0.96),
                          "mean_class_video": ci(0.55, 0.45, 0.65), "mean_class_imu": ci(0.25, 0.15, 0.35),
                          "mean_class_ensemble": ci(0.57, 0.47, 0.67)},
                         per_class=per_class, correct_by=correct_by,
                         correct_by_all={"video_only": 30, "imu_only": 10, "both": 40, "neither": 20},
                         confusion={"labels": list(VERBS), "matrix": [[4 if i == j else 1 for j in range(5)]
                                                                      for i in range(5)]})
    return put(root, result, seed)


def run_dir(root: Path, name: str, objective: str = "contrastive", seed: int = 0) -> Path:
    """A training run's files, as ``egoimu train`` writes them; step 20 is logged twice (a resume)."""
    run = root / name
    run.mkdir(parents=True)
    config = {"objective": objective, "model": "small", "steps": 40, "seed": seed, "batch_size": 16,
              "freeze_video": False, "init_video": "", "lr": 0.001}
    (run / "config.json").write_text(json.dumps({"config": config, "config_sha256": "c" * 64,
                                                 "data_root": "/data/shards", "manifest_sha256": "ab" * 32,
                                                 "world_size": 1}), encoding="utf-8")
    def val(value: float) -> dict:  # contrastive: the headline and, beside it, the all-pairs value
        if objective != "contrastive":
            return {"val_top1": value}
        return {"val_roc_auc": value, "val_roc_auc_all_pairs": value - 0.05}

    lines = [{"step": s, "epoch": s // 20, "loss": 3.0 - s / 20, "lr": 0.001} for s in (10, 20, 30, 40)]
    lines.insert(2, {"step": 20, "epoch": 1, **val(0.7)})
    lines.insert(3, {"step": 20, "epoch": 1, "loss": 1.9, "lr": 0.001})  # resumed: this line wins for loss
    lines.append({"step": 40, "epoch": 2, **val(0.8)})
    (run / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return run


def build_inputs(root: Path, synthetic: bool | None = True) -> Path:
    """The standard case: claim (a) holds, (b) does not hold, (c) is not run, (d) holds, (e) holds (2 seeds)."""
    corr(root, synthetic, "update", (0.95, 0.93, 0.97))
    corr(root, synthetic, "freeze", (0.85, 0.80, 0.90))
    probe(root, synthetic, "probe", "self-supervised", (0.40, 0.35, 0.45))
    probe(root, synthetic, "probe", "random", (0.45, 0.40, 0.50))
    probe(root, synthetic, "dogcentric", "self-supervised", (0.50, 0.40, 0.60), seed=0)
    probe(root, synthetic, "dogcentric", "self-supervised", (0.60, 0.50, 0.70), seed=1)
    probe(root, synthetic, "dogcentric", "random", (0.30, 0.20, 0.40))
    supervised(root, synthetic)
    run_dir(root, "run-contrastive")
    run_dir(root, "run-verb", objective="verb_video", seed=1)
    return root


@pytest.fixture(scope="session")
def builders() -> SimpleNamespace:
    """The input builders of this module (tests cannot import conftest under --import-mode=importlib)."""
    return SimpleNamespace(build_inputs=build_inputs, corr=corr, probe=probe, supervised=supervised, run_dir=run_dir)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The standard synthetic inputs (:func:`build_inputs`), reported once per module; the output directory."""
    from egoimu.train.report.cli import main

    root = tmp_path_factory.mktemp("report")
    build_inputs(root / "in", synthetic=True)
    assert main([str(root / "in"), "--out", str(root / "out")]) == 0
    return root / "out"
