"""Video (and head-motion) representations for the evaluations: load one, embed a split with it.

A *representation* is a video encoder (and, where there is one, a head-motion encoder) in one of three kinds:

- ``run``: an egoimu training run (``RUN/last.pt``, or any ``RUN/ckpt-*.pt``) of any objective. Its name is
  "self-supervised" for the contrastive objective and "supervised" for ``verb_video``; a ``verb_imu`` run
  has no video encoder, so the video-feature evaluations refuse it.
- ``random``: the architecture's random initialisation (``--random MODEL --seed S``): the trainer's own
  initialisation for seed S (``torch.manual_seed(S)`` then ``build_model``), drawn without touching the
  caller's global random state. Name "random".
- ``pytorchvideo``: a pytorchvideo SlowFast checkpoint (``--checkpoint PATH``, e.g. Kinetics-400's
  ``SLOWFAST_8x8_R50.pyth`` for ``--model full``) in the video backbone (strict: a checkpoint of another
  architecture is a :class:`CheckpointError` naming the file); no head-motion encoder. Its provenance is
  recorded, not guessed: what the user names it (``--init-name kinetics400``), else :data:`UNNAMED`. Name
  "kinetics" (the paper's Kinetics row) when that name starts with "kinetics" (:func:`is_kinetics`), else
  "checkpoint" — a 400-way head is not taken as proof. ``--checkpoint`` also takes an egoimu checkpoint file,
  which is then a ``run``.

Features (:func:`egoimu.train.encode.encode_split` with :func:`feature_encoders`): the encoders run in eval
mode without gradients on the inputs the trainer gives them (:func:`egoimu.train.inputs.model_inputs`: for
``--model small`` the pooled frames / frame differences it was trained on). The linear probes use the backbone
features before the projection head (``Encoder.features``: (N, 2304) for SlowFast-R50, (N, 320) for
``small``); the correspondence uses the projected embeddings (``egoimu eval corr``).

The command-line helpers at the end give ``egoimu embed`` and ``egoimu eval probe|dogcentric`` the same
options and error handling.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from contextlib import nullcontext, redirect_stdout
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import torch
from torch import nn

from egoimu.manifests.clihelp import build_problem, os_error_line, write_json
from egoimu.manifests.files import sha256_file
from egoimu.manifests.geometry import DEFAULT_GEOMETRY, ClipGeometry
from egoimu.train.checkpoint import is_egoimu_checkpoint, load_file, load_model_state, read_checkpoint
from egoimu.train.config import ConfigError, TrainConfig
from egoimu.train.data import DataError
from egoimu.train.encode import Encode
from egoimu.train.model import build_model, seeded_model
from egoimu.train.models.slowfast import CheckpointError, load_pytorchvideo_checkpoint

KINDS = ("run", "random", "pytorchvideo")
NAMES = ("random", "self-supervised", "supervised", "kinetics", "checkpoint")
#: The provenance of a pytorchvideo checkpoint the user did not name (``--init-name``).
UNNAMED = "pytorchvideo checkpoint (unnamed)"


def is_kinetics(init_name: str | None) -> bool:
    """Whether a user-given checkpoint name (``--init-name``) says Kinetics (starts with "kinetics", any case)."""
    return bool(init_name) and str(init_name).strip().lower().startswith("kinetics")


def provenance(init_name: str | None) -> str:
    """The recorded provenance of a pytorchvideo checkpoint: the user's name for it, else :data:`UNNAMED`."""
    return str(init_name).strip() if init_name and str(init_name).strip() else UNNAMED


class RepresentationError(ValueError):
    """A representation or evaluation input that cannot be used; the message names the file or option."""


#: Errors a command reports as "bad input" (exit status 2) with their message.
INPUT_ERRORS: tuple[type[Exception], ...] = (ConfigError, DataError, CheckpointError, RepresentationError)


@dataclass
class Representation:
    """A loaded representation (see the module docstring). ``video``/``imu``: the encoders (eval mode, on
    ``device``; ``imu`` None for a pytorchvideo checkpoint or a verb_video run, ``video`` None for a
    verb_imu run). ``cfg``: the run's config (else the defaults for ``model``), which fixes the model
    inputs and the loader settings."""

    kind: str
    name: str
    cfg: TrainConfig
    video: nn.Module | None
    imu: nn.Module | None
    device: torch.device
    source: str  # the checkpoint file (absolute), or "random"
    source_sha256: str | None = None  # sha256 of the checkpoint file's bytes
    step: int | None = None  # training step of a run's checkpoint
    seed: int | None = None  # the run's training seed, or the random initialisation's
    run: Path | None = None  # the run directory (a run's checkpoint's folder)
    objective: str | None = None  # a run's training objective
    world_size: int = 1  # processes the run trained with
    train_batch: int | None = None  # a run's global training batch (batch_size x world_size, as trained)
    trained_manifest_sha256: str | None = None  # the build a run trained on
    config_sha256: str | None = None  # a run's config sha256 as trained (before command-line loader overrides)
    geometry: ClipGeometry = DEFAULT_GEOMETRY  # the clips a run trained on (its checkpoint's); else the paper's
    provenance: str | None = None  # a pytorchvideo checkpoint's: the user's --init-name, else UNNAMED

    def identity(self) -> dict[str, Any]:
        """What determines this representation's features (weights and model inputs): the cache key's part.
        The loader's batch size is left out (eval mode: features do not depend on it)."""
        inputs = self.cfg.replace({"batch_size": TrainConfig().batch_size}).sha256()
        return {"kind": self.kind, "model": self.cfg.model, "inputs_sha256": inputs,
                "source_sha256": self.source_sha256, "seed": self.seed if self.kind == "random" else None}

    def describe(self) -> str:
        """One line: what this is (for printed summaries)."""
        if self.kind == "random":
            return f"random init of model {self.cfg.model} (seed {self.seed})"
        if self.kind == "pytorchvideo":
            return f"pytorchvideo checkpoint {self.source} ({self.provenance}; model {self.cfg.model})"
        return f"{self.objective} run {self.run} (model {self.cfg.model}, step {self.step})"

    def conditions(self) -> dict[str, Any]:
        """The result file's conditions of the representation (``results.RESULT_SCHEMA``)."""
        cfg = self.cfg
        return {"representation_kind": self.kind, "run": str(self.run.resolve()) if self.run else None,
                "checkpoint": None if self.kind == "random" else self.source,
                "checkpoint_sha256": self.source_sha256, "step": self.step,
                "seed": self.seed, "config_sha256": self.config_sha256,
                "model": cfg.model, "objective": self.objective, "freeze_video": cfg.freeze_video,
                "init_video": cfg.init_video, "trained_on_manifest_sha256": self.trained_manifest_sha256,
                "provenance": self.provenance}




def pick_device(name: str = "auto") -> torch.device:
    """"auto" (CUDA when available), "cpu" or "cuda"."""
    if name not in ("auto", "cpu", "cuda"):
        raise RepresentationError(f"--device must be auto, cpu or cuda, not {name!r}")
    use_cuda = torch.cuda.is_available() if name == "auto" else name == "cuda"
    if use_cuda and not torch.cuda.is_available():
        raise RepresentationError("--device cuda: CUDA is not available here")
    return torch.device("cuda" if use_cuda else "cpu")


def checkpoint_objective(path: str | Path) -> str | None:
    """The training objective of an egoimu checkpoint ("contrastive", "verb_video", ...), or None when the
    file is not an egoimu checkpoint (e.g. a pytorchvideo one). CheckpointError if it is unreadable."""
    obj = load_file(path)
    if not is_egoimu_checkpoint(obj):
        return None
    return str((obj.get("config") or {}).get("objective", "contrastive"))


def _from_egoimu(ckpt: dict[str, Any], path: Path, overrides: dict[str, Any], device: torch.device
                 ) -> Representation:
    cfg = TrainConfig.from_dict(ckpt["config"], f"{path} config").replace(overrides, "command line")
    model = build_model(cfg)
    load_model_state(model, ckpt["model"], path)
    model.to(device).eval()
    objective = str(getattr(cfg, "objective", "contrastive"))
    world_size = int(ckpt.get("world_size", 1))
    name = {"contrastive": "self-supervised", "verb_video": "supervised"}.get(objective, "checkpoint")
    return Representation(
        kind="run", name=name, cfg=cfg, video=getattr(model, "video", None), imu=getattr(model, "imu", None),
        device=device, source=str(path.resolve()), source_sha256=sha256_file(path), step=int(ckpt["step"]),
        seed=cfg.seed, run=path.parent, objective=objective, world_size=world_size,
        train_batch=int(ckpt["config"].get("batch_size", cfg.batch_size)) * world_size,
        trained_manifest_sha256=ckpt.get("manifest_sha256"),
        geometry=ClipGeometry.from_dict(ckpt.get("geometry"), f"{path} geometry"),
        config_sha256=ckpt.get("config_sha256") or TrainConfig.from_dict(ckpt["config"]).sha256())


def run_problem(run: str | Path, role: str = "RUN") -> str | None:
    """Why ``run`` is not a training run directory (one line naming the fix), None when it holds config.json or
    last.pt. ``role``: the argument's name in the message."""
    run = Path(run)
    trained = "pass the --run-dir of an `egoimu train DATA --run-dir RUN`"
    if not run.exists():
        return f"{role} {run} does not exist: {trained}"
    if run.is_file():
        if run.name in ("last.pt", "config.json", "metrics.jsonl"):
            return f"{role} {run} is a file: pass the run directory that holds it ({run.parent})"
        return f"{role} {run} is a file, not a training run directory: {trained} (a checkpoint file: --checkpoint)"
    if (run / "config.json").is_file() or (run / "last.pt").is_file():
        return None
    if build_problem(run) is None:
        return f"{role} {run} is a build output, not a training run (no config.json, no last.pt): {trained}"
    return f"{role} {run} is not a training run (no config.json, no last.pt): {trained}"


def data_root_of(run: str | Path, role: str = "RUN") -> str:
    """The data root a run trained on, from RUN/config.json; RepresentationError naming the run or the file
    otherwise."""
    if problem := run_problem(run, role):
        raise RepresentationError(problem)
    record = Path(run) / "config.json"
    if not record.is_file():
        raise ConfigError(f"{record} not found: pass --data DATA_ROOT")
    data = json.loads(record.read_text(encoding="utf-8")).get("data_root")
    if not data:
        raise ConfigError(f"{record} names no data_root: pass --data DATA_ROOT")
    return str(data)


def load_representation(
    run: str | Path | None = None, *, random: str | None = None, checkpoint: str | Path | None = None,
    model: str = "full", seed: int = 0, batch_size: int | None = None, num_workers: int | None = None,
    device: str | torch.device = "auto", init_name: str | None = None,
) -> Representation:
    """Load exactly one of: ``run`` (a run directory: its ``last.pt``), ``random`` (a model name: its random
    initialisation with ``seed``) or ``checkpoint`` (a pytorchvideo SlowFast checkpoint for ``model``, or an
    egoimu checkpoint file; ``init_name``: what a pytorchvideo one was trained on, its recorded provenance).
    ``batch_size``/``num_workers`` override the loader settings (default: the run's,
    or the config defaults). Raises CheckpointError (names the file), ConfigError or RepresentationError.
    """
    given = [name for name, v in (("RUN", run), ("--random", random), ("--checkpoint", checkpoint)) if v]
    if len(given) != 1:
        raise RepresentationError(f"give exactly one of RUN, --random MODEL or --checkpoint PATH (got "
                                  f"{' and '.join(given) or 'none'})")
    dev = device if isinstance(device, torch.device) else pick_device(device)
    overrides = {k: v for k, v in (("batch_size", batch_size), ("num_workers", num_workers)) if v is not None}
    if init_name and not checkpoint:
        raise RepresentationError("--init-name names a pytorchvideo --checkpoint; none was given")
    if run:
        if problem := run_problem(run):
            raise RepresentationError(problem)
        path = Path(run) / "last.pt"
        return _from_egoimu(read_checkpoint(path), path, overrides, dev)
    chosen = str(random or model)
    cfg = TrainConfig(model=chosen, seed=int(seed)).replace(overrides, "command line")
    if random:
        net = seeded_model(cfg, seed).to(dev).eval()
        return Representation(kind="random", name="random", cfg=cfg, video=net.video, imu=net.imu, device=dev,
                              source="random", seed=int(seed))
    path = Path(checkpoint)  # type: ignore[arg-type]
    obj = load_file(path)
    if is_egoimu_checkpoint(obj):
        if init_name:
            raise RepresentationError(f"--init-name: {path} is an egoimu checkpoint (its run records what it "
                                      f"was trained on); --init-name names a pytorchvideo checkpoint")
        return _from_egoimu(obj, path, overrides, dev)
    cfg = cfg.replace({"slow_pathway": "linspace"})  # the checkpoint's convention (pytorchvideo's PackPathway)
    net = seeded_model(cfg, seed)
    load_pytorchvideo_checkpoint(net.video.backbone, path, strict_backbone=True)  # type: ignore[arg-type]
    net.to(dev).eval()
    return Representation(kind="pytorchvideo", name="kinetics" if is_kinetics(init_name) else "checkpoint",
                          cfg=cfg, video=net.video, imu=None, device=dev, source=str(path.resolve()),
                          source_sha256=sha256_file(path), seed=int(seed), provenance=provenance(init_name))


# ------------------------------------------------------------------------------------------- features

def feature_encoders(rep: Representation, *, imu: bool = False) -> dict[str, Encode]:
    """{"video": backbone features of the video encoder, and with ``imu`` "imu": the head-motion encoder's};
    RepresentationError when the representation lacks the encoder."""
    if rep.video is None:
        raise RepresentationError(f"{rep.source}: a {rep.objective} run has no video encoder; the video "
                                  f"features need a contrastive or verb_video run, --random or --checkpoint")
    encoders: dict[str, Encode] = {"video": lambda v, s: rep.video.features(v)}  # type: ignore[union-attr]
    if imu:
        if rep.imu is None:
            raise RepresentationError(f"--imu: {rep.source} ({rep.kind}) has no head-motion encoder")
        encoders["imu"] = lambda v, s: rep.imu.features(s)  # type: ignore[union-attr]
    return encoders


# ------------------------------------------------------------------------------------- command line


def add_representation_args(p: argparse.ArgumentParser, *, positional_run: bool = True) -> None:
    """RUN | --random MODEL | --checkpoint PATH [--model], --seed, --batch-size, --num-workers, --device."""
    if positional_run:
        p.add_argument("run", nargs="?", help="a training run directory (its last.pt; any objective with a "
                                              "video encoder)")
    g = p.add_argument_group("representation (instead of RUN)")
    g.add_argument("--random", metavar="MODEL", choices=("full", "small"),
                   help="the random initialisation of MODEL (full | small) with --seed")
    g.add_argument("--checkpoint", metavar="PATH",
                   help="a pytorchvideo SlowFast checkpoint (e.g. Kinetics-400 SLOWFAST_8x8_R50.pyth) for --model, "
                        "or an egoimu checkpoint file")
    g.add_argument("--init-name", metavar="NAME",
                   help="what the pytorchvideo --checkpoint was trained on, recorded as its provenance; a name "
                        "starting 'kinetics' (e.g. kinetics400) fills the paper's Kinetics row, any other the row "
                        f"'checkpoint' (default: '{UNNAMED}')")
    g.add_argument("--model", choices=("full", "small"), default="full",
                   help="architecture of a pytorchvideo --checkpoint (default: full: SlowFast-R50)")
    p.add_argument("--seed", type=int, default=0, help="random-init seed of --random; also seeds the evaluation "
                                                       "(default: 0)")
    p.add_argument("--batch-size", type=int, help="clips per batch (default: the run's, else 16)")
    p.add_argument("--num-workers", type=int, help="DataLoader workers (default: the run's, else 2)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="auto: CUDA if available")


def representation_from_args(args: argparse.Namespace, run: str | None = None) -> Representation:
    """:func:`load_representation` from :func:`add_representation_args`' options (``run`` overrides
    ``args.run``)."""
    return load_representation(run if run is not None else getattr(args, "run", None), random=args.random,
                               checkpoint=args.checkpoint, model=args.model, seed=args.seed,
                               batch_size=args.batch_size, num_workers=args.num_workers, device=args.device,
                               init_name=getattr(args, "init_name", None))


def add_result_args(p: argparse.ArgumentParser, *, n_boot: int) -> None:
    """--label, --out-dir, --json, --n-boot: where and how a result file is written."""
    p.add_argument("--label", help="the result's row label (default: derived from the representation/variant)")
    p.add_argument("--out-dir", help="where the result file eval-<evaluation>-<label>.json goes (default: RUN, "
                                     "else the current folder)")
    p.add_argument("--json", metavar="FILE",
                   help="also write a short JSON summary to FILE (-: to stdout, the text then goes to stderr)")
    p.add_argument("--n-boot", type=int, default=n_boot, help=f"bootstrap resamples for the 95%% CIs (default: "
                                                              f"{n_boot}; 0: no interval)")


def out_dir(args: argparse.Namespace, rep: Representation | None = None) -> Path:
    """``--out-dir``, else the run directory, else the current folder."""
    if args.out_dir:
        return Path(args.out_dir)
    return rep.run if rep is not None and rep.run is not None else Path(".")


#: the command's stdout while :func:`run_command` sends its text to stderr (``--json -``: stdout holds the JSON)
_JSON_STDOUT: ContextVar[TextIO | None] = ContextVar("json_stdout", default=None)


def write_summary(path: str | Path | None, summary: dict[str, Any]) -> None:
    """``--json FILE``: the summary dict as indented JSON (``-``: stdout; nothing without a path)."""
    if path:
        write_json(path, summary, stdout=_JSON_STDOUT.get(), default=str)


def run_command(prog: str, body: Callable[[], int], json_target: str | None = None) -> int:
    """``body()``; an input error (:data:`INPUT_ERRORS`) or an OSError on a named path prints ``prog: error:
    message`` (one line) and gives 2. With ``json_target`` ``-`` (``--json -``) the command's text goes to stderr
    and stdout holds the JSON summary alone."""
    token = _JSON_STDOUT.set(sys.stdout)
    try:
        with redirect_stdout(sys.stderr) if json_target == "-" else nullcontext():
            return body()
    except INPUT_ERRORS as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # an output path the user gave that cannot be written (a file in the way, no space)
        if exc.filename is None:
            raise
        print(f"{prog}: error: {os_error_line(exc)}", file=sys.stderr)
        return 2
    finally:
        _JSON_STDOUT.reset(token)
