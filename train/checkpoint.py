"""The trainer's checkpoints: writing them atomically, reading them back, loading weights, RNG state.

Files (every ``ckpt_every`` steps and at the end / ``--stop-at``): ``RUN/ckpt-XXXXXXX.pt`` and
``RUN/last.pt`` (a hard link to it), each written to a temporary file and moved into place with
``os.replace``. Plain containers and tensors only (read with ``torch.load(..., weights_only=True)``):
format, step, epoch, batches_done (the loader position in that epoch), model (state_dict of the objective's
module: ``ContrastivePair`` — ``video.*``, ``imu.*``, ``criterion.*`` — or ``VerbClassifier`` — ``video.*``
or ``imu.*``, and ``classifier.*``), optimizer, scheduler, config (dict), config_sha256, manifest_sha256,
world_size, rng (per rank: torch, the rank's CUDA device, numpy, python), torch_version.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from egoimu.manifests.files import atomic_write, remove_temp_files
from egoimu.train.models.slowfast import CheckpointError, load_pytorchvideo_checkpoint

CKPT_FORMAT = "egoimu.train/1"


def _names(items: list[str], limit: int = 6) -> str:
    return ", ".join(items[:limit]) + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def load_model_state(module: nn.Module, state: dict[str, torch.Tensor], source: str | Path) -> None:
    """Load ``state`` into ``module`` strictly; :class:`CheckpointError` names what does not fit."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
                  if k in state and state[k].shape != v.shape]
    if missing or unexpected or mismatched:
        parts = [f"{title}: {_names(items)}" for title, items in (
            ("shape mismatch (checkpoint vs model)", mismatched), ("missing from the checkpoint", missing),
            ("unexpected in the checkpoint", unexpected)) if items]
        raise CheckpointError(f"{source} does not fit this {type(module).__name__} (another architecture?): "
                              + "; ".join(parts))
    module.load_state_dict(state)


def load_file(path: str | Path, label: str | None = None) -> Any:
    """The object saved in ``path`` (``torch.load(weights_only=True)`` onto the CPU: plain containers and
    tensors only). :class:`CheckpointError` naming ``label`` (default: the path) when the file is missing, a
    folder, or not a readable torch file."""
    label = label or str(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{label}: checkpoint not found") from None
    except IsADirectoryError:
        raise CheckpointError(f"{label}: is a folder, not a checkpoint file") from None
    except Exception as exc:  # unpickling / zip errors
        raise CheckpointError(f"{label}: not a readable checkpoint: {exc}") from exc


def is_egoimu_checkpoint(obj: Any) -> bool:
    """True for what :func:`load_file` returned from a checkpoint the trainer wrote (format :data:`CKPT_FORMAT`)."""
    return isinstance(obj, dict) and obj.get("format") == CKPT_FORMAT


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """An egoimu training checkpoint (``weights_only=True``, on CPU); CheckpointError if it is not one."""
    ckpt = load_file(path)
    if not is_egoimu_checkpoint(ckpt):
        raise CheckpointError(f"{path}: not an egoimu training checkpoint (format {CKPT_FORMAT})")
    return ckpt


def init_video_weights(model: nn.Module, path: str) -> str:
    """``--init-video``: load ``model.video.backbone`` (any objective with a video encoder) from an egoimu
    checkpoint's ``video.backbone.*`` (contrastive or verb_video run), else from a pytorchvideo SlowFast
    checkpoint. Returns a one-line note of what was loaded."""
    obj = load_file(path, f"--init-video {path}")
    backbone = model.video.backbone  # type: ignore[union-attr]
    if is_egoimu_checkpoint(obj):
        prefix = "video.backbone."
        state = {k[len(prefix):]: v for k, v in obj["model"].items() if k.startswith(prefix)}
        trained = obj.get("config", {}).get("model")
        load_model_state(backbone, state, f"--init-video {path} (an egoimu model={trained!r} checkpoint)")
        return f"video backbone from egoimu checkpoint {path} (step {obj.get('step')})"
    load_pytorchvideo_checkpoint(backbone, path, strict_backbone=True)
    return f"video backbone from pytorchvideo checkpoint {path}"


def init_slow_pathway(path: str) -> str:
    """The slow-pathway convention of the video CNN in ``path`` (``init_video``): "linspace" for a pytorchvideo
    checkpoint (how pytorchvideo/PySlowFast trained it), an egoimu checkpoint's own ``slow_pathway`` (one saved
    before the field existed: "stride"). :class:`CheckpointError` when the file cannot be read."""
    obj = load_file(path, f"--init-video {path}")
    if not is_egoimu_checkpoint(obj):
        return "linspace"
    pathway = {"slow_pathway": "stride", **obj.get("config", {})}["slow_pathway"]
    return "stride" if pathway == "auto" else str(pathway)


class _Writes:
    """A file for ``torch.save`` that remembers the first OSError of a write: torch reports a failed write (a
    full disk) as ``RuntimeError: [enforce fail at inline_container.cc] unexpected pos``, this keeps the OS's
    reason."""

    def __init__(self, file: Any) -> None:
        self.file, self.error = file, None

    def write(self, data: Any) -> int:
        try:
            return self.file.write(data)
        except OSError as exc:
            self.error = self.error or exc
            raise

    def flush(self) -> None:
        self.file.flush()


def _save(state: dict[str, Any], path: Path) -> None:
    with open(path, "wb") as f:
        writes = _Writes(f)
        try:
            torch.save(state, writes)
        except RuntimeError:
            if writes.error is not None:
                raise writes.error from None
            raise
        f.flush()
        os.fsync(f.fileno())


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def write_checkpoint(run: Path, state: dict[str, Any]) -> Path:
    """RUN/ckpt-XXXXXXX.pt and RUN/last.pt, each moved into place atomically. :class:`CheckpointError` (one line:
    the file and the OS's reason, e.g. no space left) when one cannot be written; no partial file remains."""
    path = run / f"ckpt-{state['step']:07d}.pt"
    steps = ((path, lambda tmp: _save(state, tmp)), (run / "last.pt", lambda tmp: _link_or_copy(path, tmp)))
    for target, write in steps:
        try:
            atomic_write(target, write)
        except OSError as exc:
            raise CheckpointError(f"cannot write the checkpoint of step {state['step']} to {target}: "
                                  f"{exc.strerror or exc} (errno {exc.errno}); free space in {run} or choose "
                                  f"another --run-dir, then --resume") from None
    return path


def remove_leftovers(run: Path) -> list[str]:
    """Delete the temporary files an interrupted run left in ``run`` (a checkpoint being written, config.json or
    metrics.jsonl being replaced: :func:`egoimu.manifests.files.is_temp_name`); their names."""
    return [p.name for p in remove_temp_files(run)]


def rng_state() -> dict[str, Any]:
    """This process's generators: torch CPU, its current CUDA device (if CUDA is in use), numpy, python."""
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state() if cuda else torch.empty(0, dtype=torch.uint8),
            "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                      "gauss": [int(has_gauss), float(gauss)]},
            "python": random.getstate()}


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned (on the same kind of process: rank, CUDA device)."""
    torch.set_rng_state(state["torch"])
    if state["cuda"].numel() and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])  # the current device (cuda:LOCAL_RANK)
    np_state = state["numpy"]
    np.random.set_state(("MT19937", np_state["keys"].numpy().astype(np.uint32), np_state["pos"],
                         *np_state["gauss"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
