"""The trainer's checks and per-epoch validation of a verb or contrastive model, below the loop.

:func:`check_verb_labels` refuses a split a verb objective cannot learn or be scored on; :func:`validate` is
the number the loop logs at the end of every ``eval_every_epoch``-th epoch: for the contrastive objective the
correspondence ROC-AUC over the validation split, ``val_roc_auc`` (the headline: overlapping same-video pairs
are not negatives) and ``val_roc_auc_all_pairs`` beside it, both from
:func:`~egoimu.train.eval.metrics.correspondence_headline`, so that ``egoimu eval corr RUN --split validation``
reports the same two numbers as ``roc_auc`` and ``roc_auc_all_pairs``; for a verb objective the verb top-1
accuracy over its labelled clips.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from egoimu.train.config import TrainConfig
from egoimu.train.data import DataError, SplitIndex
from egoimu.train.encode import classify_split, embed_split
from egoimu.train.eval.metrics import correspondence_headline, pair_scores
from egoimu.train.model import Model
from egoimu.train.models.classifier import VerbClassifier, verb_top1


def check_verb_labels(index: SplitIndex, num_verbs: int) -> int:
    """The number of labelled clips (verb_class >= 0) of ``index``'s split, for a verb objective.

    Raises :class:`DataError` naming the split when it has none (e.g. a split of ``--ssl-windows`` windows
    only) or when a class id does not fit the classifier (>= ``num_verbs``)."""
    verbs = index.clips.verb_class.to_numpy()
    n = int((verbs >= 0).sum())
    if n == 0:
        raise DataError(f"{index.root}: split {index.split!r} has no labelled clip (every verb_class is -1) and "
                        f"the verb objectives learn and score verbs: use a build with labelled {index.split} "
                        f"clips{' or eval_every_epoch=0' if index.split == 'validation' else ''}, or "
                        f"objective=contrastive", file=index.root, split=index.split)
    if int(verbs.max()) >= num_verbs:
        raise DataError(f"{index.root}: split {index.split!r} has verb_class {int(verbs.max())}, the classifier "
                        f"has num_verbs={num_verbs} outputs (0..{num_verbs - 1}): raise num_verbs",
                        file=index.root, split=index.split)
    return n


def validate(model: Model, root: Path, cfg: TrainConfig, device: torch.device) -> tuple[dict[str, Any], str]:
    """Rank 0's per-epoch validation on ``root``'s validation split: ({"val_roc_auc", "val_roc_auc_all_pairs",
    "val_n", "val_n_excluded"}, message) for the contrastive objective (the headline correspondence ROC-AUC over
    every validation clip, overlapping same-video pairs excluded — None when no other pair is left —, the
    all-pairs value, the clips and the ordered pairs excluded), ({"val_top1", "val_n"}, message) for a verb
    objective (top-1 accuracy over the labelled validation clips). The model's train/eval modes are restored
    afterwards."""
    if isinstance(model, VerbClassifier):
        top1, n = verb_top1(*classify_split(model, root, "validation", cfg, device))
        return {"val_top1": top1, "val_n": n}, f"validation verb top-1 {top1:.4f} ({n} labelled clips)"
    index = SplitIndex.open(root, "validation")
    v, m, _, _ = embed_split(model.video, model.imu, index, "validation", cfg, device)
    clips = index.clips
    auc = correspondence_headline(pair_scores(v, m), clips.video_id.to_numpy(), clips.start_s.to_numpy(),
                                  clips.end_s.to_numpy())
    headline = "undefined (every pair overlaps)" if auc["roc_auc"] is None else f"{auc['roc_auc']:.4f}"
    return ({"val_roc_auc": auc["roc_auc"], "val_roc_auc_all_pairs": auc["roc_auc_all_pairs"], "val_n": auc["n"],
             "val_n_excluded": auc["n_excluded"]},
            f"validation correspondence ROC-AUC {headline} ({auc['n_excluded']} overlapping same-video pairs "
            f"excluded; all pairs {auc['roc_auc_all_pairs']:.4f}; {auc['n']} clips)")
