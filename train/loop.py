"""``egoimu train``: the training loop, contrastive video / head-motion (arXiv 2110.01680, eq. 1) or supervised.

    egoimu train DATA_ROOT --run-dir RUN [--preset paper|default] [--model full|small] [--steps N]
                 [--objective contrastive|verb_video|verb_imu] [--stop-at K] [--resume] [--config FILE]
                 [--freeze-video] [--init-video PATH] [key=value ...]
    torchrun --nproc_per_node 8 -m egoimu.cli train DATA_ROOT --run-dir RUN ...     (DDP, same code path)

Read top to bottom: config, data, model, optimiser, resume, then one ``while step < stop`` loop. Every
process runs the same code; rank 0 alone writes RUN/config.json, metrics.jsonl, TensorBoard (RUN/tb),
the progress bar and checkpoints. AdamW (decay on conv/linear weights only), linear warm-up then cosine
over ``steps``, gradient clipping, bf16 autocast on CUDA. At the end of every ``eval_every_epoch``-th
epoch rank 0 logs the validation correspondence ROC-AUC (train/eval/corr.py) or, for a verb objective,
``val_top1``, the verb accuracy over the validation split's labelled clips.

Objectives (``objective``, ours): ``contrastive`` trains :class:`ContrastivePair`; ``verb_video`` and
``verb_imu`` train a :class:`~egoimu.train.models.classifier.VerbClassifier` (one backbone, a linear layer,
cross-entropy over the clips with verb_class >= 0; paper Tables 1-2's video-only and head-motion-only
classifiers, verb_video also the "fully supervised" video CNN of Tables 3-4). A verb objective refuses a
train (or, with validation on, validation) split without labelled clips. The loop is the same for all.

Checkpoints (every ``ckpt_every`` steps and at the end / ``--stop-at``): ``RUN/ckpt-XXXXXXX.pt`` and
``RUN/last.pt``, written atomically; their contents are listed in train/checkpoint.py, whose helpers
(``read_checkpoint``, ``load_model_state``, ``init_video_weights``, ...) this module re-exports.

``--resume`` continues from RUN/last.pt exactly: the same next batch (the data order depends only on the
seed, the epoch and the position) and, on CPU, bitwise the same losses and weights as an uninterrupted
run. The config comes from the checkpoint; only num_workers and the logging/checkpoint cadence may change.
``--steps`` is the schedule length; ``--stop-at K`` ends after step K, and a later ``--resume`` continues
the same schedule. metrics.jsonl and TensorBoard drop records past the checkpoint's step on resume.

``--freeze-video`` (paper Table 3): the video backbone gets no gradient and stays in eval mode (its
BatchNorm statistics do not move); the head-motion encoder and, ours, the video projection head learn
(without a trainable video head, frozen features would be compared through a fixed random projection);
with verb_video only the linear classifier learns.

Errors: bad data (missing shard, wrong size, other schema, empty split), bad config or a checkpoint of
another architecture stop before training (exit 2); a non-finite loss or gradient stops the run naming
the step and the batch's clip ids (exit 1), without writing a checkpoint.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from egoimu.common import atomic_write, set_mmap_threshold, trim_heap
from egoimu.manifests.schema import SUMMARY_FILENAME
from egoimu.train import config as tc
from egoimu.train.checkpoint import (  # re-exported: egoimu.train.eval.* and the tests import them from here
    CKPT_FORMAT,
    init_video_weights,
    load_model_state,
    read_checkpoint,
    rng_state,
    set_rng_state,
    write_checkpoint,
)
from egoimu.train.config import (
    OBJECTIVES,
    PRESETS,
    RUNTIME_KEYS,
    VERB_OBJECTIVES,
    ConfigError,
    TrainConfig,
    model_inputs,
)
from egoimu.train.data import ClipStream, DataError, SplitIndex, make_loader
from egoimu.train.dist import all_reduce_mean, barrier, cleanup, get_world_size, init_distributed
from egoimu.train.eval.corr import correspondence_auc, embed_split
from egoimu.train.eval.supervised_cli import classify_split
from egoimu.train.loss import ContrastiveLoss
from egoimu.train.models.classifier import VerbClassifier, verb_top1
from egoimu.train.models.registry import build_encoders
from egoimu.train.models.slowfast import CheckpointError


class NonFiniteLoss(RuntimeError):
    """The loss (or gradient norm) became NaN/inf; the message names the step and the batch's clips."""


class ContrastivePair(nn.Module):
    """The two encoders and eq. 1: forward(video (B,3,T,H,W), spec (B,6,33,50), verb=None) -> scalar loss
    (``verb`` is accepted, as the loop passes it to every objective, and ignored)."""

    def __init__(self, cfg: TrainConfig):
        super().__init__()
        self.video, self.imu = build_encoders(cfg.model, cfg.embed_dim, head=cfg.head)  # type: ignore[arg-type]
        self.criterion = ContrastiveLoss(cfg.temperature, learnable=cfg.learnable_temperature)

    def forward(self, video: torch.Tensor, spec: torch.Tensor, verb: torch.Tensor | None = None) -> torch.Tensor:
        return self.criterion(self.video(video), self.imu(spec))


Model = ContrastivePair | VerbClassifier


def _rss_mb() -> dict[str, float]:
    """Resident memory of this process and of it with its children (DataLoader workers), MiB."""
    me = psutil.Process()
    own = me.memory_info().rss
    kids = 0
    for child in me.children(recursive=True):
        try:
            kids += child.memory_info().rss
        except psutil.Error:
            pass
    return {"rss_mb": own / 2**20, "rss_total_mb": (own + kids) / 2**20}


def build_model(cfg: TrainConfig) -> Model:
    """The model of ``cfg``'s objective on CPU: :class:`ContrastivePair` (``.video``, ``.imu``, ``.criterion``)
    or :class:`VerbClassifier` (``.video`` or ``.imu``, the other None, and ``.classifier``), with
    ``--freeze-video`` applied (video backbone without gradients)."""
    if cfg.objective in VERB_OBJECTIVES:
        model: Model = VerbClassifier(cfg.model, VERB_OBJECTIVES[cfg.objective], cfg.num_verbs)  # type: ignore[arg-type]
    else:
        model = ContrastivePair(cfg)
    if model.video is not None:
        model.video.backbone.requires_grad_(not cfg.freeze_video)
    return model


def set_train_mode(model: Model, cfg: TrainConfig) -> None:
    model.train()
    if cfg.freeze_video and model.video is not None:
        model.video.backbone.eval()  # frozen BatchNorm statistics too


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
    """Rank 0's per-epoch validation: ({"val_roc_auc", "val_n"}, message) for the contrastive objective
    (correspondence ROC-AUC over every validation clip), ({"val_top1", "val_n"}, message) for a verb
    objective (top-1 accuracy over the labelled validation clips)."""
    if isinstance(model, VerbClassifier):
        top1, n = verb_top1(*classify_split(model, root, "validation", cfg, device))
        return {"val_top1": top1, "val_n": n}, f"validation verb top-1 {top1:.4f} ({n} labelled clips)"
    v, m, ids, _ = embed_split(model.video, model.imu, root, "validation", cfg, device)
    auc = correspondence_auc(v, m)
    return {"val_roc_auc": auc, "val_n": len(ids)}, f"validation correspondence ROC-AUC {auc:.4f} ({len(ids)} clips)"


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` in rank order (a collective; single process: ``[obj]``)."""
    if get_world_size() == 1:
        return [obj]
    out: list[Any] = [None] * get_world_size()
    dist.all_gather_object(out, obj)
    return out


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
    if s < cfg.warmup_steps:
        return (s + 1) / (cfg.warmup_steps + 1)
    progress = min(1.0, (s - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


# ---------------------------------------------------------------------------------------------- config


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="egoimu train",
        description="Train the video and head-motion encoders with the contrastive loss of arXiv 2110.01680 "
                    "(eq. 1), or a supervised verb classifier on one of them (--objective), on a build's train "
                    "split. Run under torchrun for DDP.",
        epilog="key=value words override any config field (python -c 'from egoimu.train.config import TrainConfig; "
               "help(TrainConfig)' lists them), e.g. lr=1e-3 batch_size=8 temperature=1.0.")
    p.add_argument("data_root", help="a build's output directory (manifest.json, shards/)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    p.add_argument("--run-dir", required=True, help="where config.json, metrics.jsonl, tb/ and checkpoints go")
    p.add_argument("--preset", choices=sorted(PRESETS), help="base config (default: 'default', or the "
                                                             "checkpoint's config with --resume)")
    p.add_argument("--model", choices=("full", "small"), help="full = SlowFast-R50 + VGG16 (paper); small = ours")
    p.add_argument("--steps", type=int, help="schedule length in optimiser steps")
    p.add_argument("--objective", choices=OBJECTIVES, help="contrastive (default) or a supervised verb classifier "
                                                           "on the video (verb_video) or head-motion (verb_imu) CNN")
    p.add_argument("--stop-at", type=int, help="stop after this step (a later --resume continues the schedule)")
    p.add_argument("--resume", action="store_true", help="continue RUN/last.pt exactly")
    p.add_argument("--config", help="YAML/JSON file of config fields (or a run's config.json)")
    p.add_argument("--freeze-video", action="store_true", help="freeze the video backbone (paper Table 3)")
    p.add_argument("--init-video", help="pytorchvideo Kinetics checkpoint or egoimu checkpoint for the video CNN")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="default: CUDA if available")
    return p.parse_intermixed_args(argv)


def resolve_config(args: argparse.Namespace, saved: dict[str, Any] | None) -> TrainConfig:
    """Preset (or the checkpoint's config), --config file, flags, key=value; on resume only RUNTIME_KEYS
    may differ from the checkpoint's config."""
    if args.preset:
        cfg = PRESETS[args.preset]
    elif saved is not None:
        cfg = TrainConfig.from_dict(saved, "checkpoint config")
    else:
        cfg = PRESETS["default"]
    from_file = tc.checked(tc.read_config_file(args.config), args.config) if args.config else {}
    flags = {"model": args.model, "steps": args.steps, "objective": args.objective, "init_video": args.init_video,
             "freeze_video": True if args.freeze_video else None}
    changes = {**from_file, **{k: v for k, v in flags.items() if v is not None}, **tc.parse_overrides(args.overrides)}
    cfg = cfg.replace(changes, "command line" if not args.config else f"{args.config} + command line")
    if saved is not None:
        changed = {k: v for k, v in TrainConfig.from_dict(saved).diff(cfg).items() if k not in RUNTIME_KEYS}
        if changed:
            listing = ", ".join(f"{k}: run {a!r} vs now {b!r}" for k, (a, b) in changed.items())
            raise ConfigError(f"--resume: the run was trained with other settings ({listing}); only "
                              f"{sorted(RUNTIME_KEYS)} may change on resume — start a new --run-dir instead")
    return cfg


# ------------------------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``egoimu train``; returns 0, 1 (non-finite loss) or 2 (bad input)."""
    args = parse_args(argv)
    set_mmap_threshold()
    # scikit-learn (~70 MiB resident) scores the per-epoch validation; load it up front so that the
    # trainer's footprint is flat from the first step instead of jumping at the first epoch's end
    import sklearn.metrics  # noqa: F401
    info = init_distributed(None if args.device == "auto" else args.device)
    who = f"egoimu train (rank {info.rank})" if info.distributed else "egoimu train"
    try:
        return train(args, info)
    except (ConfigError, DataError, CheckpointError) as exc:
        print(f"{who}: error: {exc}", file=sys.stderr)
        return 2
    except NonFiniteLoss as exc:
        print(f"{who}: stopped: {exc}", file=sys.stderr)
        return 1
    finally:
        cleanup()


def train(args: argparse.Namespace, info) -> int:
    rank0, device = info.is_rank0, info.device
    run = Path(args.run_dir)
    last = run / "last.pt"

    # ---- config (and the checkpoint to resume)
    ckpt = None
    if args.resume:
        if not last.is_file():
            raise ConfigError(f"--resume: {last} not found (nothing to resume)")
        ckpt = read_checkpoint(last)
        if ckpt["world_size"] != info.world_size:
            raise ConfigError(f"--resume: {last} was written by {ckpt['world_size']} processes, this run has "
                              f"{info.world_size}; the data position is per rank, resume with the same count")
    elif last.exists():
        raise ConfigError(f"{run} already holds a run ({last}); pass --resume to continue it or use another --run-dir")
    cfg = resolve_config(args, ckpt["config"] if ckpt else None)
    if args.stop_at is not None and args.stop_at < 1:
        raise ConfigError(f"--stop-at must be >= 1, got {args.stop_at}")
    stop = min(cfg.steps, args.stop_at) if args.stop_at is not None else cfg.steps

    # ---- data: every check that can fail happens here, before any training
    root = Path(args.data_root)
    index = SplitIndex.open(root, "train")
    build = json.loads((root / SUMMARY_FILENAME).read_text(encoding="utf-8")).get("config", {})
    if problems := tc.data_mismatches(cfg, build):
        raise DataError(f"{root}: the build does not hold the clips this config expects: " + "; ".join(problems))
    if ckpt and ckpt["manifest_sha256"] != index.manifest_sha256:
        raise DataError(f"--resume: {root}'s manifest differs from the one the run trained on (sha256 "
                        f"{index.manifest_sha256[:12]} vs {ckpt['manifest_sha256'][:12]})")
    splits = [index, SplitIndex.open(root, "validation")] if cfg.eval_every_epoch else [index]
    if cfg.objective in VERB_OBJECTIVES:
        for split_index in splits:
            check_verb_labels(split_index, cfg.num_verbs)
        index = index.labelled()  # the classifier learns from labelled clips only, not --ssl-windows ones
    dcfg = tc.data_config(cfg)
    stream = ClipStream(index, dcfg, train=True, rank=info.rank, world_size=info.world_size)
    loader = make_loader(stream, dcfg)
    per_epoch = stream.batches_per_epoch()

    # ---- model, optimiser, schedule (same seed on every rank; DDP also broadcasts rank 0's weights)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg)
    step = epoch = done = 0
    if ckpt is not None:
        load_model_state(model, ckpt["model"], last)
        step, epoch, done = int(ckpt["step"]), int(ckpt["epoch"]), int(ckpt["batches_done"])
    elif cfg.init_video:
        init_note = init_video_weights(model, cfg.init_video)
        if rank0:
            print(f"egoimu train: {init_note}")
    model.to(device)
    optimizer = make_optimizer(model, cfg, device)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg))
    if ckpt is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        set_rng_state(ckpt["rng"][info.rank])
    ddp = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None) \
        if info.distributed else model
    params = [p for p in model.parameters() if p.requires_grad]
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True

    # ---- rank 0: run directory, config.json, metrics.jsonl (cut back to the checkpoint), TensorBoard
    metrics = writer = None
    if rank0:
        run.mkdir(parents=True, exist_ok=True)
        atomic_write(run / "config.json", lambda tmp: tmp.write_text(tc.config_record(
            cfg, data_root=str(root.resolve()), manifest_sha256=index.manifest_sha256,
            world_size=info.world_size), encoding="utf-8"))
        metrics_path = run / "metrics.jsonl"
        if metrics_path.exists():
            kept = [line for line in metrics_path.read_text(encoding="utf-8").splitlines()
                    if line.strip() and json.loads(line).get("step", 0) <= step]
            atomic_write(metrics_path, lambda tmp: tmp.write_text("".join(k + "\n" for k in kept), encoding="utf-8"))
        metrics = open(metrics_path, "a", encoding="utf-8")
        from torch.utils.tensorboard import SummaryWriter  # lazily: slow import, rank 0 only

        writer = SummaryWriter(str(run / "tb"), purge_step=step + 1 if step else None)
        print(f"egoimu train: {cfg.objective}, {cfg.model} model, config {cfg.sha256()[:12]}, {info.world_size} "
              f"process(es) on {device}, {index.n} train clips, {per_epoch} steps/epoch, steps {step} -> {stop} of "
              f"{cfg.steps}")

    def log(record: dict[str, Any]) -> None:
        metrics.write(json.dumps(record) + "\n")
        metrics.flush()
        for key, value in record.items():
            if key not in ("step", "epoch") and isinstance(value, (int, float)):
                writer.add_scalar(f"{'val' if key.startswith('val_') else 'train'}/{key}", value, record["step"])

    # ---- the loop
    bar = tqdm(total=stop, initial=step, unit="step", disable=None if rank0 else True, dynamic_ncols=True)
    set_train_mode(model, cfg)
    batches = None
    t_window, wait, n_window = time.perf_counter(), 0.0, 0
    while step < stop:
        if batches is None:
            stream.set_epoch(epoch)
            stream.set_position(done)
            batches = iter(loader)
        batch = None  # free the last batch (~150 MB at full size) before the data-wait timer starts
        t0 = time.perf_counter()
        batch = next(batches, None)
        wait += time.perf_counter() - t0
        if batch is None:
            raise DataError(f"the train stream ended after {done} of {per_epoch} batches of epoch {epoch}")
        video, spec = model_inputs(batch, cfg, device)
        with tc.autocast(cfg, device):
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
            message = (f"non-finite {what} at step {step + 1} (epoch {epoch}, batch {done}); the batch's clips: "
                       f"{', '.join(clip_ids)}; nothing saved for it (last checkpoint: "
                       f"{last if last.exists() else 'none'})")
            if rank0:
                metrics.write(json.dumps({"step": step + 1, "error": message, "clip_ids": clip_ids}) + "\n")
                metrics.close()
                writer.close()
            bar.close()
            raise NonFiniteLoss(message)
        lr = optimizer.param_groups[0]["lr"]
        optimizer.step()
        scheduler.step()
        step += 1
        done += 1
        n_window += 1
        bar.update(1)

        if rank0 and (step % cfg.log_every == 0 or step == stop):
            elapsed = time.perf_counter() - t_window
            record = {"step": step, "epoch": epoch, "loss": loss_value, "lr": lr, "grad_norm": grad_norm,
                      **({"logit_scale": float(model.criterion.logit_scale.detach())}
                         if isinstance(model, ContrastivePair) else {}),
                      "clips_per_s": n_window * cfg.batch_size * info.world_size / elapsed,
                      "data_wait": wait / elapsed, **_rss_mb()}
            log(record)
            bar.set_postfix(loss=f"{loss_value:.4f}", clips_s=f"{record['clips_per_s']:.1f}",
                            data_wait=f"{record['data_wait']:.0%}")
            tqdm.write(f"step {step}: loss {loss_value:.4f}, lr {lr:.3g}, {record['clips_per_s']:.1f} clips/s, "
                       f"data wait {record['data_wait']:.0%}")
            t_window, wait, n_window = time.perf_counter(), 0.0, 0

        if done == per_epoch:  # epoch end: validation, then the position moves to the next epoch
            batches = None
            if cfg.eval_every_epoch and (epoch + 1) % cfg.eval_every_epoch == 0:
                if rank0:
                    scores, message = validate(model, root, cfg, device)
                    log({"step": step, "epoch": epoch, **scores})
                    tqdm.write(f"epoch {epoch}: {message}")
                barrier()
                set_train_mode(model, cfg)
                t_window, wait, n_window = time.perf_counter(), 0.0, 0  # throughput excludes validation
            epoch, done = epoch + 1, 0
            trim_heap()  # the epoch's batches and the validation embeddings are freed: give the pages back

        if (cfg.ckpt_every and step % cfg.ckpt_every == 0) or step == stop:
            rngs = gather_objects(rng_state())
            if rank0:
                write_checkpoint(run, {
                    "format": CKPT_FORMAT, "step": step, "epoch": epoch, "batches_done": done,
                    "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "config": cfg.to_dict(), "config_sha256": cfg.sha256(),
                    "manifest_sha256": index.manifest_sha256, "world_size": info.world_size, "rng": rngs,
                    "torch_version": str(torch.__version__),
                })
            barrier()

    bar.close()
    if rank0:
        metrics.close()
        writer.close()
        print(f"egoimu train: stopped at step {step} of {cfg.steps}; checkpoint {last}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
