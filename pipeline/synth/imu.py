"""GoPro IMU files of ``egoimu synth epic``: timing model, noise, quantisation, CSV text.

Timing model (one clock per video; all times are true video time in seconds):

- The camera's sensor/telemetry clock (one clock: telemetry clock = sensor clock) runs slow or fast:
  one telemetry second lasts ``clock_scale`` = 1 + e seconds of video time, e ~ U(-1 %, +1 %) per
  video. The sensor samples at ``NOMINAL_HZ`` (200 Hz, HERO6/7, accl and gyro alike) of that clock,
  so its true rate in video time is R = 200 / clock_scale Hz, constant.
- Payload k >= 1 covers [b_k, b_{k+1}) with b_k = offset + k * clock_scale + j_k, j_k ~ U(±12 ms)
  boundary jitter (so sample counts vary, about 195..205). ``offset`` is 0 by default: GoPro starts
  its telemetry with the recording (a known offset can be planted, ``--imu-offset-ms``, to exercise
  the pipeline's per-video sync table).
- Payload 0 starts early: b_0 = offset − preroll, preroll = max(offset, 0) + U(0, 120 ms), so the
  first sample is at or before t = 0 and the first payload holds more samples (real: 228).
- Telemetry stops with the recording: the last payload is partial and ends exactly at the end of
  the video (b_K = duration; a last piece shorter than 50 ms joins the payload before it), so the
  IMU spans exactly the whole video and its length reveals the clock error.
- Sensor ticks are t_n = b_0 + phase + n / R (phase ~ U(0, 1/R), separate for accl and gyro); the
  samples of payload k are numbered j = 0..n_k − 1 and get
  ``Milliseconds = 1000 k + 1000 j / n_k`` (the extraction tool's re-timing).
- Hence for payloads k >= 1: t_video ≈ offset + clock_scale · Milliseconds / 1000 (error ≤ jitter);
  payload 0 is compressed by its pre-roll.

Values: measured = true + per-participant bias + white noise, then quantised like GoPro's raw
integers: raw = round(value · scale) clipped to int16, written value = raw / scale (``ACCL_SCALE``
418 as in the real file, ``GYRO_SCALE`` 939). Numbers are written like the real files (JavaScript
style): shortest round-trip repr, integral values without ``.0`` (``0``, ``1000``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

NOMINAL_HZ = 200.0  # samples per telemetry second (HERO6/7: accl and gyro both 200 Hz)
ACCL_SCALE = 418.0  # raw counts per m/s² (the real P01 file's scale)
GYRO_SCALE = 939.0  # raw counts per rad/s
CLOCK_ERROR = 0.01  # |e| bound
LAST_PAYLOAD_MIN_S = 0.05  # a shorter last piece of telemetry joins the payload before it
JITTER_S = 0.012  # payload boundary jitter bound
PREROLL_S = 0.12  # extra pre-roll of payload 0 (upper bound of its uniform part)
ACCL_HEADER = ("Milliseconds", "AcclX", "AcclY", "AcclZ")
GYRO_HEADER = ("Milliseconds", "GyroX", "GyroY", "GyroZ")


@dataclass(frozen=True)
class ImuClock:
    """One video's telemetry clock (see the module docstring). Times in video seconds."""

    clock_scale: float
    offset_s: float
    preroll_s: float
    boundaries_s: np.ndarray  # (K+1,) float64 payload boundaries b_0..b_K

    @property
    def rate_hz(self) -> float:
        """True sample rate in video time, Hz."""
        return NOMINAL_HZ / self.clock_scale

    @classmethod
    def sample(cls, rng: np.random.Generator, duration_s: float, offset_s: float = 0.0) -> ImuClock:
        """A clock for a video of ``duration_s``; ``offset_s``: video time of telemetry second 0."""
        scale = 1.0 + float(rng.uniform(-CLOCK_ERROR, CLOCK_ERROR))
        offset = float(offset_s)
        preroll = max(offset, 0.0) + float(rng.uniform(0.0, PREROLL_S))
        k = int(np.ceil((duration_s - offset) / scale - LAST_PAYLOAD_MIN_S))
        b = offset + np.arange(k + 1) * scale + rng.uniform(-JITTER_S, JITTER_S, k + 1)
        b[0] = offset - preroll
        b[-1] = duration_s  # telemetry stops with the recording: a partial last payload
        return cls(clock_scale=scale, offset_s=offset, preroll_s=preroll, boundaries_s=b)


@dataclass(frozen=True)
class ImuStream:
    """Sample times of one stream: ``t_true_s`` (n,) float64 video s, ``ms`` (n,) float64 the
    ``Milliseconds`` column, ``counts`` (K,) int64 samples per payload."""

    t_true_s: np.ndarray
    ms: np.ndarray
    counts: np.ndarray


def stream_times(clock: ImuClock, rng: np.random.Generator) -> ImuStream:
    """Sensor ticks of one stream (random phase) grouped into the clock's payloads."""
    b = clock.boundaries_s
    period = 1.0 / clock.rate_hz
    n = int(np.floor((b[-1] - b[0]) / period)) + 2
    t = b[0] + float(rng.uniform(0.0, period)) + np.arange(n) * period
    t = t[t < b[-1]]
    payload = np.searchsorted(b, t, side="right") - 1
    counts = np.bincount(payload, minlength=len(b) - 1).astype(np.int64)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    j = np.arange(t.size) - first[payload]
    ms = np.array([1000 * int(k) + 1000 * int(i) / int(counts[k]) for k, i in zip(payload, j)])
    return ImuStream(t_true_s=t, ms=ms, counts=counts)


def measure(true: np.ndarray, bias: np.ndarray, noise_std: float, scale: float,
            rng: np.random.Generator) -> np.ndarray:
    """Noisy, biased, quantised readings (n,3) float64 = int16 raw / scale."""
    raw = np.rint((true + bias + rng.normal(0.0, noise_std, true.shape)) * scale)
    return np.clip(raw, -32768, 32767) / scale


def js_number(x: float) -> str:
    """A number as the extraction tool writes it: shortest repr, integral values without ``.0``."""
    x = float(x)
    if x != x:
        return "NaN"
    if x.is_integer():
        return str(int(x))
    return repr(x)


def csv_lines(header: tuple[str, ...], ms: np.ndarray, values: np.ndarray) -> list[str]:
    """Text lines (without line ends) of an IMU CSV: header, then ``Milliseconds,X,Y,Z`` rows."""
    lines = [",".join(header)]
    f = js_number
    lines += [f"{f(m)},{f(a)},{f(b)},{f(c)}" for m, (a, b, c) in zip(ms.tolist(), values.tolist())]
    return lines


def write_lines(path: Path, lines: list[str]) -> None:
    """Write CSV lines with ``\\n`` line ends and a final newline."""
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
