"""Running encoders over the clips of a split: eval mode, no gradient, manifest order, one process.

:func:`encode_split` is the one loop that the trainer's validation (:mod:`egoimu.train.validate`) and every
evaluation (:mod:`egoimu.train.eval`) run: each loader batch becomes the model inputs the trainer feeds
(:func:`egoimu.train.inputs.model_inputs`, autocast as the config's ``amp``) and goes through a set of
named encoders, each ``fn(video, spec) -> (B, D)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from egoimu.train.config import TrainConfig, data_config
from egoimu.train.data import ClipStream, DataError, SplitIndex, make_loader
from egoimu.train.inputs import autocast, model_inputs

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
    The inputs are :func:`egoimu.train.inputs.model_inputs`' (call inside :func:`frozen`)."""
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
