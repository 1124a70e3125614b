"""Turn a finished build (plan + shard results) into the manifests of :mod:`egoimu.manifests.schema`.

Written last, after every shard: ``clips.csv`` (every input row, written or rejected with a reason),
``shards.csv``, ``recordings.csv``, ``splits.csv`` and ``manifest.json`` (config, split rule, per-split
counts and verb histograms, train-split normalisation statistics, accounting, and every shard task's plan
hash and sidecar sha256, by which the audit checks the sidecars), then the dataset card ``README.md``
(:mod:`egoimu.manifests.card`, from the files as written).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from egoimu.manifests.card import write_card
from egoimu.manifests.files import sha256_file
from egoimu.manifests.outputs import SHARD_TASKS_KEY
from egoimu.manifests.schema import MANIFEST_SCHEMA_VERSION, Manifest, columns
from egoimu.manifests.shardfmt import SPLITS
from egoimu.pipeline.config import BuildConfig
from egoimu.pipeline.plan import ClipRow
from egoimu.pipeline.recordings import RecordingResult
from egoimu.pipeline.shard_writer import ShardResult, ShardTask, sidecar_path
from egoimu.pipeline.sources.epic import read_class_table
from egoimu.pipeline.spectrogram import RunningStats


def _clips_table(rows: list[ClipRow], tasks: list[ShardTask], results: list[ShardResult], cfg: BuildConfig
                 ) -> pd.DataFrame:
    outcome: dict[str, tuple[str, int, str]] = {}
    for task, res in zip(tasks, results):
        for clip_id, row, reason, _detail in res.outcomes:
            outcome[clip_id] = (task.rel_path if row >= 0 else "", row, reason)
    records = []
    for r in rows:
        shard, row, reason = outcome.get(r.clip_id, ("", -1, r.reason)) if r.planned else ("", -1, r.reason)
        start = float(r.start) if r.start is not None else math.nan
        records.append({
            "clip_id": r.clip_id, "narration_id": r.narration_id, "participant_id": r.participant_id or "unknown",
            "video_id": r.video_id or "unknown", "kind": r.kind, "split": r.split,
            "seg_start_s": r.seg_start_s, "seg_stop_s": r.seg_stop_s, "start_s": start,
            "end_s": start + cfg.geometry.window, "verb": r.verb, "verb_class": r.verb_class,
            "noun_class": r.noun_class, "status": "written" if row >= 0 else "rejected", "reason": reason,
            "shard": shard, "row": row,
        })
    return pd.DataFrame.from_records(records, columns=columns("clips"))


#: recordings.csv's ``--sync auto`` estimate where nothing was measured
_NOT_MEASURED: dict[str, Any] = {"sync_offset_ms": math.nan, "sync_scale": math.nan, "sync_peak_r": math.nan,
                                 "sync_confidence": math.nan, "sync_fallback": ""}


def _recordings_table(recordings: dict[str, RecordingResult], missing: dict[str, tuple[str, str]],
                      assignment: dict[str, str], participant_of: dict[str, str], backend: str) -> pd.DataFrame:
    records = []
    for vid in sorted(set(recordings) | set(missing)):
        rec = recordings.get(vid)
        if rec is None:
            reason, _ = missing[vid]
            pid = participant_of.get(vid, "unknown")
            records.append({"video_id": vid, "participant_id": pid, "split": assignment.get(pid, ""),
                            "video_path": "", "accl_path": "", "gyro_path": "", "video_sha256": "",
                            "accl_sha256": "", "gyro_sha256": "", "fps_num": -1, "fps_den": -1, "n_frames": -1,
                            "duration_s": math.nan, "width": -1, "height": -1, "accl_rate_hz": math.nan,
                            "gyro_rate_hz": math.nan, "imu_rate_correction": math.nan, "imu_offset_s": math.nan,
                            "decoder": "", "status": "rejected", "reason": reason,
                            "accl_time_convention": "", "gyro_time_convention": "", "sync_mode": "",
                            **_NOT_MEASURED})
            continue
        imu = bool(rec.accl)
        records.append({
            "video_id": vid, "participant_id": rec.participant_id, "split": assignment.get(rec.participant_id, ""),
            "video_path": rec.video, "accl_path": rec.accl, "gyro_path": rec.gyro,
            "video_sha256": rec.video_sha256, "accl_sha256": rec.accl_sha256, "gyro_sha256": rec.gyro_sha256,
            "fps_num": rec.fps_num, "fps_den": rec.fps_den, "n_frames": rec.n_frames, "duration_s": rec.duration_s,
            "width": rec.width, "height": rec.height,
            "accl_rate_hz": rec.accl_rate_hz if imu else math.nan,
            "gyro_rate_hz": rec.gyro_rate_hz if imu else math.nan,
            "imu_rate_correction": rec.accl_sync[1] if imu and rec.ok else math.nan,
            "imu_offset_s": rec.accl_sync[0] if imu and rec.ok else math.nan,
            "decoder": backend if rec.ok else "", "status": rec.status, "reason": rec.reason,
            "accl_time_convention": rec.accl_time_convention, "gyro_time_convention": rec.gyro_time_convention,
            "sync_mode": rec.sync_mode, **{k: getattr(rec, k) for k in _NOT_MEASURED},
        })
    return pd.DataFrame.from_records(records, columns=columns("recordings"))


def _normalisation(tasks: list[ShardTask], results: list[ShardResult], with_imu: bool, failed: str = ""
                   ) -> dict[str, Any]:
    if not with_imu or failed:
        unit = {"mean": [0.0] * 6, "std": [1.0] * 6}
        note = "video-only build" if not failed else "failed build (no train clip; see 'failed')"
        return {"imu": unit, "spec": dict(unit), "note": f"{note}: identity statistics"}
    out: dict[str, Any] = {}
    for key in ("imu", "spec"):
        stats = RunningStats()
        for task, res in zip(tasks, results):  # fixed order → deterministic floats
            if task.split == "train" and res.n_clips:
                stats = stats.merge(RunningStats.from_dict(getattr(res, f"{key}_stats")))
        if stats.count == 0:
            raise ValueError("no train clip was written: cannot compute normalisation statistics")
        mean, std = stats.finalize()
        out[key] = {"mean": [float(x) for x in mean], "std": [float(max(x, 1e-12)) for x in std]}
    out["note"] = "per-channel mean and std over the train split (imu: samples; spec: log-magnitude bins)"
    return out


def source_record(root: Path, class_names: dict[int, str] | None = None,
                  label_mapping: dict[str, Any] | None = None, dataset: str = "",
                  source: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the build read: ``dataset`` (``--source``: epic, dogcentric, gopro), ``synthetic`` (True when
    ``root`` was written by ``egoimu synth``), and for a
    synthetic set the generator, its config sha256 and the table of what it builds in (``signals``: which
    verbs or activities carry head-motion or visual signal), so that every downstream report can say so;
    ``class_names`` {verb_class: name} (given, else EPIC's ``EPIC_100_verb_classes.csv`` keys, else {});
    ``label_mapping``: how EPIC-55 labels became EPIC-100 classes (``epic55.mapping_record``: the files it
    used, rows mapped per class, the unmapped verbs), null when the build read no EPIC-55 labels; ``source``: the
    source's own record, kept under the dataset's name (``ego4d``: the narration file and pass, skipped metadata
    records, videos of unknown wearer, each video's IMU units as inferred)."""
    record = dict(NOT_SYNTHETIC)
    for truth in (root / "synth_truth" / "dataset.json", root / "synth_truth.json"):
        if truth.is_file():
            data = json.loads(truth.read_text(encoding="utf-8"))
            record = {"synthetic": True, "generator": data.get("generator", "egoimu synth"),
                      "generator_config_sha256": data.get("config_sha256"),
                      "signals": data.get("verb_signals") or data.get("activity_signals")}
            break
    table = root / "EPIC_100_verb_classes.csv"
    if class_names is None and table.is_file():
        class_names = {entry.id: entry.key for entry in read_class_table(table)}
    record["class_names"] = {str(k): v for k, v in sorted((class_names or {}).items())}
    record["label_mapping"] = label_mapping
    record["dataset"] = dataset
    if source is not None:
        record[dataset] = source
    return record


#: :func:`source_record` of a real dataset without a class table.
NOT_SYNTHETIC: dict[str, Any] = {"synthetic": False, "generator": None, "generator_config_sha256": None,
                                 "signals": None, "class_names": {}, "label_mapping": None, "dataset": ""}


def write_manifests(out: Path, rows: list[ClipRow], recordings: dict[str, RecordingResult],
                    missing: dict[str, tuple[str, str]], assignment: dict[str, str], tasks: list[ShardTask],
                    results: list[ShardResult], cfg: BuildConfig, version: str,
                    source: dict[str, Any] | None = None, failed: str = "",
                    sync_choice: dict[str, str] | None = None,
                    ssl_windows: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate and write the five manifest files and the dataset card (README.md) into ``out``; returns the
    summary.

    source: :func:`source_record` of the input root (kept in manifest.json as ``source``).
    sync_choice: who chose the sync mode and the source's prior model (in manifest.json ``sync``).
    ssl_windows: how the unlabelled windows' stride was chosen (:func:`egoimu.pipeline.plan.resolve_ssl_windows`),
    kept in manifest.json as ``ssl_windows`` with the number written.
    failed: why the build wrote no clip (an empty outcome), kept in manifest.json as ``failed``; every clip is
    then rejected and the normalisation statistics are the identity."""
    clips = _clips_table(rows, tasks, results, cfg)
    shards = pd.DataFrame.from_records(
        [{"shard": r.rel_path, "split": r.split, "n_clips": r.n_clips, "participants": ";".join(r.participants),
          "bytes": r.bytes, "sha256": r.sha256, "config_sha256": cfg.sha256()} for r in results if r.n_clips],
        columns=columns("shards"))
    participant_of = {r.video_id: r.participant_id for r in rows}
    recs = _recordings_table(recordings, missing, assignment, participant_of, cfg.video.backend)
    splits = pd.DataFrame(sorted(assignment.items()), columns=columns("splits"))
    written = clips[clips.status == "written"]
    counts = {}
    for split in SPLITS:
        mine = written[written.split == split]
        counts[split] = {"clips": int(len(mine)), "participants": int(mine.participant_id.nunique()),
                         "verbs": {str(k): int(v) for k, v in sorted(Counter(mine.verb_class).items())}}
    rejected = clips[clips.status == "rejected"]
    with_imu = any(bool(r.accl) for r in recordings.values())
    summary = {
        "schema_version": MANIFEST_SCHEMA_VERSION, "egoimu_version": version, "config": cfg.to_dict(),
        "config_sha256": cfg.sha256(), "geometry": cfg.geometry.describe(),
        "split": {"mode": cfg.split.mode, "ratio": list(cfg.split.ratio) if cfg.split.mode == "planned" else None,
                  "seed": cfg.split.seed if cfg.split.mode == "planned" else None},
        "counts": counts,
        "normalisation": _normalisation(tasks, results, with_imu, failed),
        "accounting": {"input": int(len(clips)), "written": int(len(written)),
                       "rejected_by_reason": {str(k): int(v) for k, v in sorted(Counter(rejected.reason).items())}},
        "rejection_examples": _examples(rows, tasks, results),
        "source": source if source is not None else dict(NOT_SYNTHETIC),
        "imu_alignment_vs_truth_ms": _alignment(recordings),
        "sync": {**_sync_summary(cfg.sync_mode, recordings), **(sync_choice or {})},
        "ssl_windows": {**(ssl_windows or {"requested": None, "stride_s": None, "train_video_s": 0.0,
                                           "train_segments": 0}),
                        "written": int((written.kind == "window").sum())},
        "imu_cleaning": {"rows_dropped": sum(r.imu_rows_dropped for r in recordings.values()),
                         "rows_reordered": sum(r.imu_rows_reordered for r in recordings.values()),
                         "rows_untimed": sum(r.imu_rows_untimed for r in recordings.values())},
        SHARD_TASKS_KEY: {} if failed else {  # a failed build keeps no shard and no sidecar
            t.rel_path: {"plan_hash": r.plan_hash, "sidecar_sha256": sha256_file(sidecar_path(out, t.rel_path))}
            for t, r in zip(tasks, results)},
    }
    if failed:
        summary["failed"] = failed
    Manifest(root=out, clips=clips, shards=shards, recordings=recs, splits=splits, summary=summary).write()
    write_card(Manifest.load(out))  # from the files as written: the card says what `egoimu info` reads
    return summary


def _sync_summary(mode: str, recordings: dict[str, RecordingResult]) -> dict[str, Any]:
    """The build's sync mode, how many recordings used each model, and for ``auto`` the estimates: measured,
    used, fallbacks by reason, median peak r and confidence (per recording in recordings.csv)."""
    out: dict[str, Any] = {"mode": mode, "recordings_by_mode": dict(sorted(Counter(
        r.sync_mode for r in recordings.values() if r.sync_mode).items()))}
    measured = [r for r in recordings.values() if not math.isnan(r.sync_confidence)]
    if mode == "auto":
        out.update(measured=len(measured), used=sum(1 for r in measured if not r.sync_fallback),
                   fallback_by_reason=dict(sorted(Counter(r.sync_fallback for r in measured if r.sync_fallback)
                                                  .items())),
                   median_peak_r=_median([r.sync_peak_r for r in measured]),
                   median_confidence=_median([r.sync_confidence for r in measured]))
    return out


def _median(values: list[float]) -> float | None:
    """The median (None for no values: manifest.json holds no NaN)."""
    return float(pd.Series(values).median()) if values else None


def _alignment(recordings: dict[str, RecordingResult]) -> dict[str, Any]:
    """Per-video and overall IMU alignment error vs a synthetic truth (empty for real data)."""
    per = {v: dict(zip(("median", "p95", "max"), r.align_ms)) for v, r in sorted(recordings.items())
           if r.ok and not math.isnan(r.align_ms[0])}
    if not per:
        return {}
    return {"videos": per, "median_of_medians": float(pd.Series([p["median"] for p in per.values()]).median()),
            "max": max(p["max"] for p in per.values())}


def _examples(rows: list[ClipRow], tasks: list[ShardTask], results: list[ShardResult]) -> dict[str, list[str]]:
    """Up to three detailed messages per rejection reason (clip id: detail), for humans."""
    out: dict[str, list[str]] = {}
    for r in rows:
        if not r.planned and len(out.setdefault(r.reason, [])) < 3:
            out[r.reason].append(f"{r.clip_id}: {r.detail}")
    for res in results:
        for clip_id, row, reason, detail in res.outcomes:
            if row < 0 and len(out.setdefault(reason, [])) < 3:
                out[reason].append(f"{clip_id}: {detail}")
    return out


def print_summary(summary: dict[str, Any], out: Path) -> None:
    """A short human-readable report of a finished build: counts, and each rejection reason with one example
    (all of :func:`_examples`' for a failed build)."""
    acc = summary["accounting"]
    print(f"{'built' if not summary.get('failed') else 'failed build, manifests only:'} {out}: {acc['written']} "
          f"clips written of {acc['input']} input rows ({acc['input'] - acc['written']} rejected)")
    for split, c in summary["counts"].items():
        print(f"  {split:<10} {c['clips']:>7} clips  {c['participants']:>3} participants")
    windows = summary.get("ssl_windows") or {}
    if windows.get("stride_s"):
        print(f"  of which unlabelled 2 s windows every {windows['stride_s']:g} s: {windows['written']}"
              + (f" (auto: {windows['train_segments']} labelled clips in {windows['train_video_s']:.0f} s of train "
                 f"video)" if windows["requested"] == "auto" else ""))
    for reason, n in acc["rejected_by_reason"].items():
        examples = summary["rejection_examples"].get(reason) or []
        if summary.get("failed"):
            print(f"  rejected {reason}: {n}" + "".join(f"\n      e.g. {e[:200]}" for e in examples))
        else:
            print(f"  rejected {reason}: {n}" + (f"   e.g. {examples[0][:140]}" if examples else ""))
