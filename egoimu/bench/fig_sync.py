"""Sync figure: ``--sync auto`` against the generator's truth over planted IMU offsets (``sync_sweep``).

Synthetic recordings (``egoimu synth epic`` at a small frame size, the generator's own random ±1 % clock error,
payload jitter and pre-roll per video) with IMU offsets planted from −500 to +500 ms (``--imu-offset-ms``), a
few videos (seeds) per offset. Every IMU video is probed exactly as ``egoimu build --sync auto`` probes it
(:func:`egoimu.pipeline.recordings.probe_recording`: the same windows, the estimator, the fallback to offset 0,
scale 1 where the assumed model rejects the recording) and, for comparison, as ``--sync assumed`` does. The
error of a video is the probe's own comparison with the truth (``align_ms``: every accelerometer and gyroscope
row's |synced time − true time|): its median row error and its worst row. Figures: the median over the videos
of their median row error (goal ≤ 10 ms) and the largest worst row of any video (goal ≤ 40 ms); a recording
that ``auto`` leaves rejected counts as an infinite error.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from egoimu.bench.common import Sizes, synth


def _probe(root: Path, video_id: str, mode: str):
    """The build's probe of one synthetic recording with ``--sync mode``."""
    from egoimu.pipeline.imu import ImuConfig
    from egoimu.pipeline.recordings import RecordingTask, probe_recording
    from egoimu.pipeline.sources.epic import find_recording
    from egoimu.pipeline.video import VideoConfig

    f = find_recording(root, video_id)
    task = RecordingTask(video_id, f.participant_id, f.video, f.accl, f.gyro)
    return probe_recording(task, str(root), VideoConfig(), ImuConfig(), sync_mode=mode)


def _errors(rec) -> tuple[float, float]:
    """(median, worst) row error of a probe result in ms; infinite for a rejected recording."""
    return (rec.align_ms[0], rec.align_ms[2]) if rec.ok else (math.inf, math.inf)


def sweep_video(root: Path, video_id: str, planted_ms: float) -> dict:
    """One recording of the sweep: ``auto``'s estimate and errors beside the assumed model's."""
    truth = np.load(root / "synth_truth" / f"{video_id}.npz")
    auto, assumed = _probe(root, video_id, "auto"), _probe(root, video_id, "assumed")
    median, worst = _errors(auto)
    a_median, a_worst = _errors(assumed)
    return {"video_id": video_id, "planted_ms": planted_ms, "clock_scale": round(float(truth["clock_scale"]), 6),
            "preroll_ms": round(1000 * float(truth["preroll_s"]), 1), "used": auto.ok and not auto.sync_fallback,
            "fallback": auto.sync_fallback or (auto.reason if not auto.ok else ""),
            "estimate_ms": auto.sync_offset_ms, "offset_error_ms": round(abs(auto.sync_offset_ms - planted_ms), 1),
            "peak_r": auto.sync_peak_r, "confidence": auto.sync_confidence,
            "median_ms": round(median, 2), "worst_ms": round(worst, 2),
            "assumed": {"median_ms": round(a_median, 2), "worst_ms": round(a_worst, 2),
                        "rejected": "" if assumed.ok else assumed.reason}}


def bench_sync_sweep(cache: Path, size: Sizes) -> dict:
    """``sync_sweep_median_ms`` (≤ 10) and ``sync_sweep_max_ms`` (≤ 40): ``--sync auto``'s row error against the
    generator's truth over planted offsets ``size.sync_offsets_ms``, ``size.sync_videos`` videos each."""
    videos = []
    for i, planted in enumerate(size.sync_offsets_ms):
        root = synth(cache, f"{size.name}-sync-{planted:+d}ms", participants=size.sync_videos, videos_per_participant=1,
                     seconds=size.sync_seconds, width=size.sync_width, height=size.sync_height, seed=500 + i,
                     imu_offset_ms=float(planted), audio=False)
        ids = sorted(p.stem for p in root.glob("P*/videos/P*_1*.MP4"))
        videos += [sweep_video(root, vid, float(planted)) for vid in ids]
    medians = np.array([v["median_ms"] for v in videos])
    worst = np.array([v["worst_ms"] for v in videos])
    by_offset = {}
    for planted in size.sync_offsets_ms:
        rows = [v for v in videos if v["planted_ms"] == planted]
        by_offset[f"{planted:+d}"] = {"median_ms": [v["median_ms"] for v in rows],
                                      "worst_ms": [v["worst_ms"] for v in rows],
                                      "estimate_ms": [v["estimate_ms"] for v in rows]}
    return {"sync_sweep_median_ms": float(np.median(medians)), "sync_sweep_max_ms": float(worst.max()),
            "sync_sweep": {"videos": len(videos), "seconds": size.sync_seconds,
                           "frame_size": f"{size.sync_width}x{size.sync_height}",
                           "offsets_ms": list(size.sync_offsets_ms), "used": sum(v["used"] for v in videos),
                           "worst_video_median_ms": float(medians.max()),
                           "assumed_rejected": sum(bool(v["assumed"]["rejected"]) for v in videos),
                           "by_offset": by_offset, "per_video": videos}}
