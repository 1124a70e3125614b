"""The clip plan (pure): where each 2-second clip starts on its video's timeline.

Rule (recorded in the build config): a segment that starts after the video's end, or ends more than
``max_overrun_s`` past it, is rejected (``segment_outside_video``). Otherwise one clip per action
segment, centred on the segment
(``S = (start + stop)/2 − window/2``), snapped to the nearest point of the 1/24 s grid of the video's
timeline, then clamped so that the whole window lies inside the video — every one of its 48 frames
``floor((S + k/24)·fps)`` is a decodable frame. Clip starts are exact :class:`fractions.Fraction`
values (``tick / 24``), so the frame rule downstream is exact rational arithmetic.

Unlabelled self-supervised windows tile the train videos with a fixed stride (``--ssl-windows``; by default
``auto``: :func:`auto_ssl_stride` picks it, or none, from the train split's video and labelled segments).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from egoimu.manifests.geometry import DEFAULT_GEOMETRY, ClipGeometry

SNAP_MODES = ("nearest", "floor")
#: ``ssl_stride_s`` value (the default) for a stride chosen from the train split's video (:func:`auto_ssl_stride`).
SSL_AUTO = "auto"
#: ours (measured, README "Learning, tested and by default"): auto tops the train split up to this many clips with
#: unlabelled windows: the contrastive objective learns nothing that transfers from a few hundred labelled segments
#: (it memorises them), but EPIC's ~30,000 train segments need none (the paper's own setting: no windows, no cost).
AUTO_SSL_CLIPS = 3000
#: ours: the auto stride's range: never denser than 0.5 s (each moment of video in four windows), never sparser
#: than 2 s (windows touch: every moment of an unlabelled set is used once).
AUTO_SSL_MIN_S, AUTO_SSL_MAX_S = 0.5, 2.0
SEGMENT_OUTSIDE_VIDEO = "segment_outside_video"
VIDEO_TOO_SHORT = "video_too_short"


@dataclass(frozen=True)
class ClipConfig:
    """Clip-plan settings; ``# paper`` = stated in arXiv 2110.01680, ``# ours`` = egoimu's choice.

    The window and the grid (``geometry.window_s``, ``geometry.fps``) are the build's clip geometry
    (:mod:`egoimu.manifests.geometry`), not settings of this stage.
    """

    geometry: ClipGeometry = DEFAULT_GEOMETRY  # paper: the build's clip geometry (BuildConfig.geometry)
    placement: str = "centre"  # ours: clip centred on the segment
    snap: str = "nearest"  # ours: start rounded to the nearest 1/out_fps grid point
    clamp: bool = True  # ours: shift a clip that would cross a video edge back inside
    max_overrun_s: float = 0.5  # ours: a segment ending this far past the video's end is bad annotation
    ssl_stride_s: float | str | None = SSL_AUTO  # ours (measured): stride (s) of unlabelled 2 s windows over the
    #   train videos; "auto" = chosen from the train split's video and segments (auto_ssl_stride); None = none

    def __post_init__(self) -> None:
        if self.snap not in SNAP_MODES:
            raise ValueError(f"clip.snap must be one of {SNAP_MODES}, not {self.snap!r}")
        if not (isinstance(self.max_overrun_s, (int, float)) and 0 <= self.max_overrun_s < math.inf):
            raise ValueError(f"clip.max_overrun_s must be a finite number of seconds >= 0, got {self.max_overrun_s!r}")
        stride, fps = self.ssl_stride_s, self.geometry.fps
        number = isinstance(stride, (int, float)) and not isinstance(stride, bool)
        if stride is not None and stride != SSL_AUTO and not (number and math.isfinite(stride)
                                                              and stride * fps >= 1 - 1e-9):
            raise ValueError(f"clip.ssl_stride_s must be {SSL_AUTO!r}, null (no windows) or a finite number of "
                             f"seconds >= 1/{fps} (one step of the {fps} fps clip grid), got {stride!r}")


def auto_ssl_stride(train_video_s: float, train_segments: int, fps: int) -> float | None:
    """The ``auto`` window stride in seconds, or None (no windows), for ``train_video_s`` seconds of usable train
    video holding ``train_segments`` labelled clips: None from :data:`AUTO_SSL_CLIPS` segments on, else the stride
    that adds the missing clips, train_video_s / (AUTO_SSL_CLIPS - train_segments), kept within
    [:data:`AUTO_SSL_MIN_S`, :data:`AUTO_SSL_MAX_S`] and rounded up to the clip grid (a multiple of 1/fps s).
    A 6-participant x 2 x 90 s synthetic set (720 s, ~260 segments in train) -> 0.5 s; EPIC's IMU videos (~31 h,
    ~30,000 segments in train) -> None; 10 h of unlabelled GoPro video -> 2 s."""
    if not (math.isfinite(train_video_s) and train_video_s >= 0) or train_segments < 0:
        raise ValueError(f"need finite train video seconds >= 0 and segments >= 0, got {train_video_s!r} and "
                         f"{train_segments!r}")
    if train_segments >= AUTO_SSL_CLIPS:
        return None
    stride = min(max(train_video_s / (AUTO_SSL_CLIPS - train_segments), AUTO_SSL_MIN_S), AUTO_SSL_MAX_S)
    return math.ceil(stride * fps - 1e-9) / fps


def last_start_tick(n_source_frames: int, fps: Fraction, cfg: ClipConfig) -> int:
    """Largest grid tick ``m`` (start = m/out_fps) whose last frame ``floor((m+n-1)/out_fps·fps)`` exists.

    Returns -1 when the video is too short for one clip.
    """
    # need floor((m + n - 1) * fps / out_fps) <= n_source_frames - 1
    # <=> (m + n - 1) * fps / out_fps < n_source_frames
    # <=> m < n_source_frames * out_fps / fps - (n - 1)
    g = cfg.geometry
    bound = Fraction(n_source_frames * g.fps) / Fraction(fps) - (g.frames - 1)
    m = math.ceil(bound) - 1
    return max(m, -1)


def segment_clip_start(seg_start_s: float, seg_stop_s: float, n_source_frames: int, fps: Fraction,
                       cfg: ClipConfig) -> Fraction | str:
    """Start of the clip for one segment, or a rejection reason.

    Args:
        seg_start_s, seg_stop_s: the segment, seconds on the video timeline.
        n_source_frames: decodable frames of the video.
        fps: the video's exact frame rate.

    Returns:
        ``Fraction`` start (a multiple of 1/out_fps) or ``"segment_outside_video"`` /
        ``"video_too_short"``.
    """
    fps = Fraction(fps)
    duration = Fraction(n_source_frames) / fps
    if seg_start_s >= duration or seg_stop_s <= 0 or seg_stop_s > duration + cfg.max_overrun_s:
        return SEGMENT_OUTSIDE_VIDEO
    max_tick = last_start_tick(n_source_frames, fps, cfg)
    if max_tick < 0:
        return VIDEO_TOO_SHORT
    centre = (Fraction(seg_start_s) + Fraction(seg_stop_s)) / 2
    start = centre - cfg.geometry.window / 2
    tick = _snap(start * cfg.geometry.fps, cfg.snap)
    if not cfg.clamp and (tick < 0 or tick > max_tick):
        return SEGMENT_OUTSIDE_VIDEO
    tick = min(max(tick, 0), max_tick)
    return Fraction(tick, cfg.geometry.fps)


def window_starts(n_source_frames: int, fps: Fraction, cfg: ClipConfig, from_s: float = 0.0) -> list[Fraction]:
    """Starts of unlabelled windows tiled over a whole video every ``cfg.ssl_stride_s`` seconds, from the first
    tick at or after ``from_s`` (the recording's ``imu_from_s``: 0 unless its IMU starts later than the edge
    tolerance allows, e.g. a GoPro file whose measured sync puts its first sample 30 ms after the first frame)."""
    if not cfg.ssl_stride_s:
        return []
    if cfg.ssl_stride_s == SSL_AUTO:
        raise ValueError("ssl_stride_s 'auto' is resolved by the plan (egoimu.pipeline.plan.resolve_ssl_windows) "
                         "before windows are tiled")
    stride_ticks = max(1, round(cfg.ssl_stride_s * cfg.geometry.fps))
    max_tick = last_start_tick(n_source_frames, Fraction(fps), cfg)
    first = max(0, math.ceil(from_s * cfg.geometry.fps - 1e-9))
    return [Fraction(t, cfg.geometry.fps) for t in range(first, max_tick + 1, stride_ticks)]


def _snap(x: Fraction, mode: str) -> int:
    if mode == "nearest":
        return math.floor(x + Fraction(1, 2))
    if mode == "floor":
        return math.floor(x)
    raise ValueError(f"unknown snap mode {mode!r} (choose 'nearest' or 'floor')")
