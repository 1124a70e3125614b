"""The sync check from the shards alone (``egoimu audit --sync OUT``): per video, the lag between the image
motion of the written clips and the gyroscope written beside them.

Timing. Frame k of a clip starting at S is an instant, ``S + k / fps`` (docs/conventions.md); IMU row j is the
sample at ``S + j / imu_rate``. The image motion of the pair (k, k+1) (:func:`egoimu.manifests.motion.frame_motion`)
is the rotation of the head between those two instants, so it is compared with the gyroscope *integrated* over
exactly that interval: the angle ``A(t)`` (trapezoid cumulative sum of the rate, linear between samples) gives
the mean rate ``(A(t_{k+1}) - A(t_k)) · fps``, which sits half a frame after frame k — no half-frame bias from
sampling the rate at a frame instant. For a trial lag ``L`` the interval is moved to ``[t_k - L, t_{k+1} - L]``;
pairs whose moved interval leaves the clip's IMU are dropped at that lag.

Lag convention: ``lag_s = L > 0`` means the gyroscope written at clip time t shows the motion the frames show at
``t + L`` (the IMU rows are written L too early; a synth set made with ``--imu-offset-ms D`` and built with the
assumed sync shows ``L ≈ D``). A synced build peaks at ``|L| ≤ 1 / fps``.

Axis pairing is found from the data: at each lag the Pearson correlation of both image axes (dx: +u, dy: +v)
with each gyro axis (X, Y, Z) is computed over all of a video's pairs pooled; the score of a lag is the best
sum of ``|r|`` over an assignment of two different gyro axes to dx and dy; the best lag is the best score's
(refined by a parabola through its neighbours), and the reported ``r`` is the mean of the two paired
correlations, each taken with the sign that makes it positive (the sign is reported).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from itertools import permutations
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from egoimu.manifests.motion import frame_motion
from egoimu.manifests.outputs import SHARDS_DIR
from egoimu.manifests.shardfmt import IMU_CHANNELS, read_clip, validate_shard_attrs

#: Decodes one JPEG file (bytes) to uint8 RGB (H, W, 3); needed only for the ``jpeg`` encoding.
JpegDecoder = Callable[[bytes], np.ndarray]
GYRO = tuple(IMU_CHANNELS.index(c) for c in ("GyroX", "GyroY", "GyroZ"))
IMAGE_AXES = ("dx", "dy")
DEFAULT_MAX_LAG_S = 1.0


class SyncCheckError(ValueError):
    """The shards cannot be checked (no shards, a jpeg shard without a decoder, too few frames)."""


@dataclass(frozen=True)
class ClipMotion:
    """One clip: image motion (T-1, 2) px/frame, gyroscope (n, 3) rad/s, frame rate, IMU rate."""

    video_id: str
    motion: np.ndarray
    gyro: np.ndarray
    fps: float
    imu_rate_hz: float


@dataclass(frozen=True)
class VideoSync:
    """The check's result for one video (``pairing``: image axis -> signed gyro axis, e.g. ``{"dx": "+GyroX"}``)."""

    video_id: str
    clips: int
    pairs: int
    lag_s: float
    lag_frames: float
    r: float
    pairing: dict[str, str]
    r_by_axis: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (lag also in ms)."""
        return {**asdict(self), "lag_ms": round(1000.0 * self.lag_s, 1)}


def shard_paths(out: Path) -> list[Path]:
    """Every ``shards/<split>/*.h5`` under OUT, sorted."""
    return sorted((Path(out) / SHARDS_DIR).glob("*/*.h5"))


def _frames(clip: dict, decode: JpegDecoder | None, path: Path, row: int) -> np.ndarray:
    if "video" in clip:
        return clip["video"]
    if decode is None:
        raise SyncCheckError(f"{path}: row {row}: jpeg-encoded video needs a JPEG decoder "
                             "(install egoimu[pipeline] or egoimu[train]: simplejpeg)")
    off, data = clip["video_jpeg_offsets"], clip["video_jpeg"]
    return np.stack([decode(data[off[k]:off[k + 1]].tobytes()) for k in range(len(off) - 1)])


def read_clip_motion(out: Path, decode: JpegDecoder | None = None) -> Iterator[ClipMotion]:
    """Every written clip's image motion and gyroscope, shard by shard, row by row."""
    paths = shard_paths(out)
    if not paths:
        raise SyncCheckError(f"{out}: no shards under {SHARDS_DIR}/")
    for path in paths:
        with h5py.File(path, "r") as f:
            layout = validate_shard_attrs(f, path)
            g = layout.geometry
            for row in range(f["clip_id"].shape[0]):
                clip = read_clip(f, row, layout)
                yield ClipMotion(clip["video_id"], frame_motion(_frames(clip, decode, path, row)),
                                 np.asarray(clip["imu"], dtype=np.float64)[:, GYRO], float(g.fps),
                                 float(g.imu_rate_hz))


def interval_rates(gyro: np.ndarray, t: np.ndarray, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
    """Mean rate (n, 3) of a gyroscope (m, 3) sampled at times ``t`` (m,) (increasing, seconds) over each interval
    ``[t0, t1]``: the difference of its trapezoid-integrated angle (linear between samples); NaN where an
    interval leaves ``[t[0], t[-1]]``."""
    angle = np.concatenate([np.zeros((1, 3)), np.cumsum(0.5 * (gyro[1:] + gyro[:-1]) * np.diff(t)[:, None], axis=0)])
    a0 = np.stack([np.interp(t0, t, angle[:, c]) for c in range(3)], 1)
    a1 = np.stack([np.interp(t1, t, angle[:, c]) for c in range(3)], 1)
    out = (a1 - a0) / (t1 - t0)[:, None]
    out[(t0 < t[0]) | (t1 > t[-1])] = np.nan
    return out


def _corr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of every column of x (n, a) with every column of y (n, b): (a, b); 0 where one is constant."""
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    den = np.sqrt(np.outer((x ** 2).sum(axis=0), (y ** 2).sum(axis=0)))
    return np.divide(x.T @ y, den, out=np.zeros((x.shape[1], y.shape[1])), where=den > 0)


def _best_pairing(r: np.ndarray) -> tuple[float, tuple[int, int]]:
    """(score, (gyro axis of dx, gyro axis of dy)): the assignment of two different axes with the largest sum |r|."""
    return max((abs(r[0, a]) + abs(r[1, b]), (a, b)) for a, b in permutations(range(r.shape[1]), 2))


@dataclass(frozen=True)
class LagFit:
    """The best lag (s) of image motion against gyroscope rates, the 2 x 3 correlations there, the gyro axes
    paired with dx and dy, and the frame pairs used."""

    lag_s: float
    r: np.ndarray
    axes: tuple[int, int]
    pairs: int

    def pairing(self) -> dict[str, str]:
        """Image axis -> signed gyro channel, e.g. ``{"dx": "+GyroX", "dy": "+GyroY"}``."""
        return {ax: ("+" if self.r[k, self.axes[k]] >= 0 else "-") + IMU_CHANNELS[GYRO[self.axes[k]]]
                for k, ax in enumerate(IMAGE_AXES)}

    def r_by_axis(self) -> dict[str, float]:
        """Image axis -> |r| with its paired gyro axis."""
        return {ax: round(abs(float(self.r[k, self.axes[k]])), 4) for k, ax in enumerate(IMAGE_AXES)}

    @property
    def peak_r(self) -> float:
        """The mean of the two paired |r|."""
        return float(np.mean([abs(self.r[k, self.axes[k]]) for k in range(2)]))


def best_lag(motion: list[np.ndarray], rates_at: Callable[[float], list[np.ndarray]],
             lags_s: np.ndarray) -> LagFit:
    """Search ``lags_s`` (increasing, evenly spaced): ``rates_at(lag)`` gives, per item of ``motion`` ((n_i, 2)
    image motion), the (n_i, 3) gyro rates over the same frame intervals moved by ``lag`` (NaN: unusable). The
    score of a lag is the best sum of paired |r| (:func:`_best_pairing`); the peak is refined by a parabola."""
    pooled = np.concatenate(motion)
    scores, rs, used = np.full(lags_s.size, -np.inf), [], []
    for i, lag in enumerate(lags_s):
        rates = np.concatenate(rates_at(float(lag)))
        ok = ~np.isnan(rates).any(axis=1)
        r = _corr(pooled[ok], rates[ok]) if ok.sum() >= 8 else np.zeros((2, 3))
        rs.append(r)
        used.append(int(ok.sum()))
        scores[i] = _best_pairing(r)[0]
    i = int(np.argmax(scores))
    lag = float(lags_s[i])
    if 0 < i < lags_s.size - 1:
        lo, mid, hi = scores[i - 1], scores[i], scores[i + 1]
        den = lo - 2 * mid + hi
        if den < 0:
            lag += float(0.5 * (lo - hi) / den) * float(lags_s[1] - lags_s[0])
    return LagFit(lag, rs[i], _best_pairing(rs[i])[1], used[i])


def video_sync(video_id: str, clips: list[ClipMotion], max_lag_s: float = DEFAULT_MAX_LAG_S) -> VideoSync:
    """The best lag, its correlation and the axis pairing of one video's clips (see the module docstring)."""
    fps, rate = clips[0].fps, clips[0].imu_rate_hz
    lags = np.arange(-round(max_lag_s * rate), round(max_lag_s * rate) + 1) / rate

    def rates_at(lag: float) -> list[np.ndarray]:
        out = []
        for c in clips:
            t0 = np.arange(c.motion.shape[0]) / fps - lag
            out.append(interval_rates(c.gyro, np.arange(c.gyro.shape[0]) / rate, t0, t0 + 1.0 / fps))
        return out

    fit = best_lag([c.motion for c in clips], rates_at, lags)
    r_by_axis = fit.r_by_axis()
    return VideoSync(video_id, len(clips), sum(c.motion.shape[0] for c in clips), round(fit.lag_s, 4),
                     round(fit.lag_s * fps, 2), round(float(np.mean(list(r_by_axis.values()))), 4),
                     fit.pairing(), r_by_axis)


def check_sync(out: Path, decode: JpegDecoder | None = None,
               max_lag_s: float = DEFAULT_MAX_LAG_S) -> list[VideoSync]:
    """Per video (sorted by id), pooled over its clips: the sync check of a build output."""
    by_video: dict[str, list[ClipMotion]] = {}
    for clip in read_clip_motion(out, decode):
        by_video.setdefault(clip.video_id, []).append(clip)
    return [video_sync(v, by_video[v], max_lag_s) for v in sorted(by_video)]
