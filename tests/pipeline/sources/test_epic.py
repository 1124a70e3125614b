import pytest

from egoimu.pipeline.sources import epic, ids
from egoimu.pipeline.sources.epic import (
    BAD_ENCODING,
    BAD_TIMESTAMP,
    DUPLICATE_ID,
    MALFORMED_ROW,
    PARTICIPANT_MISMATCH,
    UNKNOWN_NOUN_CLASS,
    UNKNOWN_VERB_CLASS,
    AnnotationError,
    ClassEntry,
    parse_timestamp,
    read_annotations,
    read_class_ids,
    read_class_table,
)
from egoimu.pipeline.sources.ids import BAD_ID, ID_TOO_LONG

HEADER = ("narration_id,participant_id,video_id,narration_timestamp,start_timestamp,stop_timestamp,"
          "start_frame,stop_frame,narration,verb,verb_class,noun,noun_class,all_nouns,all_noun_classes\n")


def test_parse_timestamp():
    assert parse_timestamp("00:01:02.50") == pytest.approx(62.5)
    assert parse_timestamp("01:00:00.000") == 3600
    with pytest.raises(ValueError):
        parse_timestamp("1:2")


def test_reads_real_validation_file(shared_epic):
    verbs = read_class_ids(shared_epic / "EPIC_100_verb_classes.csv")
    segs, rej = read_annotations(shared_epic / "EPIC_100_validation.csv", verbs)
    assert len(segs) == 9668 and rej == []
    assert segs[0].narration_id == "P01_11_0" and segs[0].verb == "take" and segs[0].verb_class == 0
    assert segs[0].line == 2


def test_reads_timestamps_only_file_as_unlabelled(shared_epic):
    segs, rej = read_annotations(shared_epic / "EPIC_100_uda_target_train_timestamps.csv")
    assert len(segs) == 26115 and not rej
    assert all(s.verb_class == -1 for s in segs[:100])


def test_bad_rows_become_rejections_naming_line(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text(
        HEADER
        + "P01_101_0,P01,P01_101,00:00:01.000,00:00:01.00,00:00:02.00,50,100,take cup,take,0,cup,13,['cup'],[13]\n"
        + "P01_101_1,P01,P01_101,00:00:03.000,00:00:03.00\n"  # malformed: too few fields
        + "P01_101_2,P01,P01_101,,00:00:xx.00,00:00:04.00,150,200,take cup,take,0,cup,13,['cup'],[13]\n"
        + "P01_101_3,P01,P01_101,,00:00:05.00,00:00:06.00,250,300,zap,zap,999,cup,13,['cup'],[13]\n"
        + "P01_101_0,P01,P01_101,,00:00:05.00,00:00:06.00,250,300,take,take,0,cup,13,['cup'],[13]\n"
    )
    segs, rej = read_annotations(p, verb_classes=range(97))
    assert [s.narration_id for s in segs] == ["P01_101_0"]
    got = {(r.narration_id, r.reason, r.line) for r in rej}
    assert got == {("P01_101_1", MALFORMED_ROW, 3), ("P01_101_2", BAD_TIMESTAMP, 4),
                   ("P01_101_3", UNKNOWN_VERB_CLASS, 5), ("P01_101_0", DUPLICATE_ID, 6)}
    assert len(segs) + len(rej) == 5


def test_unreadable_files_raise_naming_file(tmp_path):
    with pytest.raises(AnnotationError, match="missing.csv"):
        read_annotations(tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(AnnotationError, match="empty.csv, line 1"):
        read_annotations(empty)
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    with pytest.raises(AnnotationError, match="required column"):
        read_annotations(bad)


# ---- hardening: every bad row is a rejection naming file and line; nothing crashes ----------------------------

def _row(nid="P01_101_0", pid="P01", vid="P01_101", vc="0", nc="13", narration="take cup"):
    return f"{nid},{pid},{vid},,00:00:01.00,00:00:02.00,50,100,{narration},take,{vc},cup,{nc},['cup'],[13]\n"


def _read(tmp_path, rows, **kw):
    p = tmp_path / "a.csv"
    p.write_bytes(HEADER.encode() + b"".join(r if isinstance(r, bytes) else r.encode() for r in rows))
    segs, rej = read_annotations(p, **kw)
    assert len(segs) + len(rej) == len(rows)  # every data row accounted for
    return segs, rej


def _got(rej):
    return [(r.narration_id, r.reason, r.source, r.line) for r in rej]


def test_participant_must_be_its_videos(tmp_path):
    segs, rej = _read(tmp_path, [
        _row("P02_101_0", "P02", "P02_101"),
        _row("P02_101_1", "P03", "P02_101"),  # the split leak of issue 12: P03's split, P02's file
        _row("P02_101_2", "../x", "P02_101"),
        _row("P02_101_3", "P02", "../x"),
        _row("P02_101_4", "../x", "../x_101"),  # agree, but not a file-name part
        _row("P02_101_5", "P02", "P02_1/../../etc"),
    ])
    assert [s.narration_id for s in segs] == ["P02_101_0"]
    assert _got(rej) == [("P02_101_1", PARTICIPANT_MISMATCH, "a.csv", 3),
                         ("P02_101_2", PARTICIPANT_MISMATCH, "a.csv", 4),
                         ("P02_101_3", PARTICIPANT_MISMATCH, "a.csv", 5), ("P02_101_4", BAD_ID, "a.csv", 6),
                         ("P02_101_5", BAD_ID, "a.csv", 7)]
    assert rej[0].detail == ("participant_id 'P03' disagrees with video_id 'P02_101' (participant 'P02', found "
                             "under P02/videos/)")
    assert (rej[0].participant_id, rej[0].video_id) == ("P03", "P02_101")
    assert "'../x'" in rej[1].detail and "'P02_101'" in rej[1].detail
    assert rej[4].detail.startswith("video_id 'P02_1/../../etc' is not a plain file-name part")


def test_ids_longer_than_the_shard_fields_are_rejected(tmp_path):
    long_pid = "P" * 301
    segs, rej = _read(tmp_path, [
        _row("n" * 32, "P01", "P01_101"),  # exactly the narration_id width: kept
        _row("n" * 33, "P01", "P01_101"),
        _row("P01_101_1", long_pid, "P01_101"),
        _row("P01_101_2", "P" + "é" * 8, "P01_101"),  # 9 characters, 17 bytes
        _row("P01_101_3", "P01", "P01_" + "1" * 29),
        _row("P01_101_\x004", "P01", "P01_101"),
    ])
    assert [s.narration_id for s in segs] == ["n" * 32]
    assert _got(rej) == [("n" * 33, ID_TOO_LONG, "a.csv", 3), ("P01_101_1", ID_TOO_LONG, "a.csv", 4),
                         ("P01_101_2", ID_TOO_LONG, "a.csv", 5), ("P01_101_3", ID_TOO_LONG, "a.csv", 6),
                         ("P01_101_\\x004", BAD_ID, "a.csv", 7)]
    assert rej[0].detail.startswith("narration_id 'nnnn") and rej[0].detail.endswith(
        "is 33 bytes (UTF-8); the shard's narration_id field holds 32")
    assert rej[1].detail.endswith("is 301 bytes (UTF-8); the shard's participant_id field holds 16")
    assert rej[2].detail.endswith("is 17 bytes (UTF-8); the shard's participant_id field holds 16")
    assert rej[3].detail.endswith("is 33 bytes (UTF-8); the shard's video_id field holds 32")
    assert rej[4].detail == r"narration_id 'P01_101_\x004' holds a control character"


def test_class_ids_out_of_range_are_rejected(tmp_path):
    segs, rej = _read(tmp_path, [
        _row("a", vc="-5"), _row("b", vc="-1"), _row("c", vc="97"), _row("d", vc=str(2**31)),
        _row("e", nc="-5"), _row("f", nc="300"), _row("g", vc="x"), _row("h", vc="", nc=""), _row("i", vc="96"),
    ], verb_classes=range(97), noun_classes=range(300))
    assert [(s.narration_id, s.verb_class, s.noun_class) for s in segs] == [("h", -1, -1), ("i", 96, 13)]
    assert _got(rej) == [("a", UNKNOWN_VERB_CLASS, "a.csv", 2), ("b", UNKNOWN_VERB_CLASS, "a.csv", 3),
                         ("c", UNKNOWN_VERB_CLASS, "a.csv", 4), ("d", UNKNOWN_VERB_CLASS, "a.csv", 5),
                         ("e", UNKNOWN_NOUN_CLASS, "a.csv", 6), ("f", UNKNOWN_NOUN_CLASS, "a.csv", 7),
                         ("g", MALFORMED_ROW, "a.csv", 8)]
    assert rej[0].detail == "verb_class -5 ('take') is negative (an empty field means unlabelled)"
    assert rej[2].detail == "verb_class 97 ('take') is not among the 97 known verb classes"
    assert rej[3].detail == "verb_class 2147483648 ('take') is beyond the int32 the shards store"
    # without a class table any id up to int32 is taken, a negative one never
    segs, rej = _read(tmp_path, [_row("a", vc="-5"), _row("b", vc="500"), _row("c", vc=str(2**31))])
    assert [s.verb_class for s in segs] == [500] and [r.line for r in rej] == [2, 4]


def test_utf8_with_a_bom_is_read(tmp_path, shared_epic):
    p = tmp_path / "bom.csv"
    p.write_bytes(b"\xef\xbb\xbf" + (shared_epic / "EPIC_100_validation.csv").read_bytes())
    segs, rej = read_annotations(p, read_class_ids(shared_epic / "EPIC_100_verb_classes.csv"))
    assert len(segs) == 9668 and rej == [] and segs[0].narration_id == "P01_11_0"


def test_undecodable_bytes_reject_that_line_only(tmp_path):
    segs, rej = _read(tmp_path, [
        _row("a"),
        _row("b", narration="caf\xe9").encode("latin-1"),  # one Latin-1 byte
        _row("c\xe9", vc="0").encode("latin-1"),  # in the id itself
        _row("d", narration="café"),  # UTF-8: fine
    ])
    assert [s.narration_id for s in segs] == ["a", "d"] and segs[1].verb == "take"
    assert _got(rej) == [("b", BAD_ENCODING, "a.csv", 3), ("c\ufffd", BAD_ENCODING, "a.csv", 4)]
    assert rej[0].detail == "column 'narration' holds byte(s) 0xe9 that are not UTF-8 (annotation files must be UTF-8)"
    assert rej[1].detail.startswith("column 'narration_id' holds byte(s) 0xe9")
    for r in rej:  # what goes into clips.csv must be writable as UTF-8
        (r.narration_id + r.participant_id + r.video_id + r.detail).encode("utf-8")


def test_an_unterminated_quote_rejects_its_own_line_only(tmp_path):
    """A quote left open carried the csv module over the following lines: the rows up to the next quote vanished
    (not counted, not rejected) or, at the end of the file, all of them."""
    for after in ([_row("c"), _row("d", narration='say "hi" twice'), _row("e")], [_row("c"), _row("d")]):
        segs, rej = _read(tmp_path, [_row("a"), _row("b", narration='"take the cup'), *after])
        assert [s.narration_id for s in segs] == ["a", *"cde"[:len(after)]]
        assert _got(rej) == [("a.csv:3", MALFORMED_ROW, "a.csv", 3)]
        assert rej[0].detail == "a quoted field is not closed on its line (unterminated quote; a record is one line)"


def test_a_header_that_is_not_utf8_is_a_clear_error(tmp_path):
    p = tmp_path / "h.csv"
    p.write_bytes(HEADER.replace("narration,", "narrati\xf3n,").encode("latin-1") + _row().encode())
    with pytest.raises(AnnotationError,
                       match=r"h\.csv, line 1: the header is not UTF-8 \(undecodable byte\(s\) 0xf3\)"):
        read_annotations(p)


def test_class_tables_of_both_datasets(shared_epic):
    v100 = read_class_table(shared_epic / "EPIC_100_verb_classes.csv")
    assert len(v100) == 97 and (v100[3].id, v100[3].key) == (3, "open") and "unzip" in v100[3].instances
    v55 = read_class_table(shared_epic.parent / "epic-kitchens-55" / "EPIC_verb_classes.csv")
    assert len(v55) == 125 and v55[2] == ClassEntry(2, "open", ("open", "unzip", "open-up"))
    assert read_class_ids(shared_epic.parent / "epic-kitchens-55" / "EPIC_verb_classes.csv") == list(range(125))


@pytest.mark.parametrize("body, line, message", [
    ("id,key,instances\n0,take,\"['take']\"\nx,put,\"['put']\"\n", 3, "bad class row"),
    ("id,key,instances\n0,take,\"['take']\"\n0,put,\"['put']\"\n", 3, "class id 0 appears twice"),
    ("id,key,instances\n0,take,\"[1, 2]\"\n", 2, "must be a list of strings"),
    ("id,key,instances\n0,take\n", 2, "not a 3-field UTF-8 row"),
    ("verb,name\n0,take\n", 1, "class file needs columns id,key"),
])
def test_bad_class_tables_name_file_and_line(tmp_path, body, line, message):
    p = tmp_path / "classes.csv"
    p.write_text(body)
    with pytest.raises(AnnotationError, match=rf"classes\.csv, line {line}: .*{message}"):
        read_class_table(p)


def test_every_source_reason_is_documented(repo_root):
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    reasons = [v for m in (epic, ids) for k, v in vars(m).items()
               if k.isupper() and isinstance(v, str) and v.islower() and v.isidentifier()]
    assert len(reasons) == 12
    assert [r for r in reasons if f"`{r}`" not in readme] == []
