"""The build's configuration: one frozen dataclass per stage, bundled in :class:`BuildConfig`.

Every field is marked ``# paper`` (stated in arXiv 2110.01680) or ``# ours`` (egoimu's choice) in the
stage's own module (:mod:`egoimu.pipeline.clips`, :mod:`egoimu.pipeline.video`, :mod:`egoimu.pipeline.imu`,
:mod:`egoimu.pipeline.spectrogram`) or here. The whole config is saved in ``manifest.json`` and its sha256
in every shard; settings that do not change the output (workers, scheduler) are not part of it.

The clip geometry (window, fps, IMU rate, nfft, hop, frame size: :mod:`egoimu.manifests.geometry`) is one
section, ``geometry``, stated once: the clip, video, IMU and spectrogram stages and the shard layout derive
their shapes from it, and a geometry key in another section (``video: {out_fps: 30}``) is refused with the
section to use instead. The geometry must satisfy every rule of the contract, including what SlowFast-R50
and VGG16 need, and ``imu.lowpass_hz`` must lie below its IMU Nyquist rate.

A YAML/JSON file given with ``--config`` holds any subset of the sections, e.g.::

    geometry: {window_s: 2, fps: 16}      # 32 frames a clip
    shard: {encoding: jpeg, clips_per_shard: 32}
    video: {backend: decord}
    imu: {max_gap_s: 0.2}
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egoimu.manifests.files import load_yaml_file
from egoimu.manifests.geometry import DEFAULT_GEOMETRY, FORMER_KEYS, ClipGeometry, GeometryError
from egoimu.manifests.schema import config_sha256
from egoimu.manifests.shardfmt import ENCODINGS
from egoimu.manifests.tables import SYNC_MODES
from egoimu.pipeline.clips import ClipConfig
from egoimu.pipeline.imu import ImuConfig
from egoimu.pipeline.spectrogram import SpecConfig
from egoimu.pipeline.video import VideoConfig

PAPER_RATIO = (30044, 3032, 4379)  # paper: train:validation:test clip counts of its own split
#: Sections whose stage derives its shapes from the geometry (each holds it as its ``geometry`` field).
STAGE_SECTIONS: tuple[str, ...] = ("clip", "video", "imu", "spec")


@dataclass(frozen=True)
class ShardConfig:
    """Shard files. All ours."""

    clips_per_shard: int = 64  # ours: ~600 MB raw shards at 256² (9.4 MB a clip)
    encoding: str = "raw"  # ours: raw | lossless (gzip-1) | jpeg
    jpeg_quality: int = 90  # ours: JPEG quality (encoding jpeg)

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ValueError(f"shard.encoding must be one of {ENCODINGS}, not {self.encoding!r}")
        if not _is_int(self.clips_per_shard) or self.clips_per_shard < 1:
            raise ValueError(f"shard.clips_per_shard must be an integer >= 1, got {self.clips_per_shard!r}")
        if not _is_int(self.jpeg_quality) or not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"shard.jpeg_quality must be an integer in 1..100, got {self.jpeg_quality!r}")


@dataclass(frozen=True)
class SplitConfig:
    """How participants are assigned to train/validation/test (subject-disjoint in every mode)."""

    mode: str = "planned"  # ours: planned | canonical | file | single (all clips in one split: DogCentric)
    ratio: tuple[int, int, int] = PAPER_RATIO  # paper: 30044:3032:4379 (mode planned)
    seed: int = 0  # ours: breaks exact ties of the planner
    file: str | None = None  # mode file: CSV participant_id,split

    def __post_init__(self) -> None:
        if self.mode not in ("planned", "canonical", "file", "single"):
            raise ValueError(f"split.mode must be planned, canonical, file or single, not {self.mode!r}")
        if self.mode == "file" and not self.file:
            raise ValueError("split.mode 'file' needs split.file")
        ratio = self.ratio
        if not (isinstance(ratio, tuple) and len(ratio) == 3 and all(_is_number(x) and x >= 0 for x in ratio)
                and sum(ratio) > 0):
            raise ValueError(f"split.ratio must be three finite numbers >= 0 with a positive sum "
                             f"(train:validation:test), got {ratio!r}")
        if not _is_int(self.seed) or not 0 <= self.seed < 2**63:
            raise ValueError(f"split.seed must be an integer in 0..2**63-1, got {self.seed!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


@dataclass(frozen=True)
class BuildConfig:
    """Everything that determines a build's output bytes.

    ``geometry`` is the one clip geometry; on construction it is handed to every stage section (their
    ``geometry`` fields always equal it), and the contract's rules are checked: a :class:`ValueError`
    (:class:`~egoimu.manifests.geometry.GeometryError`) names the fields and the rule.
    """

    geometry: ClipGeometry = DEFAULT_GEOMETRY  # paper: 2 s at 24 fps, 256², 198 Hz, nfft 64 (hop 8 ours)
    clip: ClipConfig = field(default_factory=ClipConfig)
    video: VideoConfig = field(default_factory=VideoConfig)
    imu: ImuConfig = field(default_factory=ImuConfig)
    spec: SpecConfig = field(default_factory=SpecConfig)
    shard: ShardConfig = field(default_factory=ShardConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    sync_table: str | None = None  # ours: CSV video_id,offset_s,scale overriding the estimated sync
    sync_mode: str = "assumed"  # ours: assumed (the prior model) | auto (measured; egoimu.pipeline.sync_estimate);
    # egoimu build sets each source's default (egoimu.pipeline.sources.sync_defaults) unless told otherwise

    def __post_init__(self) -> None:
        for name in STAGE_SECTIONS:  # derive: every stage sees the build's geometry
            section = getattr(self, name)
            if section.geometry != self.geometry:
                object.__setattr__(self, name, dataclasses.replace(section, geometry=self.geometry))
        problems = self.geometry.encoder_problems()
        lowpass = self.geometry.lowpass_problem(self.imu.lowpass_hz)
        if lowpass:
            problems.append(lowpass)
        if problems:
            raise GeometryError("; ".join(problems))
        if self.sync_mode not in SYNC_MODES:
            raise ValueError(f"sync_mode {self.sync_mode!r}: choose from {', '.join(SYNC_MODES)}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready nested dict (tuples become lists); the geometry appears once, as section ``geometry``."""
        out = json.loads(json.dumps(dataclasses.asdict(self)))
        for name in STAGE_SECTIONS:
            del out[name]["geometry"]
        if self.sync_mode == "assumed":  # the default is left out: configs (and hashes) of earlier builds stand
            del out["sync_mode"]
        return out

    def sha256(self) -> str:
        """sha256 of the canonical JSON of :meth:`to_dict` (written into every shard)."""
        return config_sha256(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<config>") -> BuildConfig:
        """Build from a (partial) nested dict; unknown sections or keys are errors naming them."""
        sections = {f.name: f for f in dataclasses.fields(cls)}
        data = dict(data or {})
        geometry = ClipGeometry.from_dict(data.pop("geometry", None), source)
        kwargs: dict[str, Any] = {"geometry": geometry}
        for name, value in data.items():
            if name not in sections:
                raise ValueError(f"{source}: unknown section {name!r}; known: {sorted(sections)}")
            if name in ("sync_table", "sync_mode"):
                kwargs[name] = value
                continue
            if not isinstance(value, dict):
                raise ValueError(f"{source}: section {name!r} must be a mapping, got {type(value).__name__}")
            misplaced = sorted(k for k in value if k in FORMER_KEYS and name in STAGE_SECTIONS)
            if misplaced:
                where = "; ".join(f"{name}.{k} -> geometry: {FORMER_KEYS[k]}" for k in misplaced)
                raise GeometryError(
                    f"{source}: {', '.join(f'{name}.{k}' for k in misplaced)}: the clip geometry is stated once, in "
                    f"section 'geometry' (every stage derives frames, samples and shapes from it), not per stage "
                    f"({where}; now {geometry.describe()})")
            sub = sections[name].default_factory  # type: ignore[misc]
            known = {f.name for f in dataclasses.fields(sub)} - {"geometry"}
            unknown = set(value) - known
            if unknown:
                raise ValueError(f"{source}: unknown key(s) {sorted(unknown)} in section {name!r}; "
                                 f"known: {sorted(known)}")
            fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
            if name in STAGE_SECTIONS:
                fixed["geometry"] = geometry
            try:
                kwargs[name] = sub(**fixed)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{source}: section {name!r}: {exc}") from exc
        try:
            return cls(**kwargs)
        except GeometryError as exc:
            raise GeometryError(f"{source}: {exc}") from None

    @classmethod
    def load(cls, path: str | Path) -> BuildConfig:
        """Read a YAML (or JSON) config file."""
        return cls.from_dict(read_config_file(path), str(path))

    def replace(self, **sections: Any) -> BuildConfig:
        """A copy with whole sections replaced."""
        return dataclasses.replace(self, **sections)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The sections of a YAML (or JSON) config file as a dict ({} for an empty file); ValueError naming the file
    when it is missing, not YAML or not a mapping."""
    data = load_yaml_file(path)
    if data is not None and not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of sections at the top level")
    return data or {}
