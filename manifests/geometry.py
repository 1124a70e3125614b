"""The clip geometry: the one definition of what a clip is, from which every stage derives its shapes.

A clip is ``window_s`` seconds of egocentric video and the head motion recorded with it (paper: 2 s). Six
numbers fix everything else::

    frames       = window_s × fps                  48  (video: frames × frame_size² × 3, uint8 RGB)
    imu_len      = window_s × imu_rate_hz         396  (IMU: imu_len × 6 channels, float32)
    spec_bins    = nfft // 2 + 1                   33  (spectrogram: 6 × spec_bins × spec_frames)
    spec_frames  = 1 + imu_len // hop              50  (centred STFT frames)

The pipeline's stage configs (clip plan, video, IMU, spectrogram), the shard layout and its attributes, the
dry-run estimate and the trainer's expectations all read these values from one :class:`ClipGeometry`; none
restates them. A build config states it once, as its ``geometry`` section (``manifest.json``:
``config.geometry``), and a shard states it in its attributes (``out_fps``, ``n_frames``, ``frame_size``,
``imu_rate_hz``, ``nfft``, ``hop``), which the reader checks against the manifest.

The rules (:data:`RULES`, checked by :meth:`ClipGeometry.problems`), in two tiers:

* *structure* — any geometry, checked on construction: positive values; ``frames`` and ``imu_len`` whole
  numbers; ``nfft`` even, ``hop <= nfft`` and ``nfft / 2 < imu_len`` (the spectrogram's reflect padding).
* *encoders* — what the paper's networks rely on, checked when a build or training config is loaded
  (:meth:`ClipGeometry.encoder_problems`): ``frames`` divisible by SlowFast's α = 4 (the slow pathway sees
  ``frames / α`` of them), ``frame_size >= 32`` (SlowFast-R50's total stride), both spectrogram sides
  ``>= 32`` (VGG16's five 2 × 2 poolings). Small geometries that break them are for unit tests of a stage.

Beside them, one rule ties the geometry to a pipeline setting: the IMU low-pass cut-off must lie below the
Nyquist rate of the IMU grid, ``imu_rate_hz / 2`` (:meth:`ClipGeometry.lowpass_problem`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

#: SlowFast's frame-rate ratio α (paper: SlowFast-R50, α = 4): the slow pathway sees frames // α frames.
SLOWFAST_ALPHA: int = 4
#: SlowFast-R50's total spatial stride (stem 4, then res3-res5 2 each).
SLOWFAST_STRIDE: int = 32
#: VGG16's 2 x 2 max-poolings; each spectrogram side must be at least 2 ** VGG16_POOLINGS.
VGG16_POOLINGS: int = 5
#: The geometry's fields, paper or ours (also the keys of a build config's ``geometry`` section).
FIELD_SOURCES: dict[str, str] = {
    "window_s": "paper", "fps": "paper", "imu_rate_hz": "paper", "nfft": "paper", "hop": "ours",
    "frame_size": "paper",
}
#: Keys that earlier configs (or a guess) gave a stage or the trainer, and where each now lives in the geometry.
FORMER_KEYS: dict[str, str] = {
    "window_s": "window_s", "clip_seconds": "window_s", "out_fps": "fps", "fps": "fps",
    "n_frames": "window_s x fps (derived)", "frames": "window_s x fps (derived)",
    "size": "frame_size (and video.short_side for the resize)", "crop": "frame_size", "frame_size": "frame_size",
    "rate_hz": "imu_rate_hz", "imu_rate_hz": "imu_rate_hz", "n_samples": "window_s x imu_rate_hz (derived)",
    "nfft": "nfft", "hop": "hop", "geometry": "the section itself",
}
#: Every rule the stages rely on, as stated to users (README, errors).
RULES: dict[str, str] = {
    "frames": "frames = window_s x fps must be a whole number",
    "imu_len": "imu_len = window_s x imu_rate_hz must be a whole number",
    "nfft": "nfft must be even, hop <= nfft, and nfft / 2 < imu_len (reflect padding of the centred STFT)",
    "alpha": f"frames must be divisible by SlowFast's alpha = {SLOWFAST_ALPHA} (the slow pathway sees frames / alpha)",
    "frame_size": f"frame_size must be >= {SLOWFAST_STRIDE} (SlowFast-R50's total stride)",
    "vgg": f"both spectrogram sides (nfft // 2 + 1 bins, 1 + imu_len // hop frames) must be >= "
           f"{2 ** VGG16_POOLINGS} for VGG16's {VGG16_POOLINGS} poolings",
    "lowpass": "the IMU low-pass cut-off must be below the IMU grid's Nyquist rate, imu_rate_hz / 2",
}


class GeometryError(ValueError):
    """An inconsistent clip geometry (or a setting that disagrees with it); the message names the fields."""


def _whole(x: float) -> int | None:
    """``x`` as an int when it is a whole number (to 1e-9), else None."""
    r = round(x)
    return int(r) if math.isfinite(x) and abs(x - r) < 1e-9 else None


@dataclass(frozen=True)
class ClipGeometry:
    """What a clip is. ``# paper`` = stated in arXiv 2110.01680, ``# ours`` = egoimu's choice."""

    window_s: float = 2.0  # paper: 2-second clips
    fps: int = 24  # paper: frames sampled at 24 fps
    imu_rate_hz: int = 198  # paper: 396 x 6 IMU samples per 2 s clip
    nfft: int = 64  # paper: spectrograms with nfft = 64
    hop: int = 8  # ours: 50 STFT frames for 396 samples
    frame_size: int = 256  # paper: 256 x 256 RGB frames

    def __post_init__(self) -> None:
        for name in ("fps", "imu_rate_hz", "nfft", "hop", "frame_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise GeometryError(f"geometry.{name} must be an integer, got {value!r}")
        if isinstance(self.window_s, bool) or not isinstance(self.window_s, int | float):
            raise GeometryError(f"geometry.window_s must be a number of seconds, got {self.window_s!r}")
        object.__setattr__(self, "window_s", float(self.window_s))  # 2 and 2.0: one config, one hash
        problems = self.structure_problems()
        if problems:
            raise GeometryError("; ".join(problems))

    # ------------------------------------------------------------------ derived values
    @property
    def frames(self) -> int:
        """Frames per clip, ``window_s x fps`` (48)."""
        return int(round(self.window_s * self.fps))

    @property
    def imu_len(self) -> int:
        """IMU samples per clip, ``window_s x imu_rate_hz`` (396)."""
        return int(round(self.window_s * self.imu_rate_hz))

    @property
    def spec_bins(self) -> int:
        """Frequency bins of the spectrogram, ``nfft // 2 + 1`` (33)."""
        return self.nfft // 2 + 1

    @property
    def spec_frames(self) -> int:
        """Time frames of the centred STFT, ``1 + imu_len // hop`` (50)."""
        return 1 + self.imu_len // self.hop

    @property
    def window(self) -> Fraction:
        """The clip's duration in seconds, exactly: ``frames / fps``."""
        return Fraction(self.frames, self.fps)

    # ------------------------------------------------------------------ rules
    def structure_problems(self) -> list[str]:
        """Violations of the structural rules (every geometry must satisfy them), each naming its fields."""
        out = []
        for name in ("window_s", "fps", "imu_rate_hz", "nfft", "hop", "frame_size"):
            if not getattr(self, name) > 0:
                out.append(f"geometry.{name} must be > 0, got {getattr(self, name)!r}")
        if out:
            return out
        if _whole(self.window_s * self.fps) is None:
            out.append(f"geometry.window_s x geometry.fps = {self.window_s} x {self.fps} = "
                       f"{self.window_s * self.fps:g}: {RULES['frames']}")
        if _whole(self.window_s * self.imu_rate_hz) is None:
            out.append(f"geometry.window_s x geometry.imu_rate_hz = {self.window_s} x {self.imu_rate_hz} = "
                       f"{self.window_s * self.imu_rate_hz:g}: {RULES['imu_len']}")
        elif self.nfft % 2 or self.hop > self.nfft or self.nfft // 2 >= self.imu_len:
            out.append(f"geometry.nfft = {self.nfft}, geometry.hop = {self.hop}, imu_len = {self.imu_len}: "
                       f"{RULES['nfft']}")
        return out

    def encoder_problems(self) -> list[str]:
        """Violations of what SlowFast-R50 and VGG16 rely on (checked when a build or train config loads)."""
        out = []
        if self.frames % SLOWFAST_ALPHA:
            out.append(f"frames = geometry.window_s x geometry.fps = {self.window_s} x {self.fps} = {self.frames}: "
                       f"{RULES['alpha']}")
        if self.frame_size < SLOWFAST_STRIDE:
            out.append(f"geometry.frame_size = {self.frame_size}: {RULES['frame_size']}")
        side = 2 ** VGG16_POOLINGS
        if min(self.spec_bins, self.spec_frames) < side:
            out.append(f"spectrogram {self.spec_bins} x {self.spec_frames} (geometry.nfft = {self.nfft}, "
                       f"geometry.hop = {self.hop}, imu_len = {self.imu_len}): {RULES['vgg']}")
        return out

    def lowpass_problem(self, lowpass_hz: float | None, name: str = "imu.lowpass_hz") -> str | None:
        """Why the low-pass cut-off ``lowpass_hz`` (Hz; None = no filter) cannot be used, or None."""
        if lowpass_hz is None or lowpass_hz < self.imu_rate_hz / 2:
            return None
        return (f"{name} = {lowpass_hz:g} Hz with geometry.imu_rate_hz = {self.imu_rate_hz}: {RULES['lowpass']} "
                f"= {self.imu_rate_hz / 2:g} Hz")

    # ------------------------------------------------------------------ text and dicts
    def describe(self) -> str:
        """One line: ``2 s at 24 fps: video 48 x 256² RGB; IMU 396 x 6 at 198 Hz; spectrogram 6 x 33 x 50``."""
        return (f"{self.window_s:g} s at {self.fps} fps: video {self.frames} x {self.frame_size}² RGB; "
                f"IMU {self.imu_len} x 6 at {self.imu_rate_hz} Hz; spectrogram 6 x {self.spec_bins} x "
                f"{self.spec_frames} (nfft {self.nfft}, hop {self.hop})")

    def to_dict(self) -> dict[str, Any]:
        """The six fields (JSON-ready)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any, source: str = "<config>") -> ClipGeometry:
        """From a (partial) mapping of the six fields; unknown keys and bad values are errors naming ``source``."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise GeometryError(f"{source}: section 'geometry' must be a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - set(FIELD_SOURCES))
        if unknown:
            raise GeometryError(f"{source}: unknown key(s) {unknown} in section 'geometry'; known: "
                                f"{list(FIELD_SOURCES)} (frames, imu_len and the spectrogram's shape are derived)")
        try:
            return cls(**data)
        except GeometryError as exc:
            raise GeometryError(f"{source}: {exc}") from None


DEFAULT_GEOMETRY = ClipGeometry()
