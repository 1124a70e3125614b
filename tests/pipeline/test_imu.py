"""egoimu.pipeline.imu (and its steps imu_csv, imu_timing, imu_windows) on synthetic GoPro-like streams with
known true sample times.

The generator follows the real files' quirks (shared/data/README.md): a constant-rate sensor whose
samples are cut into ~1 s payloads with jittered boundaries (195-205 samples at 200 Hz), every payload
given exactly 1000 ms with its samples spread evenly, a partial last payload, a +-1 % telemetry clock,
and, per test, gaps, an overlong first payload, NaN/duplicate/out-of-order rows, a 400 Hz gyroscope.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass

import numpy as np
import pytest

from egoimu.pipeline.imu import CHANNELS, DEFAULT_IMU, ImuConfig, ImuCoverageError, ImuError, SyncParams
from egoimu.pipeline.imu_csv import beyond_stored_range, clean_imu, read_imu_csv
from egoimu.pipeline.imu_timing import (
    estimate_sync,
    load_sync_table,
    prepare_stream,
    retime,
    sync_for_video,
    timed_stream,
)
from egoimu.pipeline.imu_windows import resample_window, resample_windows

G = 9.81


@dataclass
class Synth:
    ms: np.ndarray  # (n,) Milliseconds column as the extraction tool writes it
    values: np.ndarray  # (n, 3)
    t_true: np.ndarray  # (n,) true video time of every sample, s
    counts: np.ndarray  # samples per payload


def synth(duration_s: float = 60.4, rate_hz: float = 200.0, clock_err: float = 0.01,
          offset_s: float = 0.0, jitter_ms: float = 12.5, seed: int = 0, first_extra: int = 0,
          fn=None, noise: float = 0.0) -> Synth:
    """Sensor at ``rate_hz`` telemetry-clock Hz; the telemetry clock runs ``1 + clock_err`` times
    the video clock; payload k covers telemetry [k + u_k, k + 1 + u_{k+1}), u ~ U(+-jitter);
    samples cover video [offset_s, duration_s). ``first_extra`` samples recorded before telemetry 0
    are put into the first payload (as in the real file whose first payload holds 228 samples)."""
    rng = np.random.default_rng(seed)
    r_v = rate_hz * (1 + clock_err)  # samples per video second
    n = int(np.ceil((duration_s - offset_s) * r_v))
    idx = np.arange(-first_extra, n)
    t_true = offset_s + idx / r_v
    K = int(np.ceil(n / rate_hz)) + 2
    u = rng.uniform(-jitter_ms, jitter_ms, K) / 1000.0
    bounds = np.ceil(rate_hz * (np.arange(K) + u)).astype(np.int64)
    bounds[0] = 0
    bounds = np.r_[bounds[bounds < n], n] + first_extra
    bounds[0] = 0
    counts = np.diff(bounds)
    ms = np.concatenate([1000.0 * k + np.arange(c) * 1000.0 / c for k, c in enumerate(counts)])
    fn = fn or (lambda t: np.stack([G + 0.5 * np.sin(2 * np.pi * 1.0 * t), np.cos(2 * np.pi * 0.7 * t),
                                    0.3 * np.sin(2 * np.pi * 2.0 * t + 1.0)], axis=1))
    values = fn(t_true) + noise * rng.standard_normal((idx.size, 3))
    return Synth(ms, values, t_true, counts)


def align_err_ms(s: Synth, cfg: ImuConfig = DEFAULT_IMU, duration_s: float = 60.4,
                 sync: SyncParams | None = None) -> np.ndarray:
    t, _ = retime(s.ms, cfg)
    ok = np.isfinite(t)
    sp = sync or estimate_sync(timed_stream("accl", t, s.values, cfg), duration_s, cfg)
    return np.abs(sp.to_video(t[ok]) - s.t_true[ok]) * 1000.0


def stream_of(s: Synth, kind: str = "accl"):
    return clean_imu(kind, s.ms, s.values)


# ------------------------------------------------------------------------------------- re-timing
@pytest.mark.parametrize("rate_hz,clock_err,seed", [(200.0, 0.01, 1), (200.0, -0.01, 2), (199.2, 0.004, 3),
                                                    (400.0, -0.007, 4)])
def test_retime_and_sync_alignment(rate_hz, clock_err, seed):
    duration = 60.45 / (1 + clock_err)  # the telemetry ends 0.45 s into its last payload
    s = synth(duration_s=duration, rate_hz=rate_hz, clock_err=clock_err, seed=seed, noise=0.05)
    if rate_hz < 300:
        assert s.counts[1:-1].min() >= 193 and s.counts[1:-1].max() <= 207  # payload jitter as real
    assert s.counts[-1] < 0.6 * np.median(s.counts)  # partial last payload
    t, rate = retime(s.ms)
    assert np.isfinite(t).all()
    assert rate == pytest.approx(rate_hz, rel=2e-4)
    naive = np.abs(s.ms / 1000.0 - s.t_true) * 1000  # what the Milliseconds column alone gives
    err = align_err_ms(s, duration_s=duration)
    print(f"\nrate {rate_hz} clock {clock_err:+.3f}: median {np.median(err):.3f} ms, max {err.max():.3f} ms "
          f"(Milliseconds column as is: max {naive.max():.1f} ms)")
    assert np.median(err) < 2.0 and err.max() < 5.0
    assert naive.max() > 50  # the test is not vacuous


def test_retime_gap_removed_rows_keeps_indices_and_alignment():
    s = synth(clock_err=-0.006, seed=5)
    keep = ~((s.t_true >= 20.3) & (s.t_true < 23.7))  # a removed stretch over 4 payloads
    keep &= ~((s.t_true >= 40.0) & (s.t_true < 40.05))  # a 50 ms hole inside one payload
    g = Synth(s.ms[keep], s.values[keep], s.t_true[keep], s.counts)
    err = align_err_ms(g)
    print(f"\ngap: median {np.median(err):.3f} ms, max {err.max():.3f} ms")
    assert np.median(err) < 2.0 and err.max() < 5.0
    ts = prepare_stream(stream_of(g))
    assert ts.gaps.shape == (1, 2)  # the 50 ms hole is below max_gap_s, interpolated over
    assert ts.gaps[0, 1] - ts.gaps[0, 0] == pytest.approx(3.4 * 0.994, abs=0.02)


def test_retime_short_payload_is_untimed_and_rejected():
    s = synth(clock_err=0.008, seed=6)
    k = 30  # the tool spreads a payload that lost samples over 1000 ms: unrecoverable positions
    a, b = np.flatnonzero(np.floor(s.ms / 1000) == k)[[0, -1]]
    lost = np.r_[a + 60:a + 120]
    keep = np.ones(s.ms.size, bool)
    keep[lost] = False
    ms = s.ms.copy()
    n_left = (b - a + 1) - lost.size
    ms[a:b + 1][keep[a:b + 1]] = 1000.0 * k + np.arange(n_left) * 1000.0 / n_left
    g = Synth(ms[keep], s.values[keep], s.t_true[keep], s.counts)
    t, _ = retime(g.ms)
    assert np.isnan(t).sum() == n_left and np.isnan(t[np.floor(g.ms / 1000) == k]).all()
    err = align_err_ms(g)
    assert np.median(err) < 2.0 and err.max() < 5.0
    ts = prepare_stream(stream_of(g))
    sp = estimate_sync(ts, 60.4)
    x, why = resample_windows({"accl": ts, "gyro": ts}, sp, [27.0, 29.0, 30.5, 31.0])
    assert [bool(w) for w in why] == [False, True, True, False]
    assert "gap" in why[1] and np.isnan(x[1]).all() and np.isfinite(x[[0, 3]]).all()


@pytest.mark.parametrize("method,bound_ms", [("robust", 5.0), ("lstsq", 12.0)])
def test_retime_overlong_first_payload(method, bound_ms):
    s = synth(first_extra=28, clock_err=0.005, seed=7)  # first payload ~228 samples, as in the README
    assert 225 <= s.counts[0] <= 235 and s.ms[1] == pytest.approx(1000.0 / s.counts[0])
    err = align_err_ms(s, ImuConfig(retime=method))
    print(f"\nfirst payload {s.counts[0]} ({method}): median {np.median(err):.3f} ms, max {err.max():.3f} ms")
    assert err.max() < bound_ms


def test_offset_and_sync_table(tmp_path):
    s = synth(offset_s=0.35, clock_err=0.009, duration_s=120.0, seed=8)
    table = tmp_path / "sync.csv"
    table.write_text(f"video_id,offset_s,scale\nP01_101,0.35,{1 / 1.009!r}\nP01_102,0,1.0\n")
    tab = load_sync_table(table)
    err = align_err_ms(s, duration_s=120.0, sync=tab["P01_101"])
    print(f"\noffset 0.35 s via table: median {np.median(err):.3f} ms, max {err.max():.3f} ms")
    assert np.median(err) < 2.0 and err.max() < 5.0
    streams = {"accl": prepare_stream(stream_of(s)), "gyro": prepare_stream(stream_of(s, "gyro"))}
    assert sync_for_video("P01_101", streams, 120.0, tab) == {"accl": tab["P01_101"], "gyro": tab["P01_101"]}
    est = sync_for_video("P01_109", streams, 120.0, tab)  # not in the table: estimated per stream
    # the IMU starts 0.35 s into the video: spanning it is the wrong model, the table is needed
    assert est["accl"].offset_s == 0.0 and est["accl"].scale == pytest.approx(120.0 / (119.65 * 1.009), rel=1e-3)


@pytest.mark.parametrize("text,line", [("video_id,offset,scale\nA,0,1\n", 1), ("video_id,offset_s,scale\nA,x,1\n", 2),
                                       ("video_id,offset_s,scale\nA,0,1\nB,0,-1\n", 3),
                                       ("video_id,offset_s,scale\nA,0,1\nA,0,1\n", 3)])
def test_sync_table_errors(tmp_path, text, line):
    p = tmp_path / "sync.csv"
    p.write_text(text)
    with pytest.raises(ImuError) as ei:
        load_sync_table(p)
    assert ei.value.line == line and str(p) in str(ei.value)


def test_estimate_sync_rejects_truncated_imu():
    s = synth(duration_s=30.0, seed=9)
    with pytest.raises(ImuCoverageError, match="clock error"):
        estimate_sync(stream_of(s), 40.0)


# ------------------------------------------------------------------------------------ resampling
def _streams(duration_s=30.0, fa=None, fg=None, seed=10):
    a = synth(duration_s=duration_s, clock_err=0.007, seed=seed, fn=fa)
    g = synth(duration_s=duration_s, rate_hz=400.0, clock_err=0.007, seed=seed + 1, fn=fg)
    streams = {"accl": prepare_stream(stream_of(a)), "gyro": prepare_stream(stream_of(g, "gyro"))}
    return streams, sync_for_video("X", streams, duration_s)


def _sines(t):
    return np.stack([G + np.sin(2 * np.pi * 1.0 * t), 0.5 * np.cos(2 * np.pi * 2.5 * t),
                     np.sin(2 * np.pi * 0.5 * t + 0.3)], axis=1)


@pytest.mark.parametrize("interp", ["linear", "cubic"])
def test_resample_recovers_sinusoid_on_198hz_grid(interp):
    cfg = ImuConfig(interp=interp)
    streams, sync = _streams(fa=_sines, fg=lambda t: -_sines(t) + G)
    starts = np.array([0.0, 3.3, 11.17, 27.99])
    x, why = resample_windows(streams, sync, starts, cfg)
    assert x.shape == (4, 396, 6) and x.dtype == np.float32 and not any(why)
    t = starts[:, None] + np.arange(396)[None, :] / 198.0
    want = np.concatenate([_sines(t.ravel()), -_sines(t.ravel()) + G], axis=1).reshape(4, 396, 6)
    err = np.abs(x - want)
    assert err.max() < 0.03, err.max()  # 2.5 Hz x 0.5 amplitude: 1 ms misalignment = 0.008
    one = resample_window(streams, sync, 11.17, cfg)
    np.testing.assert_array_equal(one, x[2])
    assert len(CHANNELS) == 6 and CHANNELS[0] == "AcclX" and CHANNELS[3] == "GyroX"


def _amp_at(x: np.ndarray, f_hz: float, fs: float = 198.0) -> float:
    t = np.arange(x.size) / fs
    return 2 * abs(np.mean(x * np.exp(-2j * np.pi * f_hz * t)))  # exact on an integer number of cycles


@pytest.mark.parametrize("lowpass_hz", [80.0, None])
def test_lowpass_removes_tone_above_new_nyquist_from_400hz_gyro(lowpass_hz):
    t = np.arange(0, 20.0, 1 / 400.0)  # true times: this isolates the filter from the re-timing
    v = np.stack([np.sin(2 * np.pi * 5 * t) + 0.5 * np.sin(2 * np.pi * 150 * t), 0 * t, 0 * t], axis=1)
    cfg = ImuConfig(lowpass_hz=lowpass_hz)
    gyro = timed_stream("gyro", t, v, cfg)
    accl = timed_stream("accl", t[::2], v[::2], cfg)
    x, why = resample_windows({"accl": accl, "gyro": gyro}, SyncParams(), [5.0], cfg)
    alias = _amp_at(x[0, :, 3], 198 - 150)  # 150 Hz folds to 48 Hz on the 198 Hz grid
    print(f"\nlowpass {lowpass_hz}: 48 Hz alias amplitude {alias:.5f}, 5 Hz {_amp_at(x[0, :, 3], 5):.4f}")
    if lowpass_hz is None:
        assert alias > 0.1  # linear interpolation alone lets it through
    else:
        assert alias < 0.005
        assert _amp_at(x[0, :, 3], 5.0) == pytest.approx(1.0, abs=0.01)


def test_windows_outside_coverage_are_rejected_with_reasons():
    streams, sync = _streams(duration_s=20.0)
    x, why = resample_windows(streams, sync, [-0.5, -0.01, 0.0, 18.0, 18.5])  # edge_tol_s = 0.02
    assert bool(why[0]) and not why[1] and not why[2] and not why[3] and bool(why[4])
    assert "outside IMU coverage" in why[0] and "accl" in why[4] and "gyro" in why[4]
    assert np.isnan(x[[0, 4]]).all() and np.isfinite(x[1:4]).all()
    with pytest.raises(ImuCoverageError, match="outside"):
        resample_window(streams, sync, 19.0)


def test_resample_windows_many_equals_single_and_accepts_raw_streams():
    a, g = synth(duration_s=12.0, seed=11), synth(duration_s=12.0, rate_hz=400.0, seed=12)
    raw = {"accl": stream_of(a), "gyro": stream_of(g, "gyro")}
    sync = SyncParams(0.0, 1 / 1.01)
    starts = np.arange(0, 9.9, 0.5)
    x, why = resample_windows(raw, sync, starts)
    assert x.shape == (starts.size, 396, 6) and not any(why)
    prepared = {k: prepare_stream(v) for k, v in raw.items()}
    np.testing.assert_array_equal(resample_window(prepared, sync, 4.5), x[9])
    x0, why0 = resample_windows(prepared, {"accl": sync, "gyro": sync}, [])
    assert x0.shape == (0, 396, 6) and why0.shape == (0,)


# ------------------------------------------------------------------------------- reading/cleaning
def _write(path, header, rows):
    path.write_text(header + "\n" + "".join(rows))


def _rows(s: Synth) -> list[str]:
    return [",".join(repr(float(v)) for v in (m, *abc)) + "\n" for m, abc in zip(s.ms, s.values)]


def test_read_csv_cleaning_counts(tmp_path):
    s = synth(duration_s=5.0, seed=13)
    rows = _rows(s)
    rows[10] = f"{float(s.ms[10])!r},,1.0,2.0\n"  # empty field
    rows[20] = f"{float(s.ms[20])!r},nan,1.0,2.0\n"
    rows.insert(31, rows[30])  # exact duplicate
    rows.insert(42, f"{float(s.ms[40])!r},0,0,0\n")  # same time after it, other values: dropped
    rows[50], rows[51] = rows[51], rows[50]  # out of order
    rows[200], rows[300] = rows[300], rows[200]  # out of order, far
    p = tmp_path / "P01_101-accl.csv"
    _write(p, "Milliseconds,AcclX,AcclY,AcclZ", rows + ["\n"])
    st = read_imu_csv(p, "accl")
    r = st.report
    assert (r.n_rows, r.n_nan, r.n_duplicates, r.n_nonmonotonic) == (len(rows), 2, 2, 3)
    assert r.n_kept == s.ms.size - 2
    keep = np.ones(s.ms.size, bool)
    keep[[10, 20]] = False
    np.testing.assert_array_equal(st.ms, s.ms[keep])
    np.testing.assert_array_equal(st.values, s.values[keep])
    assert st.kind == "accl" and st.path == str(p)


def test_values_beyond_float32_are_kept_by_cleaning_and_named():
    """1e308 is finite in float64 (cleaning keeps it) but not in the shards' float32: beyond_stored_range names the
    first such row (for the rejection non_finite_imu); float32's largest value is fine."""
    s = synth(duration_s=3.0, seed=5)
    values = s.values.copy()
    values[40, 1], values[90, 2], values[95, 0] = 1e308, -4e38, float(np.finfo(np.float32).max)
    st = clean_imu("accl", s.ms, values)
    assert st.report.n_nan == 0 and st.values[40, 1] == 1e308
    assert beyond_stored_range(st) == (f"Milliseconds {s.ms[40]:g}: AcclY = 1e+308 is beyond float32's range "
                                       f"(and 1 more row)")
    assert beyond_stored_range(clean_imu("accl", s.ms, s.values)) == ""


def test_read_csv_real_file_first_rows(tmp_path):
    p = tmp_path / "P01_101-accl.csv"  # the README's first two rows, with CRLF line ends
    p.write_bytes(b"Milliseconds,AcclX,AcclY,AcclZ\r\n0,9.279904306220097,-0.41866028708133973,3.6435406698564594"
                  b"\r\n4.385964912280702,9.126794258373206,-0.4,3.6\r\n")
    st = read_imu_csv(p, "accl")
    assert st.ms.tolist() == [0.0, 4.385964912280702] and st.values[0, 0] == 9.279904306220097


@pytest.mark.parametrize("content,kind,line,match", [
    (None, "accl", None, "file not found"),
    ("", "accl", None, "empty file"),
    ("Milliseconds,GyroX,GyroY,GyroZ\n0,1,2,3\n", "accl", 1, "header"),
    ("ms,AcclX,AcclY,AcclZ\n0,1,2,3\n", "accl", 1, "header"),
    ("Milliseconds,AcclX,AcclY,AcclZ\n", "accl", None, "no data rows"),
    ("Milliseconds,AcclX,AcclY,AcclZ\n0,1,2,3\n5,1,2,3\n10,1,2,3\n15,1,abc,3\n20,1,2,3\n", "accl", 5, "abc"),
    ("Milliseconds,AcclX,AcclY,AcclZ\n0,1,2,3\n5,1,2,3\n\n10,1,2\n", "accl", 5, "3 fields"),
    ("Milliseconds,GyroX,GyroY,GyroZ\n0,1,2,3\n5,1,2,3,4\n", "gyro", 3, "5 fields"),
])
def test_read_csv_errors_name_the_line(tmp_path, content, kind, line, match):
    p = tmp_path / f"P01_101-{kind}.csv"
    if content is not None:
        p.write_text(content)
    with pytest.raises(ImuError, match=match) as ei:
        read_imu_csv(p, kind)
    assert ei.value.line == line and ei.value.path == str(p)
    if line is not None:
        assert f"(line {line})" in str(ei.value)


def test_imu_error_pickles():
    e = pickle.loads(pickle.dumps(ImuCoverageError("/x.csv", "why", line=3)))
    assert isinstance(e, ImuCoverageError) and (e.path, e.reason, e.line) == ("/x.csv", "why", 3)
    assert str(e) == "/x.csv: why (line 3)"
