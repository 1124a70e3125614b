"""``egoimu build ROOT OUT``: EPIC-KITCHENS (DogCentric, GoPro MP4s) → subject-disjoint sharded HDF5 + manifests.

Stages (each a pure function; :mod:`egoimu.pipeline.graph` runs the heavy ones on Dask):

1. sources — annotation rows → segments or recorded rejections; each video's files located;
2. probe — one task per video: hashes, exact fps and frame count, IMU re-timing and sync;
3. plan — clip starts (2 s, centred, 1/24 s grid), subject-disjoint split, shard tasks;
4. shards — one task per shard: decode, resample, spectrogram, write (temp file → rename);
5. manifests — clips, shards, recordings, splits and ``manifest.json`` (written + rejected = input).

``--resume`` skips every shard whose file is complete and whose sha256 and plan hash match; it never deletes a
file this build did not write (:mod:`egoimu.pipeline.outdir`). Arguments are checked before any work
(:mod:`egoimu.pipeline.build_args`). An empty outcome (no clip written, or none in train for a build with IMU)
writes the manifests with every rejection, no shard, and exits with status 2; over an earlier build (a
``--resume``) it writes them to ``OUT/failed/`` and leaves the earlier build's shards and manifests as they were
(the next successful build removes ``OUT/failed/``).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from egoimu import __version__
from egoimu.manifests.clihelp import out_folder_problem
from egoimu.manifests.outputs import FAILED_DIR
from egoimu.manifests.shardfmt import SPLITS, ShardLayout
from egoimu.pipeline.build_args import (
    PROG,
    config_yaml,
    dashboard_of,
    make_config,
    one_line_error,
    parse_args,
    read_inputs,
    sync_origin,
)
from egoimu.pipeline.config import BuildConfig
from egoimu.pipeline.ego4d_build import ego4d_sources
from egoimu.pipeline.gopro_build import gopro_rows, gopro_sources
from egoimu.pipeline.graph import ClusterError, dask_client, run_tasks, timed
from egoimu.pipeline.manifest_writer import print_summary, source_record, write_manifests
from egoimu.pipeline.outdir import (
    drop_shards,
    earlier_build,
    remove_failed_attempt,
    remove_temporaries,
    tidy_shards,
)
from egoimu.pipeline.plan import (
    NO_TRAIN_CLIP,
    ClipRow,
    assign_splits,
    describe_windows,
    empty_plan,
    empty_written,
    place_clips,
    reject_planned,
    resolve_ssl_windows,
    rows_from_sources,
    shard_tasks,
    window_rows,
    with_splits,
)
from egoimu.pipeline.recordings import RecordingTask, probe_recording
from egoimu.pipeline.shard_writer import ShardResult, ShardTask, build_shard, completed_result, withdrawn
from egoimu.pipeline.sources import dogcentric, epic, epic55
from egoimu.pipeline.sources.sync_defaults import describe as describe_sync
from egoimu.pipeline.sources.sync_defaults import sync_default, sync_record


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


def single_split(cfg: BuildConfig) -> str:
    """The split of ``split.mode single``: the one the ratio gives clips to (DogCentric: test, folds by dog are
    made at evaluation)."""
    ratio = list(cfg.split.ratio)
    return SPLITS[ratio.index(max(ratio))]


def main(argv: list[str] | None = None) -> int:
    """Run the build; returns 0 on success, 2 on a usage or input error or an empty outcome (no clip written,
    or none in train for a build with IMU: the manifests list every rejection, OUT holds no shard)."""
    with timed("main"):
        return _build(argv)


def _build(argv: list[str] | None) -> int:
    """:func:`main`'s body (its sections timed into ``$EGOIMU_STAGE_TIMES``, see :mod:`egoimu.pipeline.graph`)."""
    args = parse_args(argv, __doc__)
    try:
        cfg = make_config(args)
        sync_table = read_inputs(args, cfg)
    except ValueError as exc:
        return one_line_error(str(exc))
    if args.print_config:
        print(config_yaml(cfg), end="")
        return 0
    root, out = args.root.resolve(), args.out.resolve()
    if not root.is_dir():
        return one_line_error(f"dataset root {root} is not a folder" if not root.exists() else
                              f"dataset root {root} is a file: pass the dataset's folder (PXX/videos, annotation CSVs)")
    if problem := out_folder_problem(out, "OUT"):
        return one_line_error(problem)
    if not args.dry_run and not args.resume and earlier_build(out):
        return one_line_error(f"{out} holds an earlier build (files under {out / 'shards'}); pass --resume to continue "
                           f"it (shards whose plan and sha256 match are kept) or choose an empty folder")
    with_imu = args.source in ("epic", "gopro", "ego4d") and not args.video_only
    source_extra: dict | None = None  # the source's own record for manifest.json (ego4d)
    try:
        with timed("sources"):
            if args.source == "dogcentric":
                rows, rec_tasks = dogcentric_sources(root)
                missing: dict[str, tuple[str, str]] = {}
                labels = None
            elif args.source == "gopro":
                rows, rec_tasks, cfg = gopro_sources(root, args, cfg)
                missing, labels = {}, None
            elif args.source == "ego4d":
                rows, rec_tasks, missing, source_extra = ego4d_sources(root, args)
                labels = None
            else:
                rows, rec_tasks, missing, labels = epic_sources(root, args.annotations, with_imu, args.verb_map)
    except (epic.AnnotationError, FileNotFoundError) as exc:
        return one_line_error(str(exc))
    if with_imu:  # the sources were read: the build goes on
        print(describe_sync(args.source, cfg.sync_mode, sync_origin(args)), file=sys.stderr)
    rec_tasks = [replace(t, sync=sync_table.get(t.video_id)) for t in rec_tasks]
    if sync_table:
        unused = sorted(set(sync_table) - {t.video_id for t in rec_tasks})
        print(f"[sync] {len(sync_table) - len(unused)} of {len(sync_table)} sync-table entries match a video of "
              f"this build" + (f"; unmatched: {', '.join(unused[:5])}" + (" ..." if len(unused) > 5 else "")
                               if unused else ""), file=sys.stderr)
    version = __version__
    try:
        cluster = dask_client(args.workers, args.scheduler, quiet=args.quiet, dashboard=dashboard_of(args)) \
            if rec_tasks else contextlib.nullcontext()  # nothing to probe: every row was rejected from the sources
        with cluster as client:
            probed = run_tasks(client, probe_recording, rec_tasks, str(root), cfg.video, cfg.imu, with_imu,
                               cfg.sync_mode, sync_default(args.source).prior, desc="probe", progress=not args.quiet)
            recordings = {r.video_id: r for r in probed}
            if source_extra is not None:  # ego4d: each video's IMU units as inferred, recorded
                source_extra["imu_units"] = {v: r.imu_units for v, r in sorted(recordings.items()) if r.imu_units}
            with timed("plan"):
                planned = _plan(args, rows, recordings, cfg, missing, with_imu)
            if isinstance(planned, str):
                return one_line_error(planned)
            rows, assignment, cfg, ssl_record, tasks, failed = planned
            if args.dry_run:
                print_plan(rows, tasks, cfg, ssl_record)
                return one_line_error(f"nothing would be written: {failed}") if failed else 0
            results = _shard_stage(client, args, root, out, tasks, cfg, version) if tasks else []
    except ClusterError as exc:
        return one_line_error(str(exc))
    if not failed:
        failed = empty_written(results, needs_train=with_imu)
        if failed:
            drop_shards(out, results)
            results = [withdrawn(r, NO_TRAIN_CLIP, failed) for r in results]
    # an empty outcome over an earlier build (a --resume): its manifests go to OUT/failed/, the earlier stays whole
    target = out / FAILED_DIR if failed and earlier_build(out) else out
    target.mkdir(parents=True, exist_ok=True)
    with timed("manifests"):
        summary = write_manifests(target, rows, recordings, missing, assignment, tasks, results, cfg, version,
                                  source_record(root, dict(enumerate(dogcentric.ACTIVITIES))
                                                if args.source == "dogcentric" else None, labels, args.source,
                                                source_extra),
                                  failed=failed, ssl_windows=ssl_record,
                                  sync_choice=sync_record(args.source, sync_origin(args)) if with_imu else None)
        _report_removed(remove_temporaries(out), "left by a killed worker")
        if not failed:
            _report_removed(remove_failed_attempt(out), "of an earlier --resume that wrote nothing", "manifest file(s)")
    print_summary(summary, target)
    if failed:
        again = (f"the earlier build in {out} (its shards and manifests) was left as it was: run the corrected build "
                 f"with --resume" if target != out else "OUT holds no shard, so the corrected build can be run "
                 "into it again as it is (no --resume needed)")
        return one_line_error(f"no clip was written: {failed}. Every input row is in {target / 'clips.csv'} with "
                              f"its reason (summary above; {target / 'manifest.json'}); {again}")
    return 0


def _plan(args: argparse.Namespace, rows: list[ClipRow], recordings: dict, cfg: BuildConfig,
          missing: dict[str, tuple[str, str]], with_imu: bool) -> tuple | str:
    """Clips placed, splits assigned, unlabelled windows added and shard tasks made: (rows, assignment, cfg,
    ssl_windows record, tasks, why nothing can be written or ""), or the one-line error of a bad plan."""
    if args.source == "dogcentric":  # the whole clip is the segment
        rows = [replace(r, seg_stop_s=recordings[r.video_id].duration_s)
                if r.planned and recordings[r.video_id].ok else r for r in rows]
    rows = place_clips(rows, recordings, cfg.clip, missing)
    try:
        if args.source == "gopro":  # windows, splits, and the videos that gave no clip
            rows, assignment, cfg, ssl_record = gopro_rows(rows, recordings, cfg, labelled=bool(args.annotations))
        else:
            assignment = (dict.fromkeys(sorted({r.participant_id for r in rows if r.planned}), single_split(cfg))
                          if cfg.split.mode == "single" else assign_splits(rows, cfg))
            rows = with_splits(rows, assignment)
            clip_cfg, ssl_record = resolve_ssl_windows(recordings, assignment, cfg.clip, rows)
            cfg = cfg.replace(clip=clip_cfg)
            rows = rows + window_rows(recordings, assignment, cfg.clip)
    except (ValueError, OSError) as exc:
        return str(exc)
    failed = empty_plan(rows, needs_train=with_imu)
    rows = reject_planned(rows, NO_TRAIN_CLIP, failed) if failed else rows
    return rows, assignment, cfg, ssl_record, shard_tasks(rows, recordings, cfg, with_imu), failed


def _shard_stage(client: Any, args: argparse.Namespace, root: Path, out: Path, tasks: list[ShardTask],
                 cfg: BuildConfig, version: str) -> list[ShardResult]:
    """OUT made ready (temporary files removed; shards of an earlier plan removed, files this build did not write
    moved aside, each said on stderr), then every shard written or, with ``--resume``, reused when verified."""
    _report_removed(remove_temporaries(out), "left by an earlier run")
    for message in tidy_shards(out, {t.rel_path for t in tasks}):
        print(f"{PROG}: {message}", file=sys.stderr)
    config_sha = cfg.sha256()
    done = {i: r for i, t in enumerate(tasks)
            if (r := completed_result(str(out), t, config_sha)) is not None} if args.resume else {}
    if done:
        print(f"[resume] {len(done)} of {len(tasks)} shards complete and verified; building the rest",
              file=sys.stderr)
    todo = [t for i, t in enumerate(tasks) if i not in done]
    built = iter(run_tasks(client, build_shard, todo, str(root), str(out), cfg, version, desc="shards",
                           progress=not args.quiet))
    return [done[i] if i in done else next(built) for i in range(len(tasks))]


def _report_removed(removed: list[str], why: str, what: str = "temporary file(s)") -> None:
    """One stderr line naming the files removed (the first few)."""
    if removed:
        print(f"{PROG}: removed {len(removed)} {what} {why}: {', '.join(removed[:4])}"
              + (" ..." if len(removed) > 4 else ""), file=sys.stderr)


def print_plan(rows: list[ClipRow], tasks: list, cfg: BuildConfig, ssl_windows: dict[str, Any]) -> None:
    """The dry run's report: planned clips and participants per split, the unlabelled windows (their stride, how
    it was chosen, their count and bytes), rejections, estimated bytes."""
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
    windows = sum(1 for r in rows if r.planned and r.kind == "window")
    print(f"  {describe_windows(ssl_windows, windows)}: ~{windows * per_clip / 1e9:.2f} GB")
    rejected = Counter(r.reason for r in rows if not r.planned)
    print(f"  rejected before decoding: {sum(rejected.values())}" +
          "".join(f"\n    {k}: {v}" for k, v in sorted(rejected.items())))
    print(f"  input rows: {len(rows)}")
