"""The shard stage (egoimu.pipeline.shard_writer.build_shard) without Dask, on one recording of the small clean
synthetic set whose gyroscope file holds a gap and, after it, a value beyond float32's range."""

from __future__ import annotations

from dataclasses import fields
from fractions import Fraction

import h5py
import numpy as np

from egoimu.manifests.outputs import SIDECAR_KEYS, sidecar_rel_path
from egoimu.pipeline.config import BuildConfig, ShardConfig
from egoimu.pipeline.imu_csv import NON_FINITE_IMU
from egoimu.pipeline.plan import ClipRow, shard_tasks
from egoimu.pipeline.recordings import probe_recording
from egoimu.pipeline.shard_writer import IMU_WINDOW, ShardResult, build_shard

CFG = BuildConfig(shard=ShardConfig(clips_per_shard=8))
GAP_MS = (4000.0, 4300.0)  # gyro rows removed: two segments, filtered apart
BAD_MS = 7000.0  # the first row at or after this time gets GyroZ = 1e308 (second segment)


def test_clips_not_finite_after_the_cast_are_rejected_the_rest_written(recording, tmp_path) -> None:
    """The 1e308 turns the second segment's GyroZ to NaN after the low-pass; the first segment stays usable, so the
    probe keeps the recording and the shard stage rejects just the clips that would store a non-finite value, as
    non_finite_imu naming channel, samples and video time: written + rejected = input, no exception."""
    task, _, root = recording
    gyro = root / task.gyro
    lines = gyro.read_text().splitlines()
    rows = [ln for ln in lines[1:] if not GAP_MS[0] <= float(ln.split(",", 1)[0]) < GAP_MS[1]]
    bad = next(i for i, ln in enumerate(rows) if float(ln.split(",", 1)[0]) >= BAD_MS)
    rows[bad] = ",".join([*rows[bad].split(",")[:3], "1e308"])
    gyro.write_text("\n".join([lines[0], *rows]) + "\n")
    rec = probe_recording(task, str(root), CFG.video, CFG.imu)
    assert rec.ok, rec.detail
    starts = {"before": Fraction(1), "over_gap": Fraction(3), "poisoned": Fraction(13, 2)}
    clips = [ClipRow(f"c_{name}", f"c_{name}", task.participant_id, task.video_id, "segment", float(s), float(s) + 2,
                     s, "take", 0, 0, split="train") for name, s in starts.items()]
    (shard,) = shard_tasks(clips, {task.video_id: rec}, CFG)
    out = tmp_path / "out"
    result = build_shard(shard, str(root), str(out), CFG, "test")
    outcome = {clip_id: (row, reason, detail) for clip_id, row, reason, detail in result.outcomes}
    assert outcome["c_before"] == (0, "", "")
    assert outcome["c_over_gap"][:2] == (-1, IMU_WINDOW) and "IMU gap" in outcome["c_over_gap"][2]
    assert outcome["c_poisoned"] == (-1, NON_FINITE_IMU, (
        "IMU window not finite after the cast to float32: 396 of 2376 values, channels GyroZ, samples 0..395 "
        "(video 6.500-8.495 s); a source value beyond float32's range (such as 1e308) spreads over its segment "
        "through the low-pass filter"))
    assert result.n_clips == 1 and len(result.outcomes) == len(clips)
    with h5py.File(out / shard.rel_path, "r") as h5:
        assert h5["imu"].shape[0] == 1 and np.isfinite(h5["imu"][()]).all() and np.isfinite(h5["spec"][()]).all()
    assert ShardResult.from_json((out / sidecar_rel_path(shard.rel_path)).read_text()) == result
    assert sorted(p.name for p in (out / shard.rel_path).parent.iterdir()) == ["train-00000.h5",
                                                                               "train-00000.h5.json"]


def test_the_sidecar_is_what_the_audit_expects():
    """The audit (manifests layer, no pipeline import) knows a sidecar by egoimu.manifests.outputs.SIDECAR_KEYS."""
    assert sorted(f.name for f in fields(ShardResult)) == sorted(SIDECAR_KEYS)
