"""IMU alignment error against a synthetic ground truth (``ROOT/synth_truth/<video_id>.npz``).

``egoimu synth epic`` writes the true video time of every IMU row. When a dataset root carries those
files, the build measures how far the re-timed, synced sample times (the sync model
``t_video = offset + scale · t_imu``) land from the truth, in milliseconds, and reports it in
``manifest.json`` (``imu_alignment_vs_truth_ms``). Real datasets have no truth: nothing is measured.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from egoimu.pipeline.imu import ImuConfig, SyncParams
from egoimu.pipeline.imu_timing import sample_times


def truth_alignment_ms(root: Path, video_id: str, kind: str, ms: np.ndarray, sync: SyncParams,
                       cfg: ImuConfig) -> np.ndarray | None:
    """|t_estimated − t_true| in ms for every row of one IMU file (n,) float64, or None.

    Args:
        video_id: the name of the generator's truth file ``ROOT/synth_truth/<video_id>.npz`` (the video file's
            stem: EPIC's video_id, Ego4D's video_uid).
        ms: the file's cleaned ``Milliseconds`` column (n,) (Ego4D: ``canonical_timestamp_ms``).
    Returns None when there is no truth for the video or the file's rows differ from the truth's (a
    planted fault removed or reordered rows).
    """
    path = root / "synth_truth" / f"{video_id}.npz"
    if not path.is_file():
        return None
    with np.load(path) as z:
        if f"{kind}_t_true_s" in z.files:
            t_true, ms_true = z[f"{kind}_t_true_s"], z[f"{kind}_ms"]
        elif "imu_t_true_s" in z.files:  # egoimu synth ego4d: one file for both sensors, canonical ms = true time
            t_true = z["imu_t_true_s"]
            ms_true = t_true * 1000.0
        else:
            return None
    if t_true.shape != ms.shape or not np.array_equal(ms_true, ms):
        return None
    t, _, _ = sample_times(ms, cfg)
    err = np.abs(sync.to_video(t) - t_true) * 1000.0
    return err[np.isfinite(err)]


def summarise_ms(errors: np.ndarray) -> dict[str, float]:
    """median / p95 / max of absolute errors (ms)."""
    return {"median": float(np.median(errors)), "p95": float(np.percentile(errors, 95)),
            "max": float(np.max(errors)), "n": int(errors.size)}
