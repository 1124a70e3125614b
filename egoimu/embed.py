"""``egoimu embed``: frozen backbone features of a representation, for every clip of a split or for video files.

    egoimu embed (RUN | --random MODEL [--seed S] | --checkpoint PATH [--model full])
                 (--data OUT [--split test] [--labelled-only] | VIDEO...) --out FILE.h5 [--imu]
                 [--batch-size B] [--num-workers W] [--device auto|cpu|cuda]

A dispatcher-layer command: split features come from :mod:`egoimu.train.eval.embed` (the file format is
documented there); video files (``VIDEO...``) are decoded by :mod:`egoimu.pipeline.video`, which is imported
only when video files are given, so a trainer's install (``egoimu[train]``) runs ``--data`` without it.
Video files are tiled into consecutive windows of the representation's clip geometry (the run's, else the
paper's: 2 s = 48 frames at 24 fps) from their first frame, decoded and resized exactly as the build does
(short side resized, centre crop to the frame size); a tail shorter than a window is left out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from egoimu.manifests.clihelp import HelpFormatter, OneLineParser
from egoimu.manifests.shardfmt import SPLITS
from egoimu.train.encode import encode_batch, frozen
from egoimu.train.eval.embed import TABLE_COLUMNS, FeatureSet, embed_data, representation_attrs, write_features
from egoimu.train.eval.representations import (
    Representation,
    RepresentationError,
    add_representation_args,
    feature_encoders,
    representation_from_args,
    run_command,
)


def _decoder() -> tuple[Any, ...]:
    try:
        from egoimu.pipeline.ffmpeg_bin import FFmpegNotFound
        from egoimu.pipeline.video import VideoConfig, VideoError, clip_source_indices, decode_clips, probe_video
    except ImportError as exc:
        raise RepresentationError(f"embedding video files needs the pipeline's decoder: pip install "
                                  f"'egoimu[pipeline]' ({exc})") from None
    return FFmpegNotFound, VideoConfig, VideoError, clip_source_indices, decode_clips, probe_video


def embed_videos(rep: Representation, paths: list[str | Path], *, progress: bool = True) -> FeatureSet:
    """Video features of consecutive clip-length windows (2 s) tiled over each video file (module docstring).
    RepresentationError naming the file when it cannot be decoded or is shorter than one window."""
    ffmpeg_missing, VideoConfig, VideoError, clip_source_indices, decode_clips, probe_video = _decoder()
    g = rep.geometry  # the clips the representation was trained on
    encoders = feature_encoders(rep)
    vcfg = VideoConfig(geometry=g)
    window = g.window
    plans, rows = [], []
    for path in map(Path, paths):
        try:
            info = probe_video(path, timeout_s=vcfg.timeout_s)
        except (VideoError, ffmpeg_missing) as exc:
            raise RepresentationError(f"cannot read video {path}: {exc}") from exc
        starts = []
        while clip_source_indices(len(starts) * window, info.fps, g.frames, g.fps)[-1] < info.n_frames:
            starts.append(len(starts) * window)
        if not starts:
            raise RepresentationError(f"{path}: {info.duration_s:.2f} s is shorter than one {float(window):g} s "
                                      f"window")
        plans.append((path, info, starts))
        rows += [{"clip_id": f"{path.stem}_w{int(s * g.fps):07d}", "video_id": str(path.resolve()),
                  "participant_id": "", "verb_class": -1, "start_s": float(s), "end_s": float(s + window)}
                 for s in starts]
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    if table.clip_id.duplicated().any():
        raise RepresentationError(f"two VIDEO files share a name ({table.clip_id[table.clip_id.duplicated()].iloc[0]}"
                                  f"); window ids are <file stem>_w<frame>, rename one")
    feats: list[torch.Tensor] = []
    pending: list[np.ndarray] = []

    def flush() -> None:
        batch = {"video": torch.from_numpy(np.stack(pending)),
                 "spec": torch.zeros(len(pending), 6, 1, 1)}  # model_inputs wants a spec; files have none
        feats.append(encode_batch(batch, rep.cfg, rep.device, encoders)["video"])
        pending.clear()

    with frozen([rep.video]), tqdm(total=len(table), desc="embed videos", unit="clip",
                                   disable=None if progress else True, leave=False) as bar:
        for path, info, starts in plans:
            try:
                for _, frames in decode_clips(path, starts, vcfg, info):
                    pending.append(frames)
                    bar.update(1)
                    if len(pending) == rep.cfg.batch_size:
                        flush()
            except VideoError as exc:
                raise RepresentationError(f"cannot decode video {path}: {exc}") from exc
        if pending:
            flush()
    attrs = {**representation_attrs(rep), "data": "", "manifest_sha256": "", "split": "", "labelled_only": False,
             "videos": json.dumps([str(Path(p).resolve()) for p in paths])}
    return FeatureSet(torch.cat(feats).numpy(), None, table, attrs)


# ------------------------------------------------------------------------------------------------ CLI


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = OneLineParser(
        formatter_class=HelpFormatter,
        prog="egoimu embed", description="Frozen video (and head-motion) backbone features of a representation, "
        "for every clip of a build's split or for video files, written to one HDF5 file.",
        epilog="examples: egoimu embed runs/ssl --data shards --split test --out ssl-test.h5 --imu | "
               "egoimu embed --random small --seed 0 clip.mp4 --out rand.h5 | "
               "egoimu embed --checkpoint SLOWFAST_8x8_R50.pyth --data shards --out k400.h5")
    p.add_argument("inputs", nargs="*", metavar="RUN|VIDEO",
                   help="RUN (a run directory; unless --random or --checkpoint), then VIDEO files (unless --data)")
    add_representation_args(p, positional_run=False)
    p.add_argument("--data", help="a build's output: embed the clips of --split")
    p.add_argument("--split", default="test", choices=SPLITS, help="the split to use")
    p.add_argument("--labelled-only", action="store_true", help="only clips with a verb label (verb_class >= 0)")
    p.add_argument("--imu", action="store_true", help="also the head-motion encoder's features (--data only)")
    p.add_argument("--out", required=True, help="the HDF5 file to write")
    return p.parse_args(argv)


def _embed(args: argparse.Namespace) -> int:
    inputs = list(args.inputs)
    run = None if args.random or args.checkpoint else (inputs.pop(0) if inputs else None)
    if bool(args.data) == bool(inputs):
        raise RepresentationError("give either --data OUT (a build's split) or VIDEO files" +
                                  (", not both" if inputs else ""))
    if inputs and args.imu:
        raise RepresentationError("--imu needs --data: video files carry no head motion")
    rep = representation_from_args(args, run=run or "")
    if args.data:
        fs = embed_data(rep, args.data, args.split, imu=args.imu, labelled_only=args.labelled_only)
    else:
        fs = embed_videos(rep, inputs)
    write_features(args.out, fs)
    imu = f" and {fs.imu.shape[1]} head-motion" if fs.imu is not None else ""
    what = f"split {args.split} of {args.data}" if args.data else f"{len(inputs)} video file(s)"
    print(f"egoimu embed: {len(fs.table)} clips of {what}: {fs.video.shape[1]} video{imu} features each, "
          f"{rep.name} = {rep.describe()} -> {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``egoimu embed``: 0 on success, 2 on bad input (message on stderr, naming the file)."""
    args = parse_args(argv)
    return run_command("egoimu embed", lambda: _embed(args))
