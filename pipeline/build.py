"""``egoimu build ROOT OUT``: EPIC-KITCHENS (or DogCentric) → subject-disjoint sharded HDF5 + manifests.

Stages (each a pure function; :mod:`egoimu.pipeline.graph` runs the heavy ones on Dask):

1. sources — annotation rows → segments or recorded rejections; each video's files located;
2. probe — one task per video: hashes, exact fps and frame count, IMU re-timing and sync;
3. plan — clip starts (2 s, centred, 1/24 s grid), subject-disjoint split, shard tasks;
4. shards — one task per shard: decode, resample, spectrogram, write (temp file → rename);
5. manifests — clips, shards, recordings, splits and ``manifest.json`` (written + rejected = input).

``--resume`` skips every shard whose file is complete and whose sha256 and plan hash match.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

from egoimu import __version__
from egoimu.manifests.shardfmt import SPLITS, ShardLayout
from egoimu.pipeline.config import BuildConfig, ShardConfig, SplitConfig
from egoimu.pipeline.graph import dask_client, run_tasks
from egoimu.pipeline.manifest_writer import print_summary, source_record, write_manifests
from egoimu.pipeline.plan import (
    ClipRow,
    assign_splits,
    place_clips,
    rows_from_sources,
    shard_tasks,
    window_rows,
    with_splits,
)
from egoimu.pipeline.recordings import RecordingTask, probe_recording
from egoimu.pipeline.shard_writer import build_shard, completed_result
from egoimu.pipeline.sources import dogcentric, epic, epic55

SINGLE_SPLIT = "test"  # DogCentric: every clip in one split; folds by dog are made at evaluation



def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="egoimu build", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", type=Path, help="dataset root (EPIC layout: PXX/videos, PXX/meta_data, CSVs)")
    p.add_argument("out", type=Path, help="output folder for shards and manifests")
    p.add_argument("--source", choices=("epic", "dogcentric"), default="epic",
                   help="dataset kind (default epic; dogcentric: video-only, label and dog from file names)")
    p.add_argument("--annotations", type=Path, nargs="+", metavar="CSV",
                   help="annotation files (default: ROOT/EPIC_100_train.csv and EPIC_100_validation.csv)")
    p.add_argument("--split", default=None, metavar="planned|canonical|FILE",
                   help="planned (default; exact search for the paper's ratio), canonical (the committed "
                        "EPIC-100 head-motion split) or a participant_id,split CSV")
    p.add_argument("--ratio", default=None, metavar="A:B:C", help="target train:validation:test clip ratio "
                   "for --split planned (default the paper's 30044:3032:4379)")
    p.add_argument("--config", type=Path, help="YAML config (sections clip, video, imu, spec, shard, split)")
    p.add_argument("--encoding", choices=("raw", "lossless", "jpeg"), help="video storage in the shards")
    p.add_argument("--clips-per-shard", type=int, help="clips per shard file (default 64)")
    p.add_argument("--backend", choices=("ffmpeg", "decord"), help="video decoder (default ffmpeg)")
    p.add_argument("--ssl-windows", type=float, metavar="STRIDE_S",
                   help="also tile unlabelled 2 s windows every STRIDE_S seconds over the train videos")
    p.add_argument("--sync-table", type=Path, help="CSV video_id,offset_s,scale overriding the estimated sync")
    p.add_argument("--verb-map", type=Path, metavar="CSV", help="EPIC-55 labels: raw_verb,verb_class or "
                   "epic55_class,epic100_class rows, tried before EPIC_100_verb_classes.csv's instances (README)")
    p.add_argument("--video-only", action="store_true",
                   help="keep videos without IMU files (EPIC-55, evaluation sets); shards hold zero IMU")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--workers", type=int, help="LocalCluster worker processes (default: CPUs, at most 4)")
    g.add_argument("--scheduler", help="address of an existing Dask scheduler, e.g. tcp://127.0.0.1:8786")
    p.add_argument("--resume", action="store_true", help="continue an earlier build into OUT")
    p.add_argument("--dry-run", action="store_true", help="print the plan without decoding or writing")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def make_config(args: argparse.Namespace) -> BuildConfig:
    """The config file (if any) with the command-line options on top."""
    cfg = BuildConfig.load(args.config) if args.config else BuildConfig()
    shard = cfg.shard
    if args.encoding:
        shard = replace(shard, encoding=args.encoding)
    if args.clips_per_shard:
        shard = ShardConfig(args.clips_per_shard, shard.encoding, shard.jpeg_quality)
    split = cfg.split
    if args.source == "dogcentric":
        split = SplitConfig(mode="single", ratio=(0, 0, 1), seed=0)
    elif args.split in ("planned", "canonical"):
        split = replace(split, mode=args.split)
    elif args.split:
        split = SplitConfig(mode="file", ratio=split.ratio, seed=split.seed, file=str(args.split))
    if args.ratio:
        try:
            split = replace(split, ratio=tuple(int(x) for x in args.ratio.split(":")))
        except ValueError:
            raise ValueError(f"--ratio {args.ratio!r}: expected three integers A:B:C") from None
    video = replace(cfg.video, backend=args.backend) if args.backend else cfg.video
    clip = replace(cfg.clip, ssl_stride_s=args.ssl_windows) if args.ssl_windows else cfg.clip
    sync = str(args.sync_table) if args.sync_table else cfg.sync_table
    return cfg.replace(shard=shard, split=split, video=video, clip=clip, sync_table=sync)


def epic_sources(root: Path, annotations: list[Path] | None, with_imu: bool, verb_map: Path | None = None
                 ) -> tuple[list[ClipRow], list[RecordingTask], dict[str, tuple[str, str]], dict | None]:
    """Annotation rows and the recordings they need; videos lacking files give (reason, detail); and the
    EPIC-55 label mapping's record for manifest.json (None when no EPIC-55 labels were read).

    Class ids are checked against ROOT/EPIC_100_{verb,noun}_classes.csv when present; EPIC-55 labels are
    mapped by :func:`epic55.load_mapping` (ROOT's class files, ``verb_map``)."""
    files = annotations or epic.default_annotation_files(root)
    known = [epic.read_class_ids(p) if p.is_file() else None
             for p in (root / epic55.EPIC100_VERB_CLASSES, root / epic55.EPIC100_NOUN_CLASSES)]
    mapping = epic55.load_mapping(root, verb_map)
    segments, rejections = [], []
    for path in files:
        s, r = epic.read_annotations(path, *known, mapping)
        segments += s
        rejections += r
    rows = rows_from_sources(segments, rejections)
    tasks, missing = [], {}
    for vid in sorted({r.video_id for r in rows if r.planned}):
        files_ = epic.find_recording(root, vid)
        if not files_.video:
            missing[vid] = (epic.NO_VIDEO_FILE, f"no {files_.participant_id}/videos/{vid}.MP4 under the root")
        elif with_imu and not files_.has_imu:
            lacking = [k for k in ("accl", "gyro") if not getattr(files_, k)]
            missing[vid] = (epic.NO_IMU, f"no {' and '.join(lacking)} file in {files_.participant_id}/meta_data")
        else:
            tasks.append(RecordingTask(vid, files_.participant_id, files_.video,
                                       files_.accl if with_imu else "", files_.gyro if with_imu else ""))
    return rows, tasks, missing, epic55.mapping_record(mapping, segments, rejections)


def dogcentric_sources(root: Path) -> tuple[list[ClipRow], list[RecordingTask]]:
    """One row and one recording per clip file; other files are recorded rejections."""
    clips, rejections = dogcentric.scan_dogcentric(root)
    rows = [ClipRow(c.clip_id, c.clip_id, c.dog, c.clip_id, "segment", 0.0, 0.0, None, c.activity, c.label, -1)
            for c in clips]
    rows += [ClipRow(r.path, r.path, "unknown", "unknown", "segment", float("nan"), float("nan"), None, "", -1, -1,
                     reason=r.reason, detail=r.detail) for r in rejections]
    tasks = [RecordingTask(c.clip_id, c.dog, c.path) for c in clips]
    return rows, tasks


def main(argv: list[str] | None = None) -> int:
    """Run the build; returns 0 on success, 2 on a usage or input error."""
    args = parse_args(argv)
    try:
        cfg = make_config(args)
    except ValueError as exc:
        print(f"egoimu build: {exc}", file=sys.stderr)
        return 2
    root, out = args.root.resolve(), args.out.resolve()
    if not root.is_dir():
        print(f"egoimu build: dataset root {root} is not a folder", file=sys.stderr)
        return 2
    if not args.dry_run and not args.resume and (out / "shards").exists():
        print(f"egoimu build: {out} holds an earlier build; pass --resume to continue it (shards whose plan "
              f"and sha256 match are kept) or choose an empty folder", file=sys.stderr)
        return 2
    with_imu = args.source == "epic" and not args.video_only
    try:
        if args.source == "dogcentric":
            rows, rec_tasks = dogcentric_sources(root)
            missing: dict[str, tuple[str, str]] = {}
            labels = None
        else:
            rows, rec_tasks, missing, labels = epic_sources(root, args.annotations, with_imu, args.verb_map)
    except (epic.AnnotationError, FileNotFoundError) as exc:
        print(f"egoimu build: {exc}", file=sys.stderr)
        return 2
    version = __version__
    with dask_client(args.workers, args.scheduler, quiet=args.quiet) as client:
        probed = run_tasks(client, probe_recording, rec_tasks, str(root), cfg.video, cfg.imu, cfg.sync_table,
                           with_imu, desc="probe", progress=not args.quiet)
        recordings = {r.video_id: r for r in probed}
        if args.source == "dogcentric":  # the whole clip is the segment
            rows = [replace(r, seg_stop_s=recordings[r.video_id].duration_s)
                    if r.planned and recordings[r.video_id].ok else r for r in rows]
        rows = place_clips(rows, recordings, cfg.clip, missing)
        try:
            if cfg.split.mode == "single":
                assignment = {r.participant_id: SINGLE_SPLIT for r in rows if r.planned}
            else:
                assignment = assign_splits(rows, cfg)
        except (ValueError, OSError) as exc:
            print(f"egoimu build: {exc}", file=sys.stderr)
            return 2
        rows = with_splits(rows, assignment)
        rows += window_rows(recordings, assignment, cfg.clip)
        tasks = shard_tasks(rows, recordings, cfg, with_imu)
        if args.dry_run:
            print_plan(rows, tasks, cfg)
            return 0
        config_sha = cfg.sha256()
        _remove_stale(out, {t.rel_path for t in tasks})
        done = {i: r for i, t in enumerate(tasks)
                if (r := completed_result(str(out), t, config_sha)) is not None} if args.resume else {}
        if done:
            print(f"[resume] {len(done)} of {len(tasks)} shards complete and verified; building the rest",
                  file=sys.stderr)
        todo = [t for i, t in enumerate(tasks) if i not in done]
        built = iter(run_tasks(client, build_shard, todo, str(root), str(out), cfg, version, desc="shards",
                               progress=not args.quiet))
        results = [done[i] if i in done else next(built) for i in range(len(tasks))]
    summary = write_manifests(out, rows, recordings, missing, assignment, tasks, results, cfg, version,
                              source_record(root, dict(enumerate(dogcentric.ACTIVITIES))
                                            if args.source == "dogcentric" else None, labels))
    print_summary(summary, out)
    return 0


def _remove_stale(out: Path, planned: set[str]) -> None:
    """Delete temp files and shards (with sidecars) that the current plan does not contain."""
    shards = out / "shards"
    if not shards.is_dir():
        return
    for path in sorted(shards.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(out).as_posix()
        if path.name.endswith(".tmp") or path.name.endswith(".compact"):
            path.unlink()
        elif rel.endswith(".h5") and rel not in planned:
            path.unlink()
        elif rel.endswith(".h5.json") and rel[:-5] not in planned:
            path.unlink()


def print_plan(rows: list[ClipRow], tasks: list, cfg: BuildConfig) -> None:
    """The dry run's report: planned clips and participants per split, rejections, estimated bytes."""
    sizes = ShardLayout(geometry=cfg.geometry).clip_bytes()  # raw bytes a clip, by dataset
    ratio = {"raw": 1.0, "lossless": 0.5, "jpeg": 0.08}[cfg.shard.encoding]  # video stored / raw (measured)
    per_clip = sizes.pop("video") * ratio + sum(sizes.values())
    print(f"plan (config {cfg.sha256()[:12]}, split {cfg.split.mode}; clips of {cfg.geometry.describe()}):")
    for split in SPLITS:
        mine = [r for r in rows if r.planned and r.split == split]
        people = sorted({r.participant_id for r in mine})
        n_shards = sum(1 for t in tasks if t.split == split)
        print(f"  {split:<10} {len(mine):>7} clips  {n_shards:>4} shards  ~{len(mine) * per_clip / 1e9:7.2f} GB"
              f"  participants: {' '.join(people) or '-'}")
    rejected = Counter(r.reason for r in rows if not r.planned)
    print(f"  rejected before decoding: {sum(rejected.values())}" +
          "".join(f"\n    {k}: {v}" for k, v in sorted(rejected.items())))
    print(f"  input rows: {len(rows)}")
