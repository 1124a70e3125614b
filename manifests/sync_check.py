"""The sync check from the shards alone (``egoimu audit --sync OUT``): per video, the lag between the image
motion of the written clips and the gyroscope written beside them.

Timing. Frame k of a clip starting at S shows the source frame on screen at ``S + k / fps`` (the frame rule), an
image taken at that source frame's own instant ``t_k = ⌊(S + k/fps) · fps_src⌋ / fps_src`` — up to one source frame
earlier (17 ms on average for 24 from 29.97 fps). With the source frame rate from the build's recordings.csv
(``fps_num/fps_den``) the check uses these instants (``timing: source``); without it, the output instants
``S + k / fps`` (``timing: output``, biased by half a source frame). IMU row j is the sample at
``S + j / imu_rate``. The image motion of the pair (k, k+1) (:func:`egoimu.manifests.motion.frame_motion`) is the
rotation of the head between those two instants; divided by their distance it is the image velocity over that
interval, compared with the gyroscope's mean rate over exactly the same interval,
``(A(t_{k+1}) - A(t_k)) / (t_{k+1} - t_k)`` (``A`` the trapezoid cumulative sum of the rate, linear between
samples) — no half-frame bias from sampling the rate at a frame instant, and pairs spanning one or two source
frames (24 from 29.97 fps) alike; a pair of one repeated source frame spans no interval and is left out. For a
trial lag ``L`` the interval is moved to ``[t_k - L, t_{k+1} - L]``; pairs whose moved interval leaves the clip's
IMU are dropped at that lag.

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

import csv
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from itertools import permutations
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from egoimu.manifests.motion import frame_motion
from egoimu.manifests.outputs import SHARDS_DIR
from egoimu.manifests.schema import FILENAMES
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
    """One clip: image motion (T-1, 2) px/frame, gyroscope (n, 3) rad/s, output frame rate, IMU rate, and each
    frame's image instant (T,) in seconds from the clip's start (None: the output instants ``k / fps``)."""

    video_id: str
    motion: np.ndarray
    gyro: np.ndarray
    fps: float
    imu_rate_hz: float
    frame_t: np.ndarray | None = None

    def frame_times(self) -> np.ndarray:
        """(T,) float64 seconds from the clip's start: :attr:`frame_t`, or ``k / fps``."""
        if self.frame_t is not None:
            return self.frame_t
        return np.arange(self.motion.shape[0] + 1) / self.fps


def source_frame_times(start_s: float, n_frames: int, out_fps: int, source_fps: Fraction) -> np.ndarray:
    """(n_frames,) float64: the instants, in seconds from the clip's start, of the source frames that a clip
    starting at ``start_s`` (on the 1/out_fps grid) shows — frame k is the source frame on screen at
    ``start + k / out_fps`` (exact rationals; docs/conventions.md)."""
    tick = round(start_s * out_fps)
    num, den = source_fps.numerator, source_fps.denominator
    idx = [((tick + k) * num) // (out_fps * den) for k in range(n_frames)]
    return np.array([float(Fraction(i * den, num) - Fraction(tick, out_fps)) for i in idx])


def source_fps_by_video(out: Path) -> dict[str, Fraction]:
    """Each video's exact source frame rate from OUT/recordings.csv (``fps_num/fps_den``); {} when the file is
    absent or unreadable, or a video's rate is unknown (-1): the check then uses output instants."""
    try:
        with open(Path(out) / FILENAMES["recordings"], encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error):
        return {}
    fps = {}
    for row in rows:
        try:
            num, den = int(row["fps_num"]), int(row["fps_den"])
        except (KeyError, TypeError, ValueError):
            continue
        if num > 0 and den > 0:
            fps[row.get("video_id", "")] = Fraction(num, den)
    return fps


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
    timing: str = "output"  # frame instants used: source (from recordings.csv) | output (k / fps)

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


def read_clip_motion(out: Path, decode: JpegDecoder | None = None,
                     source_fps: dict[str, Fraction] | None = None) -> Iterator[ClipMotion]:
    """Every written clip's image motion and gyroscope, shard by shard, row by row; with a video's source frame
    rate in ``source_fps``, its frames' image instants (:func:`source_frame_times`)."""
    source_fps = source_fps or {}
    paths = shard_paths(out)
    if not paths:
        raise SyncCheckError(f"{out}: no shards under {SHARDS_DIR}/")
    for path in paths:
        with h5py.File(path, "r") as f:
            layout = validate_shard_attrs(f, path)
            g = layout.geometry
            for row in range(f["clip_id"].shape[0]):
                clip = read_clip(f, row, layout)
                src = source_fps.get(clip["video_id"])
                frame_t = None if src is None else source_frame_times(clip["start_s"], g.frames, g.fps, src)
                yield ClipMotion(clip["video_id"], frame_motion(_frames(clip, decode, path, row)),
                                 np.asarray(clip["imu"], dtype=np.float64)[:, GYRO], float(g.fps),
                                 float(g.imu_rate_hz), frame_t)


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


def lag_scores(motion: list[np.ndarray], rates_at: Callable[[float], list[np.ndarray]],
               lags_s: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], list[int]]:
    """Per lag of ``lags_s``: the score (the best sum of paired |r|, :func:`_best_pairing`), the 2 x 3
    correlations and the number of frame pairs used (see :func:`best_lag` for ``motion`` and ``rates_at``)."""
    pooled = np.concatenate(motion)
    scores, rs, used = np.full(lags_s.size, -np.inf), [], []
    for i, lag in enumerate(lags_s):
        rates = np.concatenate(rates_at(float(lag)))
        ok = ~np.isnan(rates).any(axis=1) & ~np.isnan(pooled).any(axis=1)
        r = _corr(pooled[ok], rates[ok]) if ok.sum() >= 8 else np.zeros((2, 3))
        rs.append(r)
        used.append(int(ok.sum()))
        scores[i] = _best_pairing(r)[0]
    return scores, rs, used


def best_lag(motion: list[np.ndarray], rates_at: Callable[[float], list[np.ndarray]],
             lags_s: np.ndarray) -> LagFit:
    """Search ``lags_s`` (increasing, evenly spaced): ``rates_at(lag)`` gives, per item of ``motion`` ((n_i, 2)
    image motion or velocity; NaN: unusable), the (n_i, 3) gyro rates over the same frame intervals moved by
    ``lag`` (NaN: unusable). The score of a lag is the best sum of paired |r| (:func:`_best_pairing`); the peak
    is refined by a parabola."""
    scores, rs, used = lag_scores(motion, rates_at, lags_s)
    i = int(np.argmax(scores))
    lag = float(lags_s[i])
    if 0 < i < lags_s.size - 1:
        lo, mid, hi = scores[i - 1], scores[i], scores[i + 1]
        den = lo - 2 * mid + hi
        if den < 0:
            lag += float(0.5 * (lo - hi) / den) * float(lags_s[1] - lags_s[0])
    return LagFit(lag, rs[i], _best_pairing(rs[i])[1], used[i])


def lag_problem(clips: list[ClipMotion], max_lag_s: float = DEFAULT_MAX_LAG_S
                ) -> tuple[list[np.ndarray], Callable[[float], list[np.ndarray]], np.ndarray]:
    """What :func:`best_lag` searches for one video's clips: the image velocity of every frame pair (px/s over
    the interval between its frames' instants; NaN for a repeated source frame), ``rates_at(lag)`` (the gyro's
    mean rate over each pair's interval moved by ``lag``) and the trial lags (one IMU sample apart)."""
    rate = clips[0].imu_rate_hz
    lags = np.arange(-round(max_lag_s * rate), round(max_lag_s * rate) + 1) / rate

    def rates_at(lag: float) -> list[np.ndarray]:  # the mean rate over each frame interval, moved by lag
        out = []
        for c in clips:
            t = c.frame_times() - lag
            out.append(interval_rates(c.gyro, np.arange(c.gyro.shape[0]) / rate, t[:-1], t[1:]))
        return out

    velocity = []  # image motion over each pair's interval (px/s); NaN for a repeated source frame (no interval)
    for c in clips:
        dt = np.diff(c.frame_times())
        velocity.append(c.motion / np.where(dt > 0, dt, np.nan)[:, None])
    return velocity, rates_at, lags


def video_sync(video_id: str, clips: list[ClipMotion], max_lag_s: float = DEFAULT_MAX_LAG_S) -> VideoSync:
    """The best lag, its correlation and the axis pairing of one video's clips (see the module docstring)."""
    fit = best_lag(*lag_problem(clips, max_lag_s))
    r_by_axis = fit.r_by_axis()
    timing = "output" if any(c.frame_t is None for c in clips) else "source"
    return VideoSync(video_id, len(clips), sum(c.motion.shape[0] for c in clips), round(fit.lag_s, 4),
                     round(fit.lag_s * clips[0].fps, 2), round(float(np.mean(list(r_by_axis.values()))), 4),
                     fit.pairing(), r_by_axis, timing)


def check_sync(out: Path, decode: JpegDecoder | None = None,
               max_lag_s: float = DEFAULT_MAX_LAG_S) -> list[VideoSync]:
    """Per video (sorted by id), pooled over its clips: the sync check of a build output."""
    by_video: dict[str, list[ClipMotion]] = {}
    for clip in read_clip_motion(out, decode, source_fps_by_video(out)):
        by_video.setdefault(clip.video_id, []).append(clip)
    return [video_sync(v, by_video[v], max_lag_s) for v in sorted(by_video)]
