"""The validation numbers: a split embedded or classified by a model, the correspondence ROC-AUC, and the
trainer's per-epoch validation built from them.

The loop logs :func:`validate` at the end of every ``eval_every_epoch``-th epoch; the evaluations use the
same functions (``egoimu eval corr`` reports :func:`correspondence_auc` among its metrics, ``egoimu eval
supervised`` classifies with :func:`classify_split`). Everything runs through
:func:`egoimu.train.encode.encode_split`: eval mode, no gradient, manifest order, one process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from egoimu.train.config import TrainConfig
from egoimu.train.data import SplitIndex
from egoimu.train.encode import encode_split
from egoimu.train.model import Model
from egoimu.train.models.classifier import VerbClassifier, verb_top1


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
    out, ids, verbs = encode_split(index, cfg, device, {"video": lambda v, s: video_enc(v),
                                                        "imu": lambda v, s: imu_enc(s)}, [video_enc, imu_enc])
    return out["video"], out["imu"], ids, verbs


def classify_split(model: VerbClassifier, data: str | Path, split: str, cfg: TrainConfig, device: torch.device
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (N, num_verbs) float32 and verb_class (N,) int64 (-1 = unlabelled), on the CPU, of every clip of
    ``split`` in manifest order (eval mode and no gradient inside, the model's modes restored; autocast as
    ``cfg.amp``). Raises :class:`DataError` for a missing or empty split or an unreadable clip."""
    out, _, verbs = encode_split(SplitIndex.open(data, split), cfg, device, {"logits": model.logits}, [model])
    return out["logits"], verbs


def correspondence_auc(video_emb: torch.Tensor | np.ndarray, imu_emb: torch.Tensor | np.ndarray) -> float:
    """ROC-AUC of cosine similarity over all N² (video i, head motion j) pairs, positives i = j.

    video_emb, imu_emb: (N, D) float (any scale: rows are L2-normalised here, in float64), N >= 2.
    """
    from sklearn.metrics import roc_auc_score  # lazily: importing the trainer stays light (egoimu train --help)

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


def validate(model: Model, root: Path, cfg: TrainConfig, device: torch.device) -> tuple[dict[str, Any], str]:
    """Rank 0's per-epoch validation: ({"val_roc_auc", "val_n"}, message) for the contrastive objective
    (correspondence ROC-AUC over every validation clip), ({"val_top1", "val_n"}, message) for a verb
    objective (top-1 accuracy over the labelled validation clips)."""
    if isinstance(model, VerbClassifier):
        top1, n = verb_top1(*classify_split(model, root, "validation", cfg, device))
        return {"val_top1": top1, "val_n": n}, f"validation verb top-1 {top1:.4f} ({n} labelled clips)"
    v, m, ids, _ = embed_split(model.video, model.imu, root, "validation", cfg, device)
    auc = correspondence_auc(v, m)
    return {"val_roc_auc": auc, "val_n": len(ids)}, f"validation correspondence ROC-AUC {auc:.4f} ({len(ids)} clips)"
