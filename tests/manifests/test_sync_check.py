"""The sync check's arithmetic (egoimu.manifests.sync_check) on made-up signals with a known lag and pairing;
the check on real builds is tests/egoimu/test_audit_sync.py."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from egoimu.manifests.sync_check import (
    ClipMotion,
    SyncCheckError,
    check_sync,
    interval_rates,
    source_frame_times,
    video_sync,
)

RATE, FPS = 198.0, 24.0


def test_interval_rates_is_the_mean_rate_over_each_interval() -> None:
    t = np.arange(397) / RATE
    gyro = np.stack([np.full_like(t, 2.0), 3.0 * t, np.sin(t)], axis=1)
    t0 = np.array([0.1, 0.5, 1.2])
    got = interval_rates(gyro, t, t0, t0 + 1 / FPS)
    np.testing.assert_allclose(got[:, 0], 2.0)
    # a linear rate's mean sits mid-interval (to the angle's linear interpolation between samples)
    np.testing.assert_allclose(got[:, 1], 3.0 * (t0 + 0.5 / FPS), rtol=1e-3)
    np.testing.assert_allclose(got[:, 2], (np.cos(t0) - np.cos(t0 + 1 / FPS)) * FPS, rtol=1e-3)
    outside = interval_rates(gyro, t, np.array([-0.01, 1.99]), np.array([0.03, 2.01]))
    assert np.isnan(outside).all()


def _clips(lag_s: float, n: int = 6, seed: int = 0, source_fps: Fraction | None = None,
           give_times: bool = True) -> list[ClipMotion]:
    """Clips whose image motion follows the true rate (dx ~ -GyroZ, dy ~ +GyroX) and whose gyroscope rows are
    written ``lag_s`` early: row at clip time t holds the rate of time t + lag_s. With ``source_fps`` the images are
    taken at the source frames' instants (the frame rule), given to the check when ``give_times``."""
    rng = np.random.default_rng(seed)
    fine = 1000.0
    t = np.arange(int(3 * n * fine * 2)) / fine
    freqs = rng.uniform(0.3, 4.0, (3, 6))
    phases = rng.uniform(0, 2 * np.pi, (3, 6))
    omega = np.stack([np.sin(2 * np.pi * freqs[c][:, None] * t + phases[c][:, None]).sum(0) for c in range(3)], 1)
    angle = np.concatenate([np.zeros((1, 3)), np.cumsum(0.5 * (omega[1:] + omega[:-1]) / fine, axis=0)])
    clips = []
    for k in range(n):
        start = 1.5 + 4.0 * k
        rel = np.arange(48) / FPS if source_fps is None else source_frame_times(start, 48, int(FPS), source_fps)
        a = np.stack([np.interp(start + rel, t, angle[:, c]) for c in range(3)], 1)
        turned = np.diff(a, axis=0) * FPS  # the angle turned between the two images, per output frame period
        motion = np.stack([-300 * turned[:, 2], 300 * turned[:, 0]], 1) + rng.normal(0, 0.5, (47, 2))
        ti = start + lag_s + np.arange(396) / RATE
        gyro = np.stack([np.interp(ti, t, omega[:, c]) for c in range(3)], 1)
        clips.append(ClipMotion("V", motion, gyro, FPS, RATE, rel if source_fps is not None and give_times else None))
    return clips


@pytest.mark.parametrize("lag_s", [0.0, 0.137, -0.4])
def test_known_lag_and_pairing_found(lag_s: float) -> None:
    res = video_sync("V", _clips(lag_s))
    assert abs(res.lag_s - lag_s) < 0.003, res
    assert res.lag_frames == pytest.approx(res.lag_s * FPS, abs=0.01)
    assert res.pairing == {"dx": "-GyroZ", "dy": "+GyroX"}
    assert res.r > 0.95 and res.clips == 6


def test_source_frame_times_follow_the_frame_rule() -> None:
    got = source_frame_times(1.5, 6, 24, Fraction(30000, 1001))
    # frame k shows source frame floor((1.5 + k/24) * 29.97): 44, 46, 47, 48, 49, 51
    want = np.array([44, 46, 47, 48, 49, 51]) * 1001 / 30000 - 1.5
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert (got <= np.arange(6) / 24 + 1e-12).all()  # never later than the output instant


def test_source_instants_remove_the_frame_rule_bias() -> None:
    """Images taken at 29.97 fps source instants, shown on a 24 fps grid: the check finds the truth (lag 0) with
    the source instants; with the output instants it is off by about half a source frame."""
    src = Fraction(30000, 1001)
    with_times = video_sync("V", _clips(0.0, source_fps=src))
    without = video_sync("V", _clips(0.0, source_fps=src, give_times=False))
    assert with_times.timing == "source" and without.timing == "output"
    assert abs(with_times.lag_s) < 0.003, with_times
    assert abs(without.lag_s) > 0.008, without


def test_no_shards_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(SyncCheckError, match="no shards"):
        check_sync(tmp_path)
