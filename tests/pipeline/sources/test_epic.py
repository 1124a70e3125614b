import pytest

from egoimu.pipeline.sources.epic import (
    BAD_TIMESTAMP,
    DUPLICATE_ID,
    MALFORMED_ROW,
    UNKNOWN_VERB_CLASS,
    AnnotationError,
    parse_timestamp,
    read_annotations,
    read_class_ids,
)

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


def test_epic55_format(tmp_path):
    p = tmp_path / "EPIC_train_action_labels.csv"
    p.write_text("uid,participant_id,video_id,narration,start_timestamp,stop_timestamp,start_frame,stop_frame,"
                 "verb,verb_class,noun,noun_class,all_nouns,all_noun_classes\n"
                 "6,P01,P01_01,open door,00:00:00.14,00:00:03.37,8,202,open,3,door,8,['door'],[8]\n")
    segs, rej = read_annotations(p)
    assert not rej and segs[0].narration_id == "P01_01_uid6" and segs[0].verb_class == 3
