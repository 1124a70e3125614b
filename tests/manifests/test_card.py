"""The dataset card OUT/README.md and ``egoimu info``: every column and manifest key described once (tables.py,
schema.py), manifests/README.md generated from the same, the card of a real build complete and deterministic, its
five lines of Python run against that build, and ``egoimu info`` printing the same summary."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

from egoimu.manifests.card import (
    LICENCES,
    LOAD_SNIPPET,
    build_info,
    card_text,
    class_names,
    info_markdown,
    readme_with_columns,
)
from egoimu.manifests.info import main as info_main
from egoimu.manifests.outputs import CARD_FILENAME, build_output
from egoimu.manifests.schema import FILENAMES, SUMMARY_KEYS, Manifest
from egoimu.manifests.tables import TABLES

REPO = Path(__file__).resolve().parents[2]


def test_every_column_and_key_has_a_description_and_the_readme_is_generated_from_them():
    for table, cols in TABLES.items():
        for col in cols:
            assert len(col.doc) > 10, f"{table}.{col.name} has no description"
    assert all(len(doc) > 10 for doc in SUMMARY_KEYS.values())
    text = (REPO / "manifests" / "README.md").read_text(encoding="utf-8")
    assert readme_with_columns(text) == text, (
        "manifests/README.md's column tables are stale: python -m egoimu.manifests.card --write-readme "
        "manifests/README.md")
    for table, cols in TABLES.items():
        assert all(f"| `{c.name}` |" in text for c in cols), table


def test_the_card_of_a_real_build(built_epic):
    _, out = built_epic
    card = (out / CARD_FILENAME).read_text(encoding="utf-8")
    manifest = Manifest.load(out)
    assert card == card_text(manifest)  # written from the files as they are
    assert build_output(CARD_FILENAME) is not None  # on the audit's list of what a build writes
    summary = json.loads((out / "manifest.json").read_text())
    assert set(summary) <= set(SUMMARY_KEYS) and set(SUMMARY_KEYS) - set(summary) <= {"failed"}
    for name in (*FILENAMES.values(), "manifest.json"):
        assert f"### {name}" in card
    for cols in TABLES.values():
        assert all(f"| `{c.name}` |" in card for c in cols)
    assert all(f"| `{key}` |" in card for key in SUMMARY_KEYS)
    assert f"config sha256: `{summary['config_sha256']}`" in card and "## Shard layout" in card
    assert "| `imu` | (N, 396, 6) | float32 |" in card
    acc = summary["accounting"]
    assert f"{acc['input']} input rows = {acc['written']} written + {acc['input'] - acc['written']} rejected" in card
    for reason, n in acc["rejected_by_reason"].items():
        assert f"| {reason} | {n} |" in card
    for pid in manifest.splits.participant_id:
        assert re.search(rf"^\| {pid} \| (train|validation|test) \| \d+ \| \d+ \|$", card, re.M), pid
    assert LICENCES["synthetic"] in card
    # deterministic: no absolute path, no date
    assert str(out) not in card and "/tmp" not in card and not re.search(r"\b20\d\d-\d\d-\d\d\b", card)


def test_the_licence_follows_the_source(built_epic):
    manifest = Manifest.load(built_epic[1])
    for dataset, words in (("epic", "CC BY-NC 4.0"), ("dogcentric", "DogCentric"), ("gopro", "yours to set")):
        source = {**manifest.summary["source"], "synthetic": False, "dataset": dataset}
        other = dataclasses.replace(manifest, summary={**manifest.summary, "source": source})
        assert words in card_text(other)


def test_the_cards_python_loads_a_batch(built_epic):
    _, out = built_epic
    card = (out / CARD_FILENAME).read_text(encoding="utf-8")
    (code,) = re.findall(r"```python\n(.*?)```", card, re.S)
    assert code == LOAD_SNIPPET and len(code.strip().splitlines()) == 5
    proc = subprocess.run([sys.executable, "-c", code], cwd=out, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    shapes = eval(proc.stdout.strip().splitlines()[-1])  # the printed {name: shape} dict
    assert shapes["imu"] == (4, 396, 6) and shapes["spec"] == (4, 6, 33, 50) and shapes["video"][0] == 4


def test_classes_are_named_by_their_class_key(built_epic):
    _, out = built_epic
    manifest = Manifest.load(out)
    names = class_names(manifest.summary, manifest.clips)
    keys = {int(k): v for k, v in manifest.summary["source"]["class_names"].items()}
    assert names == keys and "/" not in "".join(names.values())
    info = build_info(manifest)
    for c in info["splits"].values():
        if c["majority_class"]:
            assert c["majority_class"]["name"] == keys[c["majority_class"]["verb_class"]]
    # without class names: each class's most frequent raw verb, one name in every split
    bare = class_names({}, manifest.clips)
    labelled = manifest.clips[manifest.clips.verb_class >= 0]
    for cls, name in bare.items():
        assert name in set(labelled.verb[labelled.verb_class == cls])


def test_egoimu_info_prints_the_summary_and_json(built_epic, capsys, tmp_path):
    _, out = built_epic
    info = build_info(Manifest.load(out))
    assert info_main([str(out)]) == 0
    text = capsys.readouterr().out
    assert info_markdown(info) in text and info_markdown(info) in (out / CARD_FILENAME).read_text()
    assert info_main([str(out), "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(info))
    assert info_main([str(out), "--json", str(tmp_path / "i.json")]) == 0
    assert json.loads((tmp_path / "i.json").read_text()) == json.loads(json.dumps(info))
    assert not (Path.cwd() / "-").exists()


def test_egoimu_info_refuses_what_is_not_a_build_in_one_line(built_epic, capsys, tmp_path):
    root, _ = built_epic
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{}")
    (tmp_path / "file").write_text("x")
    cases = {tmp_path / "nope": "does not exist", tmp_path / "file": "is a file",
             root: "this is not a build output (no manifest.json", broken: "not a valid build"}
    for path, words in cases.items():
        assert info_main([str(path)]) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and words in err and str(path) in err, err
    proc = subprocess.run([str(Path(sys.executable).with_name("egoimu")), "info", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and "examples:" in proc.stdout and "--json -" in proc.stdout


def test_audit_help_points_to_the_installed_documentation(capsys):
    from egoimu.manifests.audit import main as audit_main

    try:
        audit_main(["--help"])
    except SystemExit:
        pass
    match = re.search(r"what each check and each column means: (\S+README\.md)", capsys.readouterr().out)
    assert match and "### recordings.csv" in Path(match.group(1)).read_text(encoding="utf-8")
