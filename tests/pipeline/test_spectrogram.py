"""egoimu.pipeline.spectrogram: shape, bin placement, edge behaviour, agreement with scipy, streaming stats."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy import signal

from egoimu.pipeline.spectrogram import RunningStats, SpecConfig, channel_stats, spectrogram

FS = 198.0
N = 396


def _t() -> np.ndarray:
    return np.arange(N) / FS


def test_shape_dtype_and_batch_axes():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, N, 6)).astype(np.float32)
    s = spectrogram(x)
    assert s.shape == (3, 4, 6, 33, 50) and s.dtype == np.float32
    g = SpecConfig().geometry
    assert (g.imu_len, g.spec_bins, g.spec_frames) == (N, 33, 50)
    np.testing.assert_allclose(s[1, 2], spectrogram(x[1, 2]), rtol=1e-6, atol=1e-6)  # no batch coupling
    n = 33  # VGG16's five 2x poolings (ceil mode or not) leave >= 1 bin
    for _ in range(5):
        n //= 2
    assert n >= 1 and 50 // 32 >= 1


@pytest.mark.parametrize("k", [3, 10, 20, 31])
def test_pure_tone_lands_in_its_bin(k):
    f = k * FS / 64  # bin k centre
    x = np.zeros((N, 6), np.float32)
    x[:, 2] = 0.8 * np.sin(2 * np.pi * f * _t())
    s = spectrogram(x, SpecConfig(log=False))
    assert s.shape == (6, 33, 50)
    assert np.all(np.argmax(s[2, :, 4:-4], axis=0) == k)  # frames clear of the padded edges
    assert np.all(np.abs(np.argmax(s[2], axis=0) - k) <= 1)  # edge frames: reflection bends the phase
    np.testing.assert_allclose(s[2, k, 4:-4], 0.4, rtol=1e-3)  # amplitude scaling: A/2
    assert np.all(s[[0, 1, 3, 4, 5]] == 0.0)


def test_constant_gravity_channel_no_spurious_energy_with_reflect_padding():
    x = np.zeros((N, 6), np.float32)
    x[:, 0] = 9.81  # gravity on AcclX
    cfg = SpecConfig(log=False)
    refl = spectrogram(x, cfg)[0]
    zero = spectrogram(x, SpecConfig(log=False, pad_mode="constant"))[0]
    np.testing.assert_allclose(refl[0], 9.81, rtol=1e-6)  # DC = the constant, in every frame
    assert refl[1:].max() < 1e-5  # non-DC bins at the floor: log gives log(eps)
    assert zero[1:, 0].max() > 1.0 and zero[1:, -1].max() > 1.0  # zero padding: steps at both edges
    assert zero[1:, 8:-8].max() < 1e-5  # ... only in the frames that reach into the padding
    logged = spectrogram(x)[0]
    np.testing.assert_allclose(logged[1:], np.log(1e-6), atol=0.1)


def test_detrend_keeps_gravity_out_of_bin_1():
    x = np.zeros((N, 6), np.float32)
    x[:, 0] = 9.81 + 0.2 * np.sin(2 * np.pi * 3 * FS / 64 * _t())
    with_d = spectrogram(x, SpecConfig(log=False))[0]
    without = spectrogram(x, SpecConfig(log=False, detrend="none"))[0]
    assert without[1].min() > 4.0  # Hann main lobe: |g|/2 in bin 1 (3.1 Hz) of every frame
    assert with_d[1].max() < 0.2 and with_d[3, 4:-4].min() > 0.09


@pytest.mark.parametrize("detrend", ["none", "constant"])
def test_matches_scipy_stft(detrend):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((2, N, 6)) + np.array([9.8, 0.3, -1.0, 0, 0, 0])).astype(np.float32)
    cfg = SpecConfig(log=False, detrend=detrend)
    mine = spectrogram(x, cfg)
    kw = dict(fs=FS, window="hann", nperseg=64, noverlap=64 - 8, boundary="even", padded=False, axis=-2)
    _, _, z = signal.stft(x.astype(np.float64), detrend=False if detrend == "none" else "constant", **kw)
    ref = np.abs(z)  # (2, 33, 6, 50): scipy puts frequency where time was
    ref = np.moveaxis(ref, -2, -3)
    if detrend == "constant":  # DC bin: the window-weighted mean, as the plain STFT's DC bin
        _, _, z0 = signal.stft(x.astype(np.float64), detrend=False, **kw)
        ref[:, :, 0] = np.abs(np.moveaxis(z0, -2, -3)[:, :, 0])
    np.testing.assert_allclose(mine, ref, rtol=1e-4, atol=1e-5)


def test_reject_too_short_and_bad_detrend():
    with pytest.raises(ValueError):
        spectrogram(np.zeros((20, 6)))
    with pytest.raises(ValueError):
        spectrogram(np.zeros((N, 6)), SpecConfig(detrend="linear"))  # type: ignore[arg-type]


def test_running_stats_merge_equals_one_shot():
    rng = np.random.default_rng(2)
    specs = spectrogram(rng.standard_normal((40, N, 6)).astype(np.float32) * np.arange(1, 7))
    mean, std = channel_stats(specs)
    assert mean.shape == std.shape == (6,)
    flat = np.moveaxis(specs.astype(np.float64), 1, 0).reshape(6, -1)
    np.testing.assert_allclose(mean, flat.mean(1), rtol=1e-12)
    np.testing.assert_allclose(std, flat.std(1), rtol=1e-10)
    # batches of uneven size, merged in a tree as Dask tasks would, and via JSON/pickle
    parts = [RunningStats().update(specs[a:b]) for a, b in [(0, 3), (3, 17), (17, 18), (18, 40)]]
    parts[2] = pickle.loads(pickle.dumps(parts[2]))
    parts[1] = RunningStats.from_dict(parts[1].to_dict())
    tree = parts[0].merge(parts[1]).merge(parts[2].merge(parts[3])).merge(RunningStats())
    m2, s2 = tree.finalize()
    np.testing.assert_allclose(m2, mean, rtol=1e-12)
    np.testing.assert_allclose(s2, std, rtol=1e-10)
    assert tree.count == 40 * 33 * 50 and parts[0].count == 3 * 33 * 50  # merge left inputs alone
    seq = RunningStats()
    for a in range(0, 40, 7):
        seq.update(specs[a:a + 7])
    np.testing.assert_allclose(seq.finalize()[1], std, rtol=1e-10)
    with pytest.raises(ValueError):
        RunningStats().finalize()
