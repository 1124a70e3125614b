"""Column lists of the manifest tables (:mod:`egoimu.manifests.schema` validates, reads and writes them).

Each table is a tuple of :class:`Column` in file order; :data:`TABLES` maps the table name to it. Every column
carries its meaning (``doc``), the one description that the dataset card (OUT/README.md), manifests/README.md's
column tables and ``egoimu info`` show (:mod:`egoimu.manifests.card`).
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
    doc: str = ""  # what it means: the one description (dataset card, manifests/README.md, egoimu info)


_SPLIT_OR_EMPTY = (*SPLITS, "")
_UNKNOWN = "(int -1 / float empty when unknown)"
TABLES: dict[str, tuple[Column, ...]] = {
    "clips": (
        Column("clip_id", "str", nonempty=True, unique=True,
               doc="the clip's id: the annotation's narration_id for a segment, `<video_id>_w<start ms>` for an "
                   "unlabelled window; for a row rejected before planning, the annotation row or file it came from"),
        Column("narration_id", "str", doc="the annotation's narration_id ('' for a window; Ego4D: the "
                                          "annotation_uid without its hyphens)"),
        Column("participant_id", "str", nonempty=True, doc="the participant (EPIC `P01`, a DogCentric dog, a GoPro "
                                                           "wearer, Ego4D's `fb_participant_id`); `unknown` when the "
                                                           "row named none"),
        Column("video_id", "str", nonempty=True, doc="the source video (`unknown` when the row named none; Ego4D: "
                                                     "the video_uid without its hyphens, 32 hex digits)"),
        Column("kind", "str", choices=("segment", "window"),
               doc="segment: one labelled annotation segment; window: an unlabelled window (`--ssl-windows`)"),
        Column("split", "str", choices=_SPLIT_OR_EMPTY,
               doc="train, validation or test (its participant's, splits.csv); '' when rejected before splitting"),
        Column("seg_start_s", "float", nullable=True, minimum=0.0,
               doc="the annotated segment's start, seconds on the video timeline (empty for a window)"),
        Column("seg_stop_s", "float", nullable=True, minimum=0.0, doc="the annotated segment's stop, seconds"),
        Column("start_s", "float", nullable=True, minimum=0.0,
               doc="the clip window's start, seconds on the video timeline (centred on the segment, on the 1/fps "
                   "grid); empty only when rejected before placing"),
        Column("end_s", "float", nullable=True, minimum=0.0, doc="the clip window's end: start_s + the window (2 s)"),
        Column("verb", "str", doc="the annotation's raw verb as written (`pick-up`); the class key names the class; "
                                  "Ego4D: the narration's whole text (`#C C picks a bag`), verb_class -1"),
        Column("verb_class", "int", minimum=-1,
               doc="verb class id (EPIC_100_verb_classes.csv `id`; its `key` names it, manifest.json "
                   "`source.class_names`); -1 = unlabelled"),
        Column("noun_class", "int", minimum=-1, doc="noun class id (EPIC_100_noun_classes.csv); -1 = unlabelled"),
        Column("status", "str", choices=("written", "rejected"), doc="written into a shard, or rejected"),
        Column("reason", "str", doc="the rejection reason, a stable snake_case name (README); '' when written"),
        Column("shard", "str", relpath=True, doc="the shard holding the clip, relative to OUT; '' when rejected"),
        Column("row", "int", minimum=-1, doc="the clip's row in its shard (0-based); -1 when rejected"),
    ),
    "shards": (
        Column("shard", "str", nonempty=True, unique=True, relpath=True,
               doc="the shard's path relative to OUT: `shards/<split>/<split>-NNNNN.h5`"),
        Column("split", "str", choices=SPLITS, doc="the split of every clip in it"),
        Column("n_clips", "int", minimum=1, doc="clips (rows) in the shard"),
        Column("participants", "str", nonempty=True, doc="its clips' participants, sorted, `;`-joined"),
        Column("bytes", "int", minimum=0, doc="the file's size in bytes"),
        Column("sha256", "str", nonempty=True, pattern=_HEX64, doc="the file's sha256 (64 hex)"),
        Column("config_sha256", "str", nonempty=True, pattern=_HEX64,
               doc="the build config's sha256 (= manifest.json's and the shard's attribute)"),
    ),
    "recordings": (
        Column("video_id", "str", nonempty=True, unique=True, doc="the source video"),
        Column("participant_id", "str", nonempty=True, doc="its participant"),
        Column("split", "str", choices=_SPLIT_OR_EMPTY, doc="its participant's split ('' when it has none)"),
        Column("video_path", "str", relpath=True, doc="the video file, relative to the dataset root"),
        Column("accl_path", "str", relpath=True, doc="the accelerometer CSV, relative to the root ('' video-only)"),
        Column("gyro_path", "str", relpath=True, doc="the gyroscope CSV, relative to the root ('' video-only)"),
        Column("video_sha256", "str", pattern=_HEX64, doc="sha256 of the video file's content"),
        Column("accl_sha256", "str", pattern=_HEX64, doc="sha256 of the accelerometer file's content"),
        Column("gyro_sha256", "str", pattern=_HEX64, doc="sha256 of the gyroscope file's content"),
        Column("fps_num", "int", minimum=-1, doc=f"the video's frame rate as a fraction: numerator {_UNKNOWN}"),
        Column("fps_den", "int", minimum=-1, doc="the frame rate's denominator (30000/1001 = 29.97 fps)"),
        Column("n_frames", "int", minimum=-1, doc=f"decodable frames {_UNKNOWN}"),
        Column("duration_s", "float", nullable=True, minimum=0.0, doc=f"the video's duration, seconds {_UNKNOWN}"),
        Column("width", "int", minimum=-1, doc=f"frame width in pixels {_UNKNOWN}"),
        Column("height", "int", minimum=-1, doc=f"frame height in pixels {_UNKNOWN}"),
        Column("accl_rate_hz", "float", nullable=True, minimum=0.0, doc="the accelerometer's estimated rate, Hz"),
        Column("gyro_rate_hz", "float", nullable=True, minimum=0.0, doc="the gyroscope's estimated rate, Hz"),
        Column("imu_rate_correction", "float", nullable=True, minimum=0.0,
               doc="the sync model's scale: IMU time x scale + offset = video time"),
        Column("imu_offset_s", "float", nullable=True, doc="the sync model's offset, seconds"),
        Column("decoder", "str", doc="the video decoder used (ffmpeg | decord); '' when rejected"),
        Column("status", "str", choices=("ok", "rejected"), doc="ok, or rejected (its clips rejected with it)"),
        Column("reason", "str", doc="the rejection reason ('' when ok)"),
        Column("accl_time_convention", "str", choices=(*TIME_CONVENTIONS, ""),
               doc="how the accelerometer file's Milliseconds were read: epic-payload | sensor ('' when not read)"),
        Column("gyro_time_convention", "str", choices=(*TIME_CONVENTIONS, ""),
               doc="the same for the gyroscope file"),
        Column("sync_mode", "str", choices=(*RECORDING_SYNC_MODES, ""),
               doc="the recording's sync model: assumed | auto | table (a --sync TABLE entry); '' when its IMU was "
                   "not read"),
        Column("sync_offset_ms", "float", nullable=True,
               doc="`--sync auto`: the measured offset, ms (empty when not measured)"),
        Column("sync_scale", "float", nullable=True, minimum=0.0, doc="`--sync auto`: the measured scale"),
        Column("sync_peak_r", "float", nullable=True,
               doc="`--sync auto`: the correlation of image motion and gyroscope at the estimate"),
        Column("sync_confidence", "float", nullable=True, minimum=0.0, doc="`--sync auto`: the estimate's confidence"),
        Column("sync_fallback", "str",
               doc="why `auto` kept the assumed model; '' when the estimate was used or not measured"),
    ),
    "splits": (Column("participant_id", "str", nonempty=True, unique=True, doc="a participant"),
               Column("split", "str", choices=SPLITS, doc="its split: every clip of it lies there")),
}
#: The last column of every table (its value: the manifest schema version), dropped when read.
VERSION_DOC = "the manifest schema version (manifest.json `schema_version`) on every row"
