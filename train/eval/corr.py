"""The correspondence ROC-AUC (paper Table 3): does this head motion go with this video?

Every clip of a split is embedded on both sides (video and head-motion encoder, eval mode, no gradient;
the embeddings after the projection heads, which the loss compares). All N x N (video i, head motion j)
pairs are scored by cosine similarity; the N pairs with i = j are the positives, the N² - N others the
negatives, and the ROC-AUC of the scores is scikit-learn's ``roc_auc_score``. Chance is 0.5. The paper
reports ROC-AUC rather than accuracy because almost every pair is negative.

Command::

    egoimu eval corr RUN --split test [--data DATA_ROOT] [--checkpoint PATH] [--json FILE]

RUN's ``config.json`` names the data root the run trained on unless ``--data`` is given; the checkpoint
is ``RUN/last.pt`` unless ``--checkpoint`` is given, and its saved config rebuilds the model. The JSON
holds ``roc_auc``, ``n`` (clips), ``n_pairs``, ``split``, ``data``, ``checkpoint``, ``step``,
``config_sha256`` and the manifest sha256 of the evaluated data.

Memory: N² float64 scores (the paper's 4379 test clips: 19 M pairs, ~150 MB; fine for test/validation).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from train.config import ConfigError, TrainConfig, autocast, data_config, model_inputs
from train.data import ClipStream, DataError, SplitIndex, make_loader
from train.models.slowfast import CheckpointError


def embed_split(
    video_enc: nn.Module, imu_enc: nn.Module, root: str | Path, split: str, cfg: TrainConfig, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, list[str], torch.Tensor]:
    """Embed every clip of ``split`` under ``root`` (one process, manifest order).

    Returns video_emb (N, D) float32 and imu_emb (N, D) float32 (CPU; unit rows from the encoders' heads),
    clip_ids (N strings) and verb_class int64 (N,) (-1 = unlabelled). The encoders run in eval mode
    without gradients (autocast as ``cfg.amp``); their train/eval modes are restored afterwards.
    Raises :class:`DataError` for a missing or empty split.
    """
    index = SplitIndex.open(root, split)
    dcfg = data_config(cfg, train=False)
    loader = make_loader(ClipStream(index, dcfg, train=False), dcfg)
    modes = [(m, m.training) for enc in (video_enc, imu_enc) for m in enc.modules()]
    video_enc.eval()
    imu_enc.eval()
    vs, ms, ids, verbs = [], [], [], []
    try:
        with torch.no_grad():
            for batch in loader:
                video, spec = model_inputs(batch, cfg, device)
                with autocast(cfg, device):
                    vs.append(video_enc(video).float().cpu())
                    ms.append(imu_enc(spec).float().cpu())
                ids.extend(batch["clip_id"])
                verbs.append(batch["verb_class"])
    finally:
        for module, mode in modes:
            module.train(mode)
    if len(ids) != index.n:
        raise DataError(f"{root}: split {split!r}: embedded {len(ids)} clips, the manifest lists {index.n}",
                        split=split)
    return torch.cat(vs), torch.cat(ms), ids, torch.cat(verbs)


def correspondence_auc(video_emb: torch.Tensor | np.ndarray, imu_emb: torch.Tensor | np.ndarray) -> float:
    """ROC-AUC of cosine similarity over all N² (video i, head motion j) pairs, positives i = j.

    video_emb, imu_emb: (N, D) float (any scale: rows are L2-normalised here, in float64), N >= 2.
    """
    from sklearn.metrics import roc_auc_score  # lazily: the trainer's import stays light

    v = torch.as_tensor(video_emb).detach().cpu().double().numpy()
    m = torch.as_tensor(imu_emb).detach().cpu().double().numpy()
    if v.ndim != 2 or v.shape != m.shape:
        raise ValueError(f"video {v.shape} and imu {m.shape} embeddings must both be (N, D)")
    if v.shape[0] < 2:
        raise ValueError(f"the correspondence ROC-AUC needs at least 2 clips (negatives), got {v.shape[0]}")
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    m = m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
    scores = v @ m.T
    labels = np.eye(len(v), dtype=bool)
    return float(roc_auc_score(labels.ravel(), scores.ravel()))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="egoimu eval corr",
        description="Correspondence ROC-AUC (paper Table 3): embed every clip of a split with a trained run's "
                    "video and head-motion encoders and score all N² pairs by cosine similarity.")
    p.add_argument("run", help="run directory (holds config.json and last.pt)")
    p.add_argument("--split", default="test", choices=("train", "validation", "test"), help="default: test")
    p.add_argument("--data", help="data root (a build's output); default: the one in RUN/config.json")
    p.add_argument("--checkpoint", help="checkpoint to evaluate; default: RUN/last.pt")
    p.add_argument("--json", help="also write the result as JSON to this file")
    p.add_argument("--batch-size", type=int, help="clips per batch (default: the run's)")
    p.add_argument("--num-workers", type=int, help="DataLoader workers (default: the run's)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="default: CUDA if available")
    return p.parse_args(argv)


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    from train.loop import build_model, load_model_state, read_checkpoint  # lazily: loop imports this module

    run = Path(args.run)
    ckpt_path = Path(args.checkpoint) if args.checkpoint else run / "last.pt"
    data = args.data
    if data is None:
        record = run / "config.json"
        if not record.is_file():
            raise ConfigError(f"{record} not found: pass --data DATA_ROOT")
        data = json.loads(record.read_text(encoding="utf-8")).get("data_root")
        if not data:
            raise ConfigError(f"{record} names no data_root: pass --data DATA_ROOT")
    ckpt = read_checkpoint(ckpt_path)
    cfg = TrainConfig.from_dict(ckpt["config"], f"{ckpt_path} config")
    cfg = cfg.replace({k: v for k, v in (("batch_size", args.batch_size), ("num_workers", args.num_workers))
                       if v is not None}, "command line")
    use_cuda = torch.cuda.is_available() if args.device == "auto" else args.device == "cuda"
    device = torch.device("cuda" if use_cuda else "cpu")
    model = build_model(cfg)
    load_model_state(model, ckpt["model"], ckpt_path)
    model.to(device)
    video, imu, ids, _ = embed_split(model.video, model.imu, data, args.split, cfg, device)
    manifest = SplitIndex.open(data, args.split).manifest_sha256
    if manifest != ckpt.get("manifest_sha256"):
        print(f"egoimu eval corr: note: {data} is not the build the run trained on (manifest sha256 differs)",
              file=sys.stderr)
    return {"roc_auc": correspondence_auc(video, imu), "n": len(ids), "n_pairs": len(ids) ** 2,
            "split": args.split, "data": str(Path(data).resolve()), "checkpoint": str(ckpt_path.resolve()),
            "step": int(ckpt["step"]), "model": cfg.model, "config_sha256": cfg.sha256(),
            "manifest_sha256": manifest}


def main(argv: list[str] | None = None) -> int:
    """``egoimu eval corr``: prints the ROC-AUC; 0 on success, 2 on bad input (message on stderr)."""
    args = parse_args(argv)
    try:
        result = evaluate(args)
    except (ConfigError, DataError, CheckpointError) as exc:
        print(f"egoimu eval corr: error: {exc}", file=sys.stderr)
        return 2
    print(f"correspondence ROC-AUC on {result['split']}: {result['roc_auc']:.4f} "
          f"({result['n']} clips, {result['n_pairs']} pairs; chance 0.5; checkpoint step {result['step']})")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0
