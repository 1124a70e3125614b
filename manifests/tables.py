"""Column lists of the manifest tables (:mod:`egoimu.manifests.schema` validates, reads and writes them).

Each table is a tuple of :class:`Column` in file order; :data:`TABLES` maps the table name to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from egoimu.manifests.shardfmt import SPLITS

TIME_CONVENTIONS: tuple[str, str] = ("epic-payload", "sensor")  # how IMU Milliseconds were read (egoimu.pipeline.imu)
_HEX64 = r"[0-9a-f]{64}"
SYNC_MODES: tuple[str, ...] = ("assumed", "auto")  # egoimu build --sync (besides a TABLE file)
#: per recording, the sync model used: the build's mode, or ``table`` for a video with a --sync TABLE entry
RECORDING_SYNC_MODES: tuple[str, ...] = (*SYNC_MODES, "table")


@dataclass(frozen=True)
class Column:
    """One column: ``dtype`` is 'str', 'int' (int64) or 'float' (float64)."""

    name: str
    dtype: str
    choices: tuple[str, ...] | None = None  # str: allowed values
    nonempty: bool = False  # str: '' not allowed
    unique: bool = False
    nullable: bool = False  # float: NaN allowed
    minimum: float | None = None  # int/float: smallest allowed value
    pattern: str | None = None  # str: full-match regex for non-empty values
    relpath: bool = False  # str: a non-empty value must be a clean relative path


def _ids(*names: str) -> tuple[Column, ...]:
    return tuple(Column(n, "str", nonempty=True) for n in names)


_SPLIT_OR_EMPTY = (*SPLITS, "")
TABLES: dict[str, tuple[Column, ...]] = {
    "clips": (
        Column("clip_id", "str", nonempty=True, unique=True), Column("narration_id", "str"),
        *_ids("participant_id", "video_id"), Column("kind", "str", choices=("segment", "window")),
        Column("split", "str", choices=_SPLIT_OR_EMPTY),
        *(Column(n, "float", nullable=True, minimum=0.0) for n in ("seg_start_s", "seg_stop_s")),
        *(Column(n, "float", nullable=True, minimum=0.0) for n in ("start_s", "end_s")),
        Column("verb", "str"), Column("verb_class", "int", minimum=-1), Column("noun_class", "int", minimum=-1),
        Column("status", "str", choices=("written", "rejected")), Column("reason", "str"),
        Column("shard", "str", relpath=True), Column("row", "int", minimum=-1),
    ),
    "shards": (
        Column("shard", "str", nonempty=True, unique=True, relpath=True),
        Column("split", "str", choices=SPLITS), Column("n_clips", "int", minimum=1),
        Column("participants", "str", nonempty=True), Column("bytes", "int", minimum=0),
        Column("sha256", "str", nonempty=True, pattern=_HEX64),
        Column("config_sha256", "str", nonempty=True, pattern=_HEX64),
    ),
    "recordings": (
        Column("video_id", "str", nonempty=True, unique=True), *_ids("participant_id"),
        Column("split", "str", choices=_SPLIT_OR_EMPTY),
        *(Column(n, "str", relpath=True) for n in ("video_path", "accl_path", "gyro_path")),
        *(Column(n, "str", pattern=_HEX64) for n in ("video_sha256", "accl_sha256", "gyro_sha256")),
        *(Column(n, "int", minimum=-1) for n in ("fps_num", "fps_den", "n_frames")),
        Column("duration_s", "float", nullable=True, minimum=0.0),
        *(Column(n, "int", minimum=-1) for n in ("width", "height")),
        *(Column(n, "float", nullable=True, minimum=0.0) for n in ("accl_rate_hz", "gyro_rate_hz")),
        Column("imu_rate_correction", "float", nullable=True, minimum=0.0),
        Column("imu_offset_s", "float", nullable=True), Column("decoder", "str"),
        Column("status", "str", choices=("ok", "rejected")), Column("reason", "str"),
        *(Column(n, "str", choices=(*TIME_CONVENTIONS, "")) for n in ("accl_time_convention", "gyro_time_convention")),
        Column("sync_mode", "str", choices=(*RECORDING_SYNC_MODES, "")),
        Column("sync_offset_ms", "float", nullable=True), Column("sync_scale", "float", nullable=True, minimum=0.0),
        Column("sync_peak_r", "float", nullable=True), Column("sync_confidence", "float", nullable=True, minimum=0.0),
        Column("sync_fallback", "str"),
    ),
    "splits": (Column("participant_id", "str", nonempty=True, unique=True),
               Column("split", "str", choices=SPLITS)),
}
