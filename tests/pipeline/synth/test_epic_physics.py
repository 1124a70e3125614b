"""Head motion is physically tied to the pixels and to the IMU.

The frame-to-frame image shift measured on the DECODED video with sub-pixel phase correlation must
follow the gyroscope read from the written CSV (mapped to video time with the truth file's clock
scale and offset, averaged over each frame interval): yaw (GyroX) <-> horizontal, pitch (GyroY) <->
vertical. Only the upper 60 % of each frame is used: the action overlays live below it.
"""

from __future__ import annotations

import decord
import numpy as np
import pandas as pd
from scipy.spatial.transform import Rotation

from egoimu.manifests.motion import image_shifts
from egoimu.pipeline.synth.motion import R0, RATE_HZ, Action, G, MotionStyle, build_trajectory


def test_image_motion_follows_gyroscope(epic_clean):
    out, _ = epic_clean
    for vid in ("P01_101", "P02_101"):
        p = vid[:3]
        vr = decord.VideoReader(str(out / p / "videos" / f"{vid}.MP4"))
        frames = vr.get_batch(list(range(len(vr)))).asnumpy().astype(np.float32).mean(axis=-1)
        frames = frames[:, : int(0.6 * frames.shape[1])]
        shifts = image_shifts(frames)
        z = np.load(out / "synth_truth" / f"{vid}.npz")
        gyro = pd.read_csv(out / p / "meta_data" / f"{vid}-gyro.csv")
        t = float(z["offset_s"]) + float(z["clock_scale"]) * gyro.Milliseconds.to_numpy() / 1000
        ft = z["frame_t_s"]
        # skip payload 0 (its pre-roll breaks the sync model) and the very end
        keep = np.flatnonzero((ft[:-1] > 1.2) & (ft[1:] < ft[-1] - 0.5))
        idx = np.searchsorted(t, ft)
        mean_g = np.array([gyro.iloc[idx[k]:idx[k + 1], 1:3].to_numpy().mean(axis=0) for k in keep])
        r_yaw = np.corrcoef(shifts[keep, 0], mean_g[:, 0])[0, 1]
        r_pitch = np.corrcoef(shifts[keep, 1], mean_g[:, 1])[0, 1]
        # GyroX > 0 (yaw left): content moves right (+u); GyroY > 0 (pitch up): content moves down (+v)
        assert r_yaw >= 0.8, (vid, r_yaw)
        assert r_pitch >= 0.8, (vid, r_pitch)


def test_imu_physics_on_truth(epic_clean):
    """Noise-free truth: accel = R^T(a - g) (gravity on +X when level), gyro = body rates."""
    out, _ = epic_clean
    z = np.load(out / "synth_truth" / "P01_101.npz")
    ypr = z["yaw_pitch_roll"]
    rot = R0 * Rotation.from_euler("XYZ", ypr)
    up_body = rot.inv().apply([0.0, 0.0, 1.0])
    accl_at_frames = np.stack([np.interp(z["frame_t_s"], z["accl_t_true_s"], z["accl_true"][:, k])
                               for k in range(3)], 1)
    # specific force minus gravity's share is the (small) linear acceleration of the head
    resid = accl_at_frames - G * up_body
    assert np.median(np.linalg.norm(resid, axis=1)) < 1.5
    assert np.all(accl_at_frames[:, 0] > 0)
    # body rates: integrating the gyro truth reproduces the orientation change between frames
    dt = np.diff(z["frame_t_s"])
    rel = (rot[:-1].inv() * rot[1:]).as_rotvec() / dt[:, None]
    mid = 0.5 * (z["omega_frames"][:-1] + z["omega_frames"][1:])
    assert np.corrcoef(rel[:, 0], mid[:, 0])[0, 1] > 0.99
    assert np.abs(rel - mid).mean() < 0.05


def test_level_camera_at_rest_reads_gravity_on_x():
    style = MotionStyle(amplitude=1.0, tempo=1.0, sway_rad=1e-9, base_pitch_rad=0.0, base_roll_rad=0.0,
                        gait_hz=1.8, gaze_rate_hz=0.0)
    traj = build_trajectory([], 2.0, style, np.random.default_rng(0))
    mid = traj.specific_force[RATE_HZ: 2 * RATE_HZ]
    assert np.allclose(mid.mean(0), [G, 0, 0], atol=1e-3)
    assert np.abs(traj.omega).max() < 1e-3


def test_yaw_left_is_positive_gyro_x():
    style = MotionStyle(amplitude=1.0, tempo=1.0, sway_rad=1e-9, base_pitch_rad=-0.3, base_roll_rad=0.0,
                        gait_hz=1.8, gaze_rate_hz=0.0)
    traj = build_trajectory([Action(1.0, 3.0, "open")], 4.0, style, np.random.default_rng(3))
    yaw_rate = np.gradient(traj.ypr[:, 0], 1 / RATE_HZ)
    busy = np.abs(yaw_rate) > 0.05
    assert busy.sum() > 100
    assert np.corrcoef(yaw_rate[busy], traj.omega[busy, 0])[0, 1] > 0.95
