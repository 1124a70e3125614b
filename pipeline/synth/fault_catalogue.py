"""The fault catalogue: every kind of bad input egoimu's fault-injection suite plants, and the exact outcome each must
have. One place for the tests, the planters and ``egoimu synth epic --faults all``.

A :class:`FaultKind` names the fault (``kind``), the stage that must catch it, the ``expected`` outcome — a clips.csv
rejection reason (the stage modules' constants), :data:`WRITTEN` for an input that must be handled (a symlinked
source, a byte-order mark), or, for faults outside a build's rows, the error or audit finding — and the test that
asserts it. Where the fault is planted:

- :data:`GENERATOR`: ``egoimu synth epic --faults`` (:mod:`egoimu.pipeline.synth.faults`, the first nine kinds);
- :data:`PLANTER`: :func:`egoimu.pipeline.synth.fault_planters.plant_catalogue` (``--faults all`` adds them);
- :data:`IN_TEST`: the named test makes the fault itself (a bad argument, a file planted in a build's output).

The generator's and the planters' kinds are planted together into one synthetic root and built once; each is
asserted over its ``scope``: ``row`` (the planted row's clip), ``video`` (every clip of the planted video) or
``window`` (the clips whose window meets the planted IMU gap: rejected; the others of that video: written).
"""

from __future__ import annotations

from dataclasses import dataclass

from egoimu.pipeline.clips import SEGMENT_OUTSIDE_VIDEO, VIDEO_TOO_SHORT
from egoimu.pipeline.imu_csv import NON_FINITE_IMU
from egoimu.pipeline.recordings import (
    IMU_NOT_SPANNING,
    IMU_UNREADABLE,
    ROTATED_VIDEO,
    VIDEO_TRUNCATED,
    VIDEO_UNREADABLE,
)
from egoimu.pipeline.shard_writer import DECODE_ERROR, IMU_WINDOW
from egoimu.pipeline.sources.epic import (
    BAD_ENCODING,
    BAD_TIMESTAMP,
    DUPLICATE_ID,
    MALFORMED_ROW,
    NO_IMU,
    NO_VIDEO_FILE,
    PARTICIPANT_MISMATCH,
    UNKNOWN_NOUN_CLASS,
    UNKNOWN_VERB_CLASS,
    UNMAPPED_VERB,
)
from egoimu.pipeline.sources.ids import BAD_ID, ID_TOO_LONG

#: The outcome of an input that must be handled: its clips are written (clips.csv status).
WRITTEN = "written"
GENERATOR, PLANTER, IN_TEST = "egoimu synth epic --faults", "fault_planters", "the test"
BUILD_TEST = "tests/pipeline/test_faults.py::test_every_planted_fault_has_its_exact_outcome"
STOP_TEST = "tests/pipeline/test_faults.py::test_unreadable_annotation_inputs_stop_before_any_work"
ARGS_TEST = "tests/pipeline/test_build_args.py::test_bad_arguments_stop_before_any_work"
TRAIN_ARGS_TEST = "tests/train/test_config.py::test_bad_values_stop_with_one_line"
LEFTOVER_TEST = "tests/manifests/test_audit_files.py::test_each_leftover_is_reported_exactly"
EMPTY_TEST = "tests/pipeline/test_build.py::test_empty_outcomes_write_every_rejection_and_the_corrected_build_reruns"


@dataclass(frozen=True)
class FaultKind:
    """One kind of fault. ``evidence``: for a kind asserted by a test outside the suite's own file, text that its
    test file holds where it plants the fault (checked, so that the reference cannot silently go stale)."""

    kind: str
    stage: str  # sources | probe | plan | shards | command | train | audit | resume
    expected: str  # a clips.csv reason, WRITTEN, or the error / finding
    planted_by: str  # GENERATOR | PLANTER | IN_TEST
    test: str  # 'path::function' of the test asserting it
    what: str  # the fault, in words
    scope: str = ""  # row | video | window (planted kinds); '' otherwise
    evidence: str = ""


def _gen(kind: str, stage: str, expected: str, scope: str, what: str) -> FaultKind:
    return FaultKind(kind, stage, expected, GENERATOR, BUILD_TEST, what, scope)


def _row(kind: str, expected: str, what: str, stage: str = "sources") -> FaultKind:
    return FaultKind(kind, stage, expected, PLANTER, BUILD_TEST, what, "row")


def _video(kind: str, stage: str, expected: str, what: str) -> FaultKind:
    return FaultKind(kind, stage, expected, PLANTER, BUILD_TEST, what, "video")


def _refs(test: str, stage: str, *rows: tuple[str, str, str, str]) -> tuple[FaultKind, ...]:
    """The kinds ``test`` asserts: rows of ``(kind, expected, evidence, what)``."""
    return tuple(FaultKind(kind, stage, expected, IN_TEST, test, what, "", evidence)
                 for kind, expected, evidence, what in rows)


def _stop(kind: str, expected: str, what: str) -> FaultKind:
    return FaultKind(kind, "sources", expected, IN_TEST, STOP_TEST, what)


CATALOGUE: tuple[FaultKind, ...] = (
    # --- the generator's nine (egoimu synth epic --faults) ---
    _gen("truncated_mp4", "probe", VIDEO_TRUNCATED, "video", "MP4 cut to 60 % of its bytes"),
    _gen("missing_gyro", "sources", NO_IMU, "video", "the gyro file deleted"),
    _gen("empty_accl", "probe", IMU_UNREADABLE, "video", "the accl file reduced to its header"),
    _gen("imu_gap", "shards", IMU_WINDOW, "window", "0.8 s of rows removed from both IMU files"),
    _gen("nan_rows", "probe", WRITTEN, "video", "3 gyro rows of NaN (dropped and counted)"),
    _gen("non_monotonic_ms", "probe", IMU_UNREADABLE, "video", "one accl payload re-stamped 1000 ms early"),
    _gen("segment_past_end", "plan", SEGMENT_OUTSIDE_VIDEO, "row", "a segment ending 2 s past the video"),
    _gen("unknown_verb_class", "sources", UNKNOWN_VERB_CLASS, "row", "verb_class 97, in no verb table"),
    _gen("malformed_row", "sources", MALFORMED_ROW, "row", "an unquoted comma: 16 fields"),
    # --- annotation rows (fault_planters: one appended row each) ---
    _row("unterminated_quote", MALFORMED_ROW, "a quote that never closes (the rows after it are still read)"),
    _row("participant_mismatch", PARTICIPANT_MISMATCH, "P01 on a P03 video: the split leak of issue 12"),
    _row("participant_path", PARTICIPANT_MISMATCH, "participant_id '../x'"),
    _row("video_id_path", BAD_ID, "video_id 'P03_1/../../etc'"),
    _row("narration_id_too_long", ID_TOO_LONG, "a 33-byte narration_id (field: 32)"),
    _row("participant_id_too_long", ID_TOO_LONG, "a 301-character participant_id (field: 16 bytes)"),
    _row("verb_class_negative", UNKNOWN_VERB_CLASS, "verb_class -5"),
    _row("verb_class_beyond_int32", UNKNOWN_VERB_CLASS, "verb_class 2**31"),
    _row("noun_class_unknown", UNKNOWN_NOUN_CLASS, "noun_class 99999, not in ROOT's noun table"),
    _row("class_not_integer", MALFORMED_ROW, "verb_class '3.5'"),
    _row("timestamp_not_hms", BAD_TIMESTAMP, "start '00:00:xx.00'"),
    _row("timestamp_minute_61", BAD_TIMESTAMP, "start '00:61:00.00'"),
    _row("stop_before_start", BAD_TIMESTAMP, "stop 1 s before start"),
    _row("empty_video_id", MALFORMED_ROW, "video_id ''"),
    _row("segment_zero_length", WRITTEN, "start = stop (a clip centred on that instant)", "plan"),
    _row("segment_after_video", SEGMENT_OUTSIDE_VIDEO, "a segment starting after the video's end", "plan"),
    _row("no_video_file", NO_VIDEO_FILE, "a row of a video that has no file"),
    _row("latin1_byte", BAD_ENCODING, "one Latin-1 byte in a narration"),
    _row("nul_in_id", BAD_ID, "a NUL byte in a narration_id"),
    _row("nul_in_narration", WRITTEN, "a NUL byte in the narration (free text)"),
    _row("control_char_in_verb", WRITTEN, "an escape character in the raw verb (stored as it is in clips.csv)"),
    _row("field_over_csv_limit", MALFORMED_ROW, "a 200,000-character narration (csv's field limit: 131,072)"),
    _row("duplicate_id", DUPLICATE_ID, "a narration_id twice in one file"),
    _row("duplicate_id_across_files", DUPLICATE_ID, "a train narration_id again in the validation file"),
    _row("bom_annotation_file", WRITTEN, "EPIC_100_validation.csv with a UTF-8 byte-order mark"),
    # --- videos (fault_planters: a copy of a clean recording each) ---
    _video("zero_byte_mp4", "probe", VIDEO_UNREADABLE, "an MP4 of 0 bytes"),
    _video("text_as_mp4", "probe", VIDEO_UNREADABLE, "a text file named .MP4"),
    _video("audio_only_mp4", "probe", VIDEO_UNREADABLE, "an MP4 with no video stream"),
    _video("rotated_video", "probe", ROTATED_VIDEO, "display matrix rotated 180 degrees"),
    _video("garbled_video_packet", "shards", DECODE_ERROR, "one packet garbled: its frame does not decode"),
    _video("dangling_video_link", "sources", NO_VIDEO_FILE, "the MP4 a link to nothing"),
    _video("symlinked_video", "probe", WRITTEN, "the MP4 a link out of ROOT (manifests: the link's path)"),
    _video("symlinked_imu", "probe", WRITTEN, "both IMU files links out of ROOT"),
    _video("video_too_short", "plan", VIDEO_TOO_SHORT, "video and IMU of 1.5 s (a clip needs 2 s)"),
    _video("lowercase_mp4_extension", "sources", WRITTEN, "PXX_1YY.mp4"),
    _video("imu_non_numeric", "probe", IMU_UNREADABLE, "AcclX 'abc' on one line"),
    _video("imu_wrong_header", "probe", IMU_UNREADABLE, "gyro header ending GyroW"),
    _video("imu_extra_field", "probe", IMU_UNREADABLE, "a line of 5 fields"),
    _video("imu_zero_bytes", "probe", IMU_UNREADABLE, "an accl file of 0 bytes"),
    _video("imu_latin1_byte", "probe", IMU_UNREADABLE, "a Latin-1 byte in a gyro value"),
    _video("imu_constant_ms", "probe", IMU_UNREADABLE, "every Milliseconds value the same"),
    _video("imu_1e308", "probe", NON_FINITE_IMU, "GyroY 1e308 (inf as float32)"),
    _video("accl_gyro_lengths_differ", "probe", IMU_NOT_SPANNING, "the gyro file half as long as the accl file"),
    _video("imu_ends_early", "probe", IMU_NOT_SPANNING, "both IMU files stop 2 s before the video"),
    _video("imu_crlf", "probe", WRITTEN, "an IMU file with \\r\\n line ends"),
    _video("imu_bom", "probe", WRITTEN, "an IMU file with a UTF-8 byte-order mark"),
    # --- inputs that stop the build before any work (exit 2, one line naming the file and line) ---
    _stop("annotation_file_missing", "cannot open annotation file", "--annotations names no file"),
    _stop("annotation_file_empty", "line 1: empty file: no header", "an annotation file of 0 bytes"),
    _stop("annotation_header_lacks_column", "line 1: header lacks required column(s)", "no stop_timestamp"),
    _stop("annotation_header_not_utf8", "line 1: the header is not UTF-8", "a Latin-1 byte in the header"),
    _stop("class_file_bad_row", "line 3: bad class row", "EPIC_100_verb_classes.csv with a non-integer id"),
    _stop("epic55_labels_without_mapping", "EPIC-55 labels", "a labelled EPIC-55 file, no class file, no map"),
    # --- asserted by other tests (referenced, not repeated): (kind, expected, evidence, what) ---
    *_refs("tests/pipeline/sources/test_epic55.py::test_real_sample_maps_by_the_raw_verb", "sources",
           ("epic55_unmapped_verb", UNMAPPED_VERB, "UNMAPPED_VERB, SAMPLE_NAME", "EPIC-55 verb 'pour-up'")),
    *_refs(ARGS_TEST, "command",
           ("workers_not_positive", "exit 2: --workers: expected an integer >= 1", '["--workers", "-2"]',
            "--workers -2 (hung at 'probe 0%')"),
           ("ssl_windows_negative", "exit 2: --ssl-windows ... >= 1/24", '["--ssl-windows", "-1"]',
            "--ssl-windows -1 (planned a window every millisecond)"),
           ("clips_per_shard_zero", "exit 2: --clips-per-shard ... integer >= 1", '["--clips-per-shard", "0"]',
            "--clips-per-shard 0 (became 64)"),
           ("split_misspelled", "exit 2: --split: 'planed' is neither planned, canonical nor a file",
            '["--split", "planed"]', "--split planed"),
           ("sync_table_bad_row", "exit 2: --sync FILE ... line 3", '["--sync", str(bad_sync)]',
            "a sync table row with offset 'zero' (rejected every video)"),
           ("ratio_malformed", "exit 2: --ratio ... three integers", '["--ratio", "1:2"]', "--ratio 1:2")),
    *_refs(TRAIN_ARGS_TEST, "train",
           ("train_lr_inf", "exit 2: lr must be a finite number", '("lr=inf"', "lr=inf"),
           ("train_temperature_zero", "exit 2: temperature must be > 0", '("temperature=0"',
            "temperature=0 (a ZeroDivisionError)"),
           ("train_seed_20_digits", "exit 2: seed must be an integer in 0..2**63 - 1", 'f"seed={TWENTY_DIGITS}"',
            "a 20-digit seed")),
    *_refs("tests/train/test_loop.py::test_unwritable_checkpoint_is_one_line_and_resume_removes_leftovers", "train",
           ("train_disk_full", "exit 2: cannot write the checkpoint ... free space", "_file_size_limit(1 << 20)",
            "a checkpoint that cannot be written (a full disk)")),
    *_refs(EMPTY_TEST, "plan",
           ("no_clip_survives", "exit 2: manifest.json 'failed', every row in clips.csv", "no clip survived planning",
            "every row rejected before the shards"),
           ("no_train_clip", "no_train_clip (exit 2)", "no clip is planned for the train split",
            "a split file that leaves train empty")),
    *_refs("tests/pipeline/test_build.py::test_resume_moves_aside_what_it_did_not_write_and_removes_leftovers",
           "resume", ("foreign_shard_on_resume", "moved to OUT/orphaned/", "someone else's shard",
                      "a *.h5 under OUT/shards that the build did not write, at --resume")),
    *_refs(LEFTOVER_TEST, "audit",
           ("audit_leftover_temp_file", "audit out_files", "def shard_writer_temps(", "a killed worker's .tmp shard"),
           ("audit_stray_hdf5", "audit out_files", "def stray_hdf5(", "x.H5, OUT/extra.h5"),
           ("audit_unexpected_file", "audit out_files", "def unexpected_files(", "a file no build writes"),
           ("audit_sidecar_deleted", "audit sidecars", "def sidecar_deleted(", "a shard's .h5.json deleted"),
           ("audit_sidecar_edited", "audit sidecars", "def sidecar_edited(", "a shard's .h5.json edited")),
    *_refs("tests/manifests/test_audit.py::test_a_clip_of_another_participants_video_is_a_split_leak", "audit",
           ("audit_split_leak", "audit video_disjoint + ids_agree", '_plant_foreign_clip(out, kit, "video_id")',
            "a hand-edited build with one video in two splits")),
)

_BY_KIND = {k.kind: k for k in CATALOGUE}


def fault_kind(kind: str) -> FaultKind:
    """The catalogue's entry of ``kind`` (KeyError if there is none)."""
    return _BY_KIND[kind]


def expected_of(kind: str) -> str:
    """The outcome ``kind`` must have."""
    return _BY_KIND[kind].expected


def fault_record(kind: str, path: str, video_id: str, detail: str, **where: object) -> dict:
    """The ``faults.json`` record of a planted ``kind``: ``kind``, ``path`` (relative to the root), ``video_id``,
    ``where`` (``narration_id``, ``line``, ...), the catalogue's ``scope`` and ``expected`` outcome, ``detail``."""
    entry = _BY_KIND[kind]
    return {"kind": kind, "path": path, "video_id": video_id, **where, "scope": entry.scope,
            "expected": entry.expected, "detail": detail}


def planted_kinds() -> list[str]:
    """The kinds a synthetic root gets from the generator and the planters (asserted by one build)."""
    return [k.kind for k in CATALOGUE if k.planted_by in (GENERATOR, PLANTER)]
