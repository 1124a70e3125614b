"""EPIC-55 labels → EPIC-100 classes, on the real files in ../shared/data (no Dask, no video)."""

import ast
import csv
import json
import shutil
from collections import Counter

import pytest

from egoimu.pipeline.build import epic_sources
from egoimu.pipeline.build import main as build_main
from egoimu.pipeline.manifest_writer import source_record
from egoimu.pipeline.sources.epic import (
    NO_VIDEO_FILE,
    UNKNOWN_VERB_CLASS,
    UNMAPPED_VERB,
    AnnotationError,
    read_annotations,
)
from egoimu.pipeline.sources.epic55 import load_mapping, mapping_record, read_verb_map

SAMPLE_NAME = "EPIC_train_action_labels_sample.csv"
#: The sample's five rows whose raw verb is in no EPIC-100 class's instances: (id, reason, file, line, verb).
UNMAPPED = [("P01_06_uid826", UNMAPPED_VERB, SAMPLE_NAME, 37, "pour-up"),
            ("P01_09_uid1167", UNMAPPED_VERB, SAMPLE_NAME, 52, "pour-up"),
            ("P20_04_uid22183", UNMAPPED_VERB, SAMPLE_NAME, 806, "inspect-on"),
            ("P24_01_uid29603", UNMAPPED_VERB, SAMPLE_NAME, 1116, "pour-up"),
            ("P30_04_uid36658", UNMAPPED_VERB, SAMPLE_NAME, 1401, "rinse-up")]
HEADER55 = ("uid,participant_id,video_id,narration,start_timestamp,stop_timestamp,start_frame,stop_frame,verb,"
            "verb_class,noun,noun_class,all_nouns,all_noun_classes\n")


@pytest.fixture(scope="module")
def epic55_dir(shared_epic):
    return shared_epic.parent / "epic-kitchens-55"


@pytest.fixture(scope="module")
def sample(epic55_dir):
    return epic55_dir / SAMPLE_NAME


def _owners(path):
    """raw instance -> the EPIC-100 class ids listing it, read here independently of egoimu's reader."""
    owners: dict[str, set[int]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            for raw in ast.literal_eval(row["instances"]):
                owners.setdefault(raw, set()).add(int(row["id"]))
    return owners


def _got(rej):
    return [(r.narration_id, r.reason, r.source, r.line, r.verb) for r in rej]


def test_real_sample_maps_by_the_raw_verb(shared_epic, sample):
    segs, rej = read_annotations(sample, epic55=load_mapping(shared_epic))
    assert (len(segs), len(rej)) == (1495, 5)
    assert _got(rej) == UNMAPPED
    assert rej[0].detail.startswith("EPIC-55 verb 'pour-up' (class 7) maps to no EPIC-100 verb class")
    verbs = _owners(shared_epic / "EPIC_100_verb_classes.csv")
    assert all(verbs[s.verb] == {s.verb_class} for s in segs)  # exactly one class, and that one
    # today's bug: the EPIC-55 id taken as an EPIC-100 id would give 876 of the 1,495 rows another verb's class
    assert sum(s.verb_class != s.epic55_verb_class for s in segs) == 876
    first = segs[0]  # uid 8, "open fridge": EPIC-55 class 2 'open'
    assert (first.narration_id, first.line, first.verb, first.epic55_verb_class) == ("P01_01_uid8", 2, "open", 2)
    assert first.verb_class == 3  # EPIC-100 'open', not 2 ('wash')
    assert {s.verb_class for s in segs if s.epic55_verb_class == 2} == {3}
    nouns = _owners(shared_epic / "EPIC_100_noun_classes.csv")
    assert [(s.line, s.noun) for s in segs if s.noun_class == -1] == [(334, "stuff:board"), (591, "bit:kiwi"),
                                                                     (1439, "tail")]
    assert all(nouns[s.noun] == {s.noun_class} for s in segs if s.noun_class >= 0)


def test_epic_sources_records_the_mapping(shared_epic, sample):
    rows, tasks, missing, record = epic_sources(shared_epic, [sample], with_imu=False)
    assert len(rows) == 1500 and tasks == []
    assert Counter(r.reason for r in rows) == {"": 1495, UNMAPPED_VERB: 5}
    bad = [r for r in rows if r.reason]
    assert [(r.clip_id, r.verb) for r in bad] == [(u[0], u[4]) for u in UNMAPPED]
    assert bad[0].detail.startswith(f"{SAMPLE_NAME} line 37: EPIC-55 verb 'pour-up'")
    assert {reason for reason, _ in missing.values()} == {NO_VIDEO_FILE}  # no videos in that folder
    verbs = record["verbs"]
    assert (verbs["rows_mapped"], verbs["rows_unmapped"]) == (1495, 5)
    assert verbs["unmapped_verbs"] == {"inspect-on": 1, "pour-up": 3, "rinse-up": 1}
    assert verbs["rows_by_source"] == {"instances": 1495}
    assert sum(verbs["rows_per_class"].values()) == 1495 and verbs["rows_per_class"]["3"] == 168
    assert verbs["epic100_from_epic55"]["3"] == {"2": 168}  # every EPIC-55 'open' row is EPIC-100 'open'
    assert record["nouns"] == {"rows_mapped": 1492, "rows_unlabelled": 3,
                               "unmapped_nouns": {"bit:kiwi": 1, "stuff:board": 1, "tail": 1}}
    assert record["files"] == [SAMPLE_NAME]
    assert record["sources"]["verb_classes"]["file"] == "EPIC_100_verb_classes.csv"
    assert record["sources"]["verb_map"] is None and record["sources"]["epic55_verb_classes"] is None
    source = json.loads(json.dumps(source_record(shared_epic, None, record), allow_nan=False))
    assert source["label_mapping"] == record and source["class_names"]["3"] == "open"
    assert source_record(shared_epic)["label_mapping"] is None


def test_without_epic100_classes_or_a_map_it_is_a_clear_error(tmp_path, sample, capsys):
    assert load_mapping(tmp_path) is None
    with pytest.raises(AnnotationError, match=rf"{SAMPLE_NAME}, line 1: EPIC-55 labels .* --verb-map CSV"):
        read_annotations(sample)
    rc = build_main([str(tmp_path), str(tmp_path / "out"), "--annotations", str(sample), "--video-only", "--quiet"])
    assert rc == 2 and "EPIC_100_verb_classes.csv in the dataset root" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    unlabelled = tmp_path / "EPIC_test_s1_timestamps.csv"  # EPIC-55 without labels needs no mapping
    unlabelled.write_text("uid,participant_id,video_id,start_timestamp,stop_timestamp,start_frame,stop_frame\n"
                          "1,P01,P01_11,00:00:00.00,00:00:01.00,0,60\n")
    segs, rej = read_annotations(unlabelled)
    assert rej == [] and (segs[0].narration_id, segs[0].verb_class, segs[0].epic55_verb_class) == ("P01_11_uid1", -1,
                                                                                                     None)


def test_a_raw_verb_map_comes_before_the_instances(shared_epic, sample, tmp_path):
    vmap = tmp_path / "verbs.csv"
    vmap.write_text("raw_verb,verb_class\npour-up,9\ninspect-on,24\nrinse-up,2\nopen,4\n")
    mapping = load_mapping(shared_epic, vmap)
    segs, rej = read_annotations(sample, epic55=mapping)
    assert (len(segs), rej) == (1500, [])
    assert {s.verb_class for s in segs if s.verb == "open"} == {4}  # the map wins over 'open' in class 3
    assert [s.verb_class for s in segs if s.line in (37, 806, 1401)] == [9, 24, 2]
    record = mapping_record(mapping, segs, rej)
    assert record["verbs"]["rows_by_source"] == {"instances": 1495 - 168, "verb_map": 5 + 168}
    assert record["sources"]["verb_map"]["file"] == "verbs.csv" and record["sources"]["verb_map"]["entries"] == 4


def test_a_class_map_alone_maps_verbs_and_leaves_nouns_unlabelled(sample, tmp_path):
    vmap = tmp_path / "classes.csv"
    vmap.write_text("epic55_class,epic100_class\n0,0\n2,3\n")
    mapping = load_mapping(tmp_path, vmap)  # no EPIC-100 class files in this root
    segs, rej = read_annotations(sample, epic55=mapping)
    assert (len(segs), len(rej)) == (303 + 168, 1500 - 303 - 168)
    assert Counter(s.verb_class for s in segs) == {0: 303, 3: 168} and {r.reason for r in rej} == {UNMAPPED_VERB}
    assert {s.noun_class for s in segs} == {-1}
    assert mapping_record(mapping, segs, rej)["nouns"]["rows_mapped"] == 0


def test_the_epic55_class_file_checks_the_rows_classes(shared_epic, epic55_dir, tmp_path):
    for name, folder in (("EPIC_100_verb_classes.csv", shared_epic), ("EPIC_verb_classes.csv", epic55_dir)):
        shutil.copy(folder / name, tmp_path / name)
    p = tmp_path / "labels.csv"
    p.write_text(HEADER55 + "8,P01,P01_01,open fridge,00:00:23.18,00:00:24.29,1390,1457,open,2,fridge,10,[],[]\n"
                            "9,P01,P01_01,open fridge,00:00:25.18,00:00:26.29,1390,1457,open,200,fridge,10,[],[]\n")
    mapping = load_mapping(tmp_path)
    assert mapping.epic55_verb_ids == frozenset(range(125))
    segs, rej = read_annotations(p, epic55=mapping)
    assert [(s.narration_id, s.verb_class) for s in segs] == [("P01_01_uid8", 3)]
    assert [(r.narration_id, r.reason, r.line) for r in rej] == [("P01_01_uid9", UNKNOWN_VERB_CLASS, 3)]
    assert rej[0].detail == "EPIC-55 verb_class 200 ('open') is not in EPIC_verb_classes.csv"
    assert mapping_record(mapping, segs, rej)["sources"]["epic55_verb_classes"]["file"] == "EPIC_verb_classes.csv"


@pytest.mark.parametrize("body, line, message", [
    ("verb,class\nopen,3\n", 1, "a verb map.s header is raw_verb,verb_class or epic55_class,epic100_class"),
    ("raw_verb,verb_class\nopen,3\nopen,4\n", 3, "raw_verb 'open' is mapped twice \\(first on line 2\\)"),
    ("raw_verb,verb_class\nopen,97\n", 2, "verb_class 97 is not an EPIC-100 verb class id"),
    ("raw_verb,verb_class\nopen,x\n", 2, "not an integer class id"),
    ("raw_verb,verb_class\n,3\n", 2, "raw_verb '' is not a raw verb"),
    ("epic55_class,epic100_class\n-2,3\n", 2, "epic55_class -2 is not an EPIC-55 verb class id"),
    ("raw_verb,verb_class\nopen,3,4\n", 2, "expected two UTF-8 fields"),
])
def test_bad_verb_maps_name_file_and_line(shared_epic, tmp_path, body, line, message):
    vmap = tmp_path / "map.csv"
    vmap.write_text(body)
    with pytest.raises(AnnotationError, match=rf"map\.csv, line {line}: {message}"):
        read_verb_map(vmap, set(range(97)))
    with pytest.raises(AnnotationError, match=r"map\.csv"):
        load_mapping(shared_epic, vmap)
