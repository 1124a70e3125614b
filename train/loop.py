"""``egoimu train``: the training loop, contrastive video / head-motion (arXiv 2110.01680, eq. 1) or supervised.

    egoimu train DATA_ROOT --run-dir RUN [--preset paper|default] [--model full|small] [--steps N]
                 [--objective contrastive|verb_video|verb_imu] [--stop-at K] [--resume] [--config FILE]
                 [--freeze-video] [--init-video PATH [--init-name NAME]] [key=value ...]
    torchrun --nproc_per_node 8 -m egoimu.cli train DATA_ROOT --run-dir RUN ...     (DDP, same code path)

Read top to bottom: config, data, model, optimiser, resume, then one ``while step < stop`` loop. Every
process runs the same code; rank 0 alone writes RUN/config.json, metrics.jsonl, TensorBoard (RUN/tb),
the progress bar and checkpoints. AdamW (decay on conv/linear weights only), linear warm-up then cosine
over ``steps``, gradient clipping, bf16 autocast on CUDA. At the end of every ``eval_every_epoch``-th
epoch rank 0 logs the validation correspondence ROC-AUC (train/validate.py: ``val_roc_auc``, overlapping
same-video pairs excluded as in ``egoimu eval corr``, and ``val_roc_auc_all_pairs``) or, for a verb objective,
``val_top1``, the verb accuracy over the validation split's labelled clips.

Objectives (``objective``, ours): ``contrastive`` trains :class:`ContrastivePair`; ``verb_video`` and
``verb_imu`` train a :class:`~egoimu.train.models.classifier.VerbClassifier` (one backbone, a linear layer,
cross-entropy over the clips with verb_class >= 0; paper Tables 1-2's video-only and head-motion-only
classifiers, verb_video also the "fully supervised" video CNN of Tables 3-4). A verb objective refuses a
train (or, with validation on, validation) split without labelled clips. The loop is the same for all.

Checkpoints (every ``ckpt_every`` steps and at the end / ``--stop-at``): ``RUN/ckpt-XXXXXXX.pt`` and
``RUN/last.pt``, written atomically; their contents are listed in train/checkpoint.py.

What the loop uses, each below it: the model (train/model.py), its inputs (train/inputs.py), the per-epoch
validation (train/validate.py), checkpoints (train/checkpoint.py), rank 0's records (train/runlog.py).

``--resume`` continues from RUN/last.pt exactly: the same next batch (the data order depends only on the
seed, the epoch and the position) and, on CPU, bitwise the same losses and weights as an uninterrupted
run. The config comes from the checkpoint; only num_workers and the logging/checkpoint cadence may change.
``--steps`` is the schedule length; ``--stop-at K`` ends after step K, and a later ``--resume`` continues
the same schedule. metrics.jsonl and TensorBoard drop records past the checkpoint's step on resume.

``--freeze-video`` (paper Table 3): the video backbone gets no gradient and stays in eval mode (its
BatchNorm statistics do not move); the head-motion encoder and, ours, the video projection head learn
(without a trainable video head, frozen features would be compared through a fixed random projection);
with verb_video only the linear classifier learns.

Errors: bad data (missing shard, wrong size, other schema, empty split), bad config (unknown key, wrong type,
a value out of range, inf or nan) or a checkpoint of another architecture stop before training (exit 2); a run
directory that cannot be written (read-only, full disk) stops with the file and the OS's reason (exit 2), no
partial checkpoint left; a non-finite loss or gradient stops the run naming the step and the batch's clip ids
(exit 1), without writing a checkpoint. Temporary files an interrupted run left in RUN are removed at the start
(and named).
"""

from __future__ import annotations

import argparse
import math
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from egoimu.manifests.clihelp import HelpFormatter, OneLineParser, examples, os_error_line
from egoimu.manifests.memory import set_mmap_threshold, trim_heap
from egoimu.train import config as tc
from egoimu.train.checkpoint import (
    CKPT_FORMAT,
    init_slow_pathway,
    init_video_weights,
    load_model_state,
    read_checkpoint,
    remove_leftovers,
    rng_state,
    set_rng_state,
    write_checkpoint,
)
from egoimu.train.config import OBJECTIVES, PRESETS, RUNTIME_KEYS, VERB_OBJECTIVES, ConfigError, TrainConfig
from egoimu.train.data import ClipStream, DataError, SplitIndex, make_loader
from egoimu.train.dist import (
    DistInfo,
    all_reduce_mean,
    barrier,
    cleanup,
    gather_objects,
    init_distributed,
)
from egoimu.train.inputs import autocast, model_inputs
from egoimu.train.jpeg_device import resolve_jpeg_decode
from egoimu.train.model import ContrastivePair, Model, build_model, set_train_mode
from egoimu.train.models.slowfast import CheckpointError
from egoimu.train.runlog import RunLog, Throughput, memory_mb
from egoimu.train.validate import check_verb_labels, validate


class NonFiniteLoss(RuntimeError):
    """The loss (or gradient norm) became NaN/inf; the message names the step and the batch's clips."""


# ------------------------------------------------------------------------------------------- schedule


def make_optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW; weight decay on conv/linear weights (ndim >= 2) only, not on biases, norms or the logit scale."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay},
              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.999), fused=device.type == "cuda")


def lr_factor(s: int, cfg: TrainConfig) -> float:
    """Multiplier of ``lr`` for optimiser step s + 1 (s = steps done): linear warm-up, then cosine to
    ``min_lr_ratio`` at the last step."""
    warmup = cfg.warmup()
    if s < warmup:
        return (s + 1) / (warmup + 1)
    progress = min(1.0, (s - warmup) / max(1, cfg.steps - warmup))
    return cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


# ---------------------------------------------------------------------------------------------- config


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = OneLineParser(
        formatter_class=HelpFormatter,
        prog="egoimu train",
        description="Train the video and head-motion encoders with the contrastive loss of arXiv 2110.01680 "
                    "(eq. 1), or a supervised verb classifier on one of them (--objective), on a build's train "
                    "split. Run under torchrun for DDP.",
        epilog="key=value words override any config field, e.g. lr=1e-3 batch_size=8 temperature=1.0;\n"
               "--help-config lists every field with its default and whether it is the paper's or ours.\n"
               "Order: the preset, then --config FILE, then the flags, then key=value words.\n\n" + examples(
                   "egoimu train OUT --run-dir runs/a --model small --steps 30",
                   "egoimu train out/epic --run-dir runs/verb --objective verb_video",
                   "egoimu train out/epic --run-dir runs/ssl --resume",
                   "egoimu train --print-config --preset paper > paper.yaml   (reads back with --config)",
                   "torchrun --nproc_per_node 4 -m egoimu.cli train out/epic --run-dir runs/ddp"))
    default = PRESETS["default"]
    p.add_argument("data_root", nargs="?", help="a build's output directory (manifest.json, shards/)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    p.add_argument("--run-dir", help="where config.json, metrics.jsonl, tb/ and checkpoints go (required to train)")
    p.add_argument("--preset", choices=sorted(PRESETS), help="base config (default: 'default', or the "
                                                             "checkpoint's config with --resume)")
    p.add_argument("--model", choices=("full", "small"),
                   help=f"full = SlowFast-R50 + VGG16 (paper); small = ours (default: {default.model})")
    p.add_argument("--steps", type=int, help=f"schedule length in optimiser steps (default: {default.steps}; "
                                             f"the warm-up follows: {100 * tc.WARMUP_SHARE:g} %% of it unless "
                                             f"warmup_steps=N)")
    p.add_argument("--objective", choices=OBJECTIVES, help="contrastive or a supervised verb classifier "
                                                           "on the video (verb_video) or head-motion (verb_imu) CNN "
                                                           "(default: contrastive)")
    p.add_argument("--stop-at", type=int, help="stop after this step (default: --steps; a later --resume "
                                               "continues the schedule)")
    p.add_argument("--resume", action="store_true", help="continue RUN/last.pt exactly")
    p.add_argument("--config", help="YAML/JSON file of config fields (or a run's config.json) (default: none)")
    p.add_argument("--freeze-video", action="store_true", help="freeze the video backbone (paper Table 3)")
    p.add_argument("--init-video", help="pytorchvideo Kinetics checkpoint or egoimu checkpoint for the video CNN "
                                        "(default: none, random initialisation)")
    p.add_argument("--init-name", metavar="NAME",
                   help="what the pytorchvideo --init-video checkpoint was trained on, recorded as its provenance; "
                        "a name starting 'kinetics' (e.g. kinetics400) fills Table 3's Kinetics column (default: "
                        "'pytorchvideo checkpoint (unnamed)')")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="auto: CUDA if available")
    p.add_argument("--print-config", action="store_true",
                   help="print the resolved config as YAML (what --config reads back) and exit; no DATA needed")
    p.add_argument("--help-config", action="store_true",
                   help="list every config field with its default, the paper preset's value and paper/ours")
    args = p.parse_intermixed_args(argv)
    if args.data_root and "=" in args.data_root and (args.print_config or args.help_config):
        args.overrides.insert(0, args.data_root)  # egoimu train --print-config lr=0.1: no DATA
        args.data_root = None
    if not (args.print_config or args.help_config):
        missing = [name for name, value in (("DATA", args.data_root), ("--run-dir", args.run_dir)) if not value]
        if missing:
            p.error(f"the following arguments are required: {', '.join(missing)}")
    return args


def combined_config(args: argparse.Namespace, saved: dict[str, Any] | None) -> TrainConfig:
    """Preset (or the checkpoint's config), --config file, flags, key=value, later ones winning; automatic values
    (``warmup_steps`` -1) left as they are (``--print-config`` shows them so)."""
    if args.preset:
        cfg = PRESETS[args.preset]
    elif saved is not None:
        cfg = TrainConfig.from_dict(saved, "checkpoint config")
    else:
        cfg = PRESETS["default"]
    from_file = tc.checked(tc.read_config_file(args.config), args.config) if args.config else {}
    flags = {"model": args.model, "steps": args.steps, "objective": args.objective, "init_video": args.init_video,
             "init_video_name": args.init_name,
             "freeze_video": True if args.freeze_video else None}
    changes = {**from_file, **{k: v for k, v in flags.items() if v is not None}, **tc.parse_overrides(args.overrides)}
    return cfg.replace(changes, "command line" if not args.config else f"{args.config} + command line")


def resolve_config(args: argparse.Namespace, saved: dict[str, Any] | None) -> TrainConfig:
    """:func:`combined_config` with every automatic value resolved (as config.json records it); on resume only
    RUNTIME_KEYS may differ from the checkpoint's config. ``slow_pathway`` "auto" follows ``init_video``'s file."""
    cfg = combined_config(args, saved).resolved(init_slow_pathway)
    if saved is not None:
        changed = {k: v for k, v in TrainConfig.from_dict(saved).diff(cfg).items() if k not in RUNTIME_KEYS}
        if changed:
            listing = ", ".join(f"{k}: run {a!r} vs now {b!r}" for k, (a, b) in changed.items())
            raise ConfigError(f"--resume: the run was trained with other settings ({listing}); only "
                              f"{sorted(RUNTIME_KEYS)} may change on resume — start a new --run-dir instead")
    return cfg


# ------------------------------------------------------------------------------------------------ setup


def checkpoint_to_resume(run: Path, resume: bool, world_size: int) -> dict[str, Any] | None:
    """RUN/last.pt's contents with ``--resume`` (written by as many processes as this run has), else None
    for a new run. ConfigError when there is nothing to resume, or a run already in RUN without ``--resume``."""
    last = run / "last.pt"
    if not resume:
        if last.exists():
            raise ConfigError(f"{run} already holds a run ({last}); pass --resume to continue it or use another "
                              f"--run-dir")
        return None
    if not last.is_file():
        raise ConfigError(f"--resume: {last} not found (nothing to resume)")
    ckpt = read_checkpoint(last)
    if ckpt["world_size"] != world_size:
        raise ConfigError(f"--resume: {last} was written by {ckpt['world_size']} processes, this run has "
                          f"{world_size}; the data position is per rank, resume with the same count")
    return ckpt


@dataclass
class TrainData:
    """The train split as this rank streams it: the index (labelled clips only for a verb objective), the
    stream, its DataLoader and the batches per epoch (the same on every rank)."""

    root: Path
    index: SplitIndex
    stream: ClipStream
    loader: Any
    per_epoch: int


def open_data(root: Path, cfg: TrainConfig, info: DistInfo, ckpt: dict[str, Any] | None) -> TrainData:
    """Open and check the build before any training: the model fits its clip geometry, a resumed run sees the
    manifest it trained on, a verb objective has labelled train (and validation) clips. DataError otherwise."""
    index = SplitIndex.open(root, "train")
    if problems := tc.geometry_problems(cfg, index.geometry):
        raise DataError(f"{root}: the build's clips ({index.geometry.describe()}) do not fit the model: "
                        + "; ".join(problems))
    if ckpt and ckpt["manifest_sha256"] != index.manifest_sha256:
        raise DataError(f"--resume: {root}'s manifest differs from the one the run trained on (sha256 "
                        f"{index.manifest_sha256[:12]} vs {ckpt['manifest_sha256'][:12]})")
    splits = [index, SplitIndex.open(root, "validation")] if cfg.eval_every_epoch else [index]
    if cfg.objective in VERB_OBJECTIVES:
        for split_index in splits:
            check_verb_labels(split_index, cfg.num_verbs)
        index = index.labelled()  # the classifier learns from labelled clips only, not --ssl-windows ones
    try:  # jpeg_decode: where a JPEG build's frames are decoded (the workers, or the device: jpeg_device.py)
        decode = resolve_jpeg_decode(cfg.jpeg_decode, info.device, index.encoding())
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    dcfg = tc.data_config(cfg, jpeg_bytes=decode == "device")
    stream = ClipStream(index, dcfg, train=True, rank=info.rank, world_size=info.world_size)
    return TrainData(root, index, stream, make_loader(stream, dcfg), stream.batches_per_epoch())


def open_model(cfg: TrainConfig, info: DistInfo, ckpt: dict[str, Any] | None, source: Path
               ) -> tuple[Model, torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    """The model on the device (seeded with ``cfg.seed`` on every rank; the weights of ``ckpt``, read from
    ``source``, or ``init_video``'s backbone), its optimiser and schedule, and with ``ckpt`` their states and
    this rank's random generators restored."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg)
    if ckpt is not None:
        load_model_state(model, ckpt["model"], source)
    elif cfg.init_video:
        note = init_video_weights(model, cfg.init_video)
        if info.is_rank0:
            print(f"egoimu train: {note}")
    model.to(info.device)
    optimizer = make_optimizer(model, cfg, info.device)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg))
    if ckpt is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        set_rng_state(ckpt["rng"][info.rank])
    if info.device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    return model, optimizer, scheduler


# ------------------------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``egoimu train``; returns 0, 1 (non-finite loss) or 2 (bad input)."""
    args = parse_args(argv)
    set_mmap_threshold()  # batch-sized buffers go back to the OS when freed: a flat footprint over epochs
    # scikit-learn (~70 MiB resident) scores the per-epoch validation; load it up front so that the
    # trainer's footprint is flat from the first step instead of jumping at the first epoch's end
    import sklearn.metrics  # noqa: F401
    if args.help_config or args.print_config:
        return print_config(args)
    info = init_distributed(None if args.device == "auto" else args.device)
    who = f"egoimu train (rank {info.rank})" if info.distributed else "egoimu train"
    try:
        return train(args, info)
    except (ConfigError, DataError, CheckpointError) as exc:
        print(f"{who}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the run directory cannot be created or written (read-only, full disk, ...)
        if exc.filename is None:
            exc.filename = args.run_dir
        print(f"{who}: error: {os_error_line(exc)}", file=sys.stderr)
        return 2
    except NonFiniteLoss as exc:
        print(f"{who}: stopped: {exc}", file=sys.stderr)
        return 1
    finally:
        cleanup()


def print_config(args: argparse.Namespace) -> int:
    """``--help-config``: every field; ``--print-config``: the resolved config (the preset, --config, flags and
    key=value words; an automatic warm-up stays -1, its count in the comment) as YAML. 2 on a bad value, with one
    line."""
    if args.help_config:
        print(tc.help_config(), end="")
        return 0
    try:
        cfg = combined_config(args, None)
    except ConfigError as exc:
        print(f"egoimu train: error: {exc}", file=sys.stderr)
        return 2
    print(tc.config_yaml(cfg, f"egoimu train config {cfg.resolved().sha256()[:12]} (read back with --config FILE)"),
          end="")
    return 0


def train(args: argparse.Namespace, info: DistInfo) -> int:
    """Set-up, the step loop, one teardown (the ExitStack closes the log and the progress bar on every exit)."""
    rank0, device, run = info.is_rank0, info.device, Path(args.run_dir)
    ckpt = checkpoint_to_resume(run, args.resume, info.world_size)
    cfg = resolve_config(args, ckpt["config"] if ckpt else None)
    if rank0 and (leftovers := remove_leftovers(run)):
        print(f"egoimu train: removed {len(leftovers)} temporary file(s) an interrupted run left in {run}: "
              f"{', '.join(leftovers)}", file=sys.stderr)
    if args.stop_at is not None and args.stop_at < 1:
        raise ConfigError(f"--stop-at must be >= 1, got {args.stop_at}")
    stop = min(cfg.steps, args.stop_at) if args.stop_at is not None else cfg.steps
    data = open_data(Path(args.data_root), cfg, info, ckpt)
    index, last = data.index, run / "last.pt"
    model, optimizer, scheduler = open_model(cfg, info, ckpt, last)
    step, epoch, done = (int(ckpt["step"]), int(ckpt["epoch"]), int(ckpt["batches_done"])) if ckpt else (0, 0, 0)
    ddp = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None) \
        if info.distributed else model
    params = [p for p in model.parameters() if p.requires_grad]
    record = {"manifest_sha256": index.manifest_sha256, "geometry": index.geometry.to_dict(),
              "world_size": info.world_size}  # in config.json and every checkpoint

    with ExitStack() as stack:
        log = stack.enter_context(RunLog(run, step, tc.config_record(
            cfg, data_root=str(data.root.resolve()), **record), enabled=rank0))
        if rank0:
            print(f"egoimu train: {cfg.objective}, {cfg.model} model, config {cfg.sha256()[:12]}, "
                  f"{info.world_size} process(es) on {device}, {index.n} train clips, {data.per_epoch} steps/epoch, "
                  f"steps {step} -> {stop} of {cfg.steps}")
        bar = stack.enter_context(tqdm(total=stop, initial=step, unit="step", disable=None if rank0 else True,
                                       dynamic_ncols=True))
        set_train_mode(model, cfg)
        batches = None
        window = Throughput(cfg.batch_size * info.world_size)
        while step < stop:
            if batches is None:
                data.stream.set_epoch(epoch)
                data.stream.set_position(done)
                batches = iter(data.loader)
            batch = None  # free the last batch (~150 MB at full size) before the data-wait timer starts
            batch = window.next_batch(batches)
            if batch is None:
                raise DataError(f"the train stream ended after {done} of {data.per_epoch} batches of epoch {epoch}")
            video, spec = model_inputs(batch, cfg, device)
            with autocast(cfg, device):
                loss = ddp(video, spec, batch["verb_class"].to(device, non_blocking=True))
            loss_value = all_reduce_mean(loss).item()  # every rank sees the same value: they stop together
            optimizer.zero_grad(set_to_none=True)
            grad_norm = math.nan
            if math.isfinite(loss_value):
                loss.backward()
                grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip or math.inf).item()
            if not math.isfinite(grad_norm):  # also NaN when the loss is
                what = f"loss {loss_value}" if not math.isfinite(loss_value) else f"gradient norm {grad_norm}"
                clip_ids = [c for ids in gather_objects(batch["clip_id"]) for c in ids]
                message = (f"non-finite {what} at step {step + 1} (epoch {epoch}, batch {done}); the batch's "
                           f"clips: {', '.join(clip_ids)}; nothing saved for it (last checkpoint: "
                           f"{last if last.exists() else 'none'})")
                log.write({"step": step + 1, "error": message, "clip_ids": clip_ids})
                raise NonFiniteLoss(message)
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            scheduler.step()
            step, done = step + 1, done + 1
            window.steps += 1
            bar.update(1)

            if rank0 and (step % cfg.log_every == 0 or step == stop):
                figures = window.figures()
                log.write({"step": step, "epoch": epoch, "loss": loss_value, "lr": lr, "grad_norm": grad_norm,
                           **({"logit_scale": float(model.criterion.logit_scale.detach())}
                              if isinstance(model, ContrastivePair) else {}), **figures, **memory_mb()})
                bar.set_postfix(loss=f"{loss_value:.4f}", clips_s=f"{figures['clips_per_s']:.1f}",
                                data_wait=f"{figures['data_wait']:.0%}")
                tqdm.write(f"step {step}: loss {loss_value:.4f}, lr {lr:.3g}, {figures['clips_per_s']:.1f} "
                           f"clips/s, data wait {figures['data_wait']:.0%}")

            if done == data.per_epoch:  # epoch end: validation, then the position moves to the next epoch
                batches = None
                if cfg.eval_every_epoch and (epoch + 1) % cfg.eval_every_epoch == 0:
                    if rank0:
                        scores, message = validate(model, data.root, cfg, device)
                        log.write({"step": step, "epoch": epoch, **scores})
                        tqdm.write(f"epoch {epoch}: {message}")
                    barrier()
                    set_train_mode(model, cfg)
                    window.reset()  # throughput excludes validation
                epoch, done = epoch + 1, 0
                trim_heap()  # the epoch's batches and the validation embeddings are freed: give the pages back

            if (cfg.ckpt_every and step % cfg.ckpt_every == 0) or step == stop:
                rngs = gather_objects(rng_state())
                if rank0:
                    write_checkpoint(run, {
                        "format": CKPT_FORMAT, "step": step, "epoch": epoch, "batches_done": done,
                        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "config": cfg.to_dict(), "config_sha256": cfg.sha256(),
                        **record, "rng": rngs, "torch_version": str(torch.__version__)})
                barrier()
    if rank0:
        print(f"egoimu train: stopped at step {step} of {cfg.steps}; checkpoint {last}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
