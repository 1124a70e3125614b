"""Every clip of a split through a model's encoders, frozen: the one way the trainer's validation and the
evaluations turn shards into features, embeddings or logits.

:func:`encode_split` streams a split in manifest order (one process, no flips), applies the trainer's
:func:`~egoimu.train.inputs.model_inputs` and runs the given encoders in eval mode without gradients (autocast as
the config's ``amp``), restoring every module's train/eval mode afterwards. :func:`embed_split` (both
projected embeddings: the correspondence) and :func:`classify_split` (a verb classifier's logits) are the two
uses the trainer's per-epoch validation needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from egoimu.train.config import TrainConfig, data_config
from egoimu.train.data import ClipStream, DataError, SplitIndex, make_loader
from egoimu.train.inputs import autocast, model_inputs
from egoimu.train.models.classifier import VerbClassifier

Encode = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (video, spec) model inputs -> (B, D)


@contextmanager
def frozen(modules: Sequence[nn.Module | None]) -> Iterator[None]:
    """Eval mode and no gradients for ``modules`` inside; every submodule's train/eval mode restored after."""
    modes = [(m, m.training) for mod in modules if mod is not None for m in mod.modules()]
    for mod in modules:
        if mod is not None:
            mod.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for module, mode in modes:
            module.train(mode)


def encode_batch(batch: Mapping[str, Any], cfg: TrainConfig, device: torch.device,
                 encoders: Mapping[str, Encode]) -> dict[str, torch.Tensor]:
    """One loader batch through ``encoders`` (name -> fn(video, spec)): {name: (B, D) float32 on the CPU}.
    The inputs are :func:`~egoimu.train.inputs.model_inputs`' (call inside :func:`frozen`)."""
    video, spec = model_inputs(batch, cfg, device)  # type: ignore[arg-type]
    with autocast(cfg, device):
        return {name: fn(video, spec).float().cpu() for name, fn in encoders.items()}


def encode_split(index: SplitIndex, cfg: TrainConfig, device: torch.device, encoders: Mapping[str, Encode],
                 modules: Sequence[nn.Module | None], *, progress: bool = False, desc: str = "embed"
                 ) -> tuple[dict[str, torch.Tensor], list[str], torch.Tensor]:
    """Every clip of ``index`` (manifest order, one process) through ``encoders`` with ``modules`` frozen.

    Returns ({name: (N, D) float32 CPU tensor}, clip_ids (N strings), verb_class (N,) int64). A progress
    bar (tqdm, on a terminal) when ``progress``. Raises :class:`DataError` when a clip cannot be read or
    fewer clips than the index lists came back.
    """
    dcfg = data_config(cfg, train=False)
    stream = ClipStream(index, dcfg, train=False)
    outs: dict[str, list[torch.Tensor]] = {name: [] for name in encoders}
    ids: list[str] = []
    verbs: list[torch.Tensor] = []
    with frozen(modules):
        for batch in tqdm(make_loader(stream, dcfg), total=len(stream), desc=desc, unit="batch",
                          disable=None if progress else True, leave=False):
            for name, value in encode_batch(batch, cfg, device, encoders).items():
                outs[name].append(value)
            ids.extend(batch["clip_id"])
            verbs.append(batch["verb_class"])
    if len(ids) != index.n:
        raise DataError(f"{index.root}: split {index.split!r}: embedded {len(ids)} clips, the manifest lists "
                        f"{index.n}", split=index.split)
    return {name: torch.cat(v) for name, v in outs.items()}, ids, torch.cat(verbs)


def embed_split(
    video_enc: nn.Module, imu_enc: nn.Module, root: str | Path | SplitIndex, split: str, cfg: TrainConfig,
    device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, list[str], torch.Tensor]:
    """Both projected embeddings of every clip of ``split`` under ``root`` (one process, manifest order).

    ``root`` may be the split's opened :class:`SplitIndex` (its ``clips`` then describe the rows returned).
    Returns video_emb (N, D) float32 and imu_emb (N, D) float32 (CPU; unit rows from the encoders' heads),
    clip_ids (N strings) and verb_class int64 (N,) (-1 = unlabelled). Raises :class:`DataError` for a
    missing or empty split.
    """
    index = root if isinstance(root, SplitIndex) else SplitIndex.open(root, split)
    out, ids, verbs = encode_split(index, cfg, device,
                                   {"video": lambda v, s: video_enc(v), "imu": lambda v, s: imu_enc(s)},
                                   [video_enc, imu_enc])
    return out["video"], out["imu"], ids, verbs


def classify_split(model: VerbClassifier, root: str | Path, split: str, cfg: TrainConfig, device: torch.device
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (N, num_verbs) float32 and verb_class (N,) int64 (-1 = unlabelled), on the CPU, of every clip of
    ``split`` under ``root`` in manifest order. Raises :class:`DataError` for a missing or empty split or an
    unreadable clip."""
    out, _, verbs = encode_split(SplitIndex.open(root, split), cfg, device, {"logits": model.logits}, [model])
    return out["logits"], verbs
