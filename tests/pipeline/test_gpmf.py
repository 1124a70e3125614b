"""The GPMF reader on the real GoPro HERO5 Black file (../shared/data/gopro/karma.mp4) and on bad input."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from egoimu.pipeline.ffmpeg_bin import ffmpeg_exe
from egoimu.pipeline.gpmf import (
    AXIS_ORDER_DOCUMENTED,
    GpmfError,
    axis_matrix,
    axis_order_for_firmware,
    fitted_sample_times,
    read_gpmf_imu,
)

KARMA_FRAMES, KARMA_FPS = 362, 30000 / 1001  # ../shared/data/README.md


@pytest.fixture(scope="module")
def karma(gopro_karma):
    return read_gpmf_imu(gopro_karma)


def test_karma_counts_rates_and_units(karma):
    assert karma.firmware.startswith("HD5") and karma.axis_order == "ZXY" and karma.axis_source == "firmware"
    assert karma.accl.t_s.size == 2397 and karma.gyro.t_s.size == 4795
    assert len(karma.accl.payload_counts) == len(karma.payload_in_s) == 13
    assert karma.accl.rate_hz == pytest.approx(200, rel=0.01)
    assert karma.gyro.rate_hz == pytest.approx(400, rel=0.01)
    assert np.linalg.norm(karma.accl.values, axis=1).mean() == pytest.approx(9.81, rel=0.05)
    assert np.abs(karma.gyro.values).max() < 10  # rad/s after SCAL, not raw counts


def test_karma_gravity_on_up_axis(karma):
    """The Karma's gimbal holds the camera level: gravity on head X (up, +), little on Y and Z."""
    mean = karma.accl.values.mean(axis=0)
    assert mean[0] == pytest.approx(9.7, abs=0.3)
    assert np.all(np.abs(mean[1:]) < 0.5)


def test_karma_times_on_the_video_timeline(karma):
    video_s = KARMA_FRAMES / KARMA_FPS
    first_payload_s = karma.payload_out_s[0] - karma.payload_in_s[0]
    for s in (karma.accl, karma.gyro):
        assert np.all(np.diff(s.t_s) > 0)
        assert -first_payload_s <= s.t_s[0] and s.t_s[-1] <= video_s + first_payload_s
        assert s.residual_ms < 20  # payload flush jitter (a few samples), not a misplaced payload
    # the two sensors share the timeline: their spans agree within a few samples
    assert abs(karma.accl.t_s[0] - karma.gyro.t_s[0]) < 0.01
    assert abs(karma.accl.t_s[-1] - karma.gyro.t_s[-1]) < 0.01


def test_karma_yaw_matches_image_motion(karma, gopro_karma):
    """Head GyroX > 0 (yaw left) moves the scene right in the image (+u): docs/conventions.md."""
    w, h = 214, 120
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(gopro_karma), "-vf", f"scale={w}:{h}",
                          "-f", "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, h, w).astype(np.float64)
    win = np.outer(np.hanning(h), np.hanning(w))
    spec = np.fft.fft2((frames - frames.mean(axis=(1, 2), keepdims=True)) * win)
    cross = spec[1:] * np.conj(spec[:-1])
    corr = np.fft.ifft2(cross / (np.abs(cross) + 1e-9)).real.reshape(len(cross), -1)
    dx = np.argmax(corr, axis=1) % w
    du = np.where(dx > w // 2, dx - w, dx).astype(np.float64)
    t_mid = np.arange(1, len(frames)) / KARMA_FPS
    yaw = np.interp(t_mid, karma.gyro.t_s, karma.gyro.values[:, 0])
    assert np.corrcoef(yaw, du)[0, 1] > 0.8


def test_axis_matrix_and_sample_times():
    assert np.array_equal(axis_matrix("ZXY") @ np.array([1.0, 2.0, 3.0]), [1.0, -2.0, -3.0])
    assert np.array_equal(axis_matrix("zXY") @ np.array([1.0, 0.0, 0.0]), [-1.0, 0.0, 0.0])
    assert abs(np.linalg.det(axis_matrix("YxZ"))) == 1.0
    with pytest.raises(ValueError, match="permutation"):
        axis_matrix("XXY")
    # 200 Hz, payloads flushed every second with jitter in the counts: rate and start recovered
    t, rate, _ = fitted_sample_times(np.array([199, 201, 200, 200, 50]), np.arange(1.0, 6.0), timo_s=0.01)
    assert rate == pytest.approx(200, rel=0.005) and t.size == 850 and t[0] == pytest.approx(-0.01, abs=0.01)


# Head frame (docs/conventions.md): X up = GoPro +Z, Y right = GoPro -X, Z forward = GoPro -Y. One row per
# table entry: a firmware string of the model, the order, and where the head axes come from in the channels
# (c0, c1, c2) = (1, 2, 3): documented HERO6+ "Y,-X,Z" -> GoPro X = -c1, Y = c0, Z = c2 -> head (c2, c1, -c0).
AXIS_ROWS = [
    ("HD5.02.02.00.00", "ZXY", "firmware", [1.0, -2.0, -3.0]),  # HERO5 Black: verified on karma.mp4
    ("HD5.03.02.51.00", "ZXY", "firmware", [1.0, -2.0, -3.0]),  # HERO5 Session (same table row)
    ("HD6.01.02.01.00", "YxZ", "firmware-documented", [3.0, 2.0, -1.0]),  # HERO6 Black
    ("HD7.01.01.90.00", "YxZ", "firmware-documented", [3.0, 2.0, -1.0]),  # HERO7 Black
    ("HD8.01.02.51.00", "YxZ", "firmware-documented", [3.0, 2.0, -1.0]),  # HERO8 Black
    ("HD9.01.01.72.00", "YxZ", "firmware-documented", [3.0, 2.0, -1.0]),  # HERO9 Black
    ("H21.01.01.62.00", "YxZ", "firmware-documented", [3.0, 2.0, -1.0]),  # HERO10 Black
    ("H22.01.02.32.00", "YxZ", "firmware-documented", [3.0, 2.0, -1.0]),  # HERO11 Black
    ("H23.01.02.32.00", "YxZ", "firmware-documented", [3.0, 2.0, -1.0]),  # HERO12 Black
    ("H24.01.02.02.00", "YxZ", "firmware-documented", [3.0, 2.0, -1.0]),  # HERO13 Black
    ("H19.03.02.00.00", "YxZ", "firmware-documented", [3.0, 2.0, -1.0]),  # MAX
    ("FS1.04.02.00.00", "yXZ", "firmware-documented", [3.0, -2.0, 1.0]),  # Fusion: -Y,X,Z
]


@pytest.mark.parametrize("firmware,order,source,head", AXIS_ROWS)
def test_axis_order_table_row(firmware, order, source, head):
    assert axis_order_for_firmware(firmware) == (order, source)
    assert np.array_equal(axis_matrix(order) @ np.array([1.0, 2.0, 3.0]), head)


def test_axis_table_rows_all_tested_and_unknown_models_refused():
    assert {f[:6] for f, _, src, _ in AXIS_ROWS if src == "firmware-documented"} == set(AXIS_ORDER_DOCUMENTED)
    assert axis_order_for_firmware("H18.02.01.00.00") == ("", "")  # HERO7 White: not documented
    assert axis_order_for_firmware("") == ("", "")


def _plain_mp4(path: Path) -> Path:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25",
                    "-t", "0.4", "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def test_errors_name_the_file(tmp_path, gopro_karma):
    plain = _plain_mp4(tmp_path / "P01_101.MP4")
    with pytest.raises(GpmfError, match=r"P01_101\.MP4: no GPMF telemetry track"):
        read_gpmf_imu(plain)
    data = gopro_karma.read_bytes()
    cut = tmp_path / "cut.MP4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(GpmfError, match=r"cut\.MP4: truncated or damaged MP4"):
        read_gpmf_imu(cut)
    damaged = bytearray(data)
    at = damaged.find(b"DEVC")  # the first GPMF payload, index (moov) intact
    damaged[at:at + 4000] = bytes(4000)
    (tmp_path / "dmg.MP4").write_bytes(damaged)
    with pytest.raises(GpmfError, match=r"dmg\.MP4: GPMF payload 0 is damaged"):
        read_gpmf_imu(tmp_path / "dmg.MP4")
    text = tmp_path / "notes.MP4"
    text.write_text("not a video\n")
    with pytest.raises(GpmfError, match=r"notes\.MP4: not an MP4"):
        read_gpmf_imu(text)
    with pytest.raises(GpmfError, match="file not found"):
        read_gpmf_imu(tmp_path / "missing.MP4")
