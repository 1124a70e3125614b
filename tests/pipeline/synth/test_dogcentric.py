"""``egoimu synth dogcentric``: layout, names, aliases, glitches, determinism, decodability, and camera
motion that matches the activity (measured from decoded frames by phase correlation)."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import decord
import numpy as np
import pytest

from egoimu.manifests.motion import image_shifts
from egoimu.pipeline.sources.dogcentric import DUPLICATE_CLIP, NOT_A_CLIP, canonical_activity, scan_dogcentric
from egoimu.pipeline.synth import cli as synth_cli
from egoimu.pipeline.synth.dogcentric import SynthDogConfig, config_sha256, generate_dogcentric

DOGS = {"Hime", "Ku", "Ringo", "Ryu"}
# The README's facts, written out independently of the module: folder -> file prefix.
PUBLIC = {"Car": "Car", "Drink": "Drink", "Feed": "Feed", "Left": "LookLeft", "Right": "LookRight",
          "Pet": "Pet", "Play": "Ball", "Shake": "Shake", "Sniff": "Sniff", "Walk": "Walk"}
RAW = {**{k: v for k, v in PUBLIC.items() if k not in ("Left", "Right")},
       "Look_at_Left": "LookLeft", "Look_at_Right": "LookRight"}
HEAD_MOTION = {"Walk", "Shake", "LookLeft", "LookRight"}
NAME = re.compile(r"^(?P<act>[A-Za-z]+)(?P<sep>_+)(?P<dog>[A-Za-z]+)_(?P<rec>\d+)_(?P<start>\d+)_(?P<end>\d+)"
                  r"\.avi$")
SMALL = SynthDogConfig(seed=7, clips_per_activity=1, width=160, height=120, fps=15, layout="raw",
                       glitches=True)


@pytest.fixture(scope="module")
def raw_ds(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dog_raw")
    generate_dogcentric(out, SMALL, workers=1)
    return out


@pytest.fixture(scope="module")
def public_ds(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dog_public") / "ds"
    rc = synth_cli.main(["dogcentric", str(out), "--clips-per-activity", "2", "--seed", "1", "--quiet",
                         "--resolution", "96x72", "--fps", "10", "--seconds", "2", "2", "--workers", "1"])
    assert rc == 0
    return out


def _files(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file below ``root``."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _truth(root: Path) -> dict:
    return json.loads((root / "synth_truth.json").read_text())


def test_public_layout_names_and_counts(public_ds: Path) -> None:
    folders = {p.name for p in public_ds.iterdir() if p.is_dir()}
    assert folders == set(PUBLIC)
    assert sorted(p.name for p in public_ds.iterdir() if p.is_file()) == ["synth_truth.json"]
    truth = _truth(public_ds)
    per_activity: Counter = Counter()
    per_activity_dog: Counter = Counter()
    spans: dict[tuple[str, int], list[tuple[int, int]]] = {}
    listed = set()
    for folder in folders:
        for clip in (public_ds / folder).iterdir():
            m = NAME.match(clip.name)
            assert m and m["sep"] == "_", clip.name
            assert m["act"] == PUBLIC[folder] == canonical_activity(folder) and m["dog"] in DOGS
            start, end = int(m["start"]), int(m["end"])
            assert end - start == 20  # 2 s at 10 fps
            per_activity[m["act"]] += 1
            per_activity_dog[m["act"], m["dog"]] += 1
            spans.setdefault((m["dog"], int(m["rec"])), []).append((start, end))
            listed.add(f"{folder}/{clip.name}")
    assert listed == {c["path"] for c in truth["clips"]}
    assert all(per_activity[a] == (8 if a in HEAD_MOTION else 2) for a in PUBLIC.values())
    assert all(per_activity_dog[a, d] == 2 for a in HEAD_MOTION for d in DOGS)
    for intervals in spans.values():  # clips of one recording do not overlap
        intervals.sort()
        assert all(a[1] <= b[0] for a, b in zip(intervals, intervals[1:]))
    assert truth["config_sha256"] == config_sha256(SynthDogConfig(**truth["config"]))
    assert truth["glitch_files"] == []


def test_raw_layout_and_glitches(raw_ds: Path) -> None:
    folders = {p.name for p in raw_ds.iterdir() if p.is_dir()}
    assert folders == set(RAW) | {"Turn_Right"}
    assert (raw_ds / "info.txt").is_file() and (raw_ds / "Look_at_Right" / "Thumbs.db").is_file()
    right = {p.name: p.read_bytes() for p in (raw_ds / "Look_at_Right").glob("*.avi")}
    turn = {p.name: p.read_bytes() for p in (raw_ds / "Turn_Right").iterdir()}
    assert turn == right and len(turn) == 4
    avis = [p for p in raw_ds.rglob("*") if p.is_file() and p.name not in ("Thumbs.db", "info.txt")
            and p.name != "synth_truth.json"]
    matches = [NAME.match(p.name) for p in avis]
    assert all(matches), [p.name for p, m in zip(avis, matches) if not m]
    doubled = [p.relative_to(raw_ds).as_posix() for p, m in zip(avis, matches) if m["sep"] != "_"]
    assert len(doubled) == 1 and re.fullmatch(r"Shake/Shake__Ku_\d+_\d+_\d+\.avi", doubled[0])
    assert all(RAW.get(p.parent.name, "LookRight") == m["act"] for p, m in zip(avis, matches))
    truth = _truth(raw_ds)
    assert doubled[0] in {c["path"] for c in truth["clips"]}
    assert {"info.txt", "Look_at_Right/Thumbs.db"} <= set(truth["glitch_files"])


def test_the_reader_sees_the_truth(raw_ds: Path) -> None:
    """egoimu.pipeline.sources.dogcentric finds every clip once and accounts for every glitch."""
    clips, rejections = scan_dogcentric(raw_ds)
    truth = {(c["path"], c["activity"], c["dog"], c["start_frame"]) for c in _truth(raw_ds)["clips"]}
    assert {(c.path, c.activity, c.dog, c.start_frame) for c in clips} == truth
    reasons = Counter(r.reason for r in rejections)
    assert reasons == {DUPLICATE_CLIP: 4, NOT_A_CLIP: 4}  # Turn_Right/*; 2 Thumbs.db, info.txt, truth


def test_deterministic_and_independent_of_workers(raw_ds: Path, tmp_path: Path) -> None:
    summary = generate_dogcentric(tmp_path, SMALL, workers=2)
    assert summary["clips"] == 22
    assert _files(tmp_path) == _files(raw_ds)


def test_decodable_by_decord(raw_ds: Path) -> None:
    for clip in _truth(raw_ds)["clips"]:
        vr = decord.VideoReader(str(raw_ds / clip["path"]))
        assert len(vr) == clip["n_frames"] == clip["end_frame"] - clip["start_frame"]
        assert 2 * 15 <= len(vr) <= 6 * 15 and abs(vr.get_avg_fps() - 15) < 1e-6
        last = vr[len(vr) - 1].asnumpy()
        assert last.shape == (120, 160, 3) and last.dtype == np.uint8 and last.std() > 5


def _grey(path: Path) -> np.ndarray:
    vr = decord.VideoReader(str(path))
    return vr.get_batch(list(range(len(vr)))).asnumpy().astype(np.float32).mean(-1)


def test_camera_motion_follows_the_activity(raw_ds: Path) -> None:
    truth = _truth(raw_ds)
    fps, f = SMALL.fps, truth["focal_px"]
    energy: dict[str, list[float]] = {"Car": [], "Shake": []}
    walk_flow = []
    for clip in truth["clips"]:
        act, m = clip["activity"], clip["motion"]
        if act not in ("LookLeft", "LookRight", "Drink", "Feed", "Sniff", "Walk", "Car", "Shake"):
            continue
        g = _grey(raw_ds / clip["path"])
        if act in energy:
            energy[act].append(float(np.abs(np.diff(g, axis=0)).mean()))
        elif act == "Walk":  # forward motion: the ground below flows down the image (+v)
            low = g[:, 2 * g.shape[1] // 3:]
            walk_flow += list(image_shifts(low)[:, 1])
        elif act.startswith("Look"):  # yaw left => content moves right (+u), conventions.md
            a, b = int(m["t_turn_start"] * fps), int(np.ceil(m["t_turn_end"] * fps))
            dx = image_shifts(g[a:b + 1])[:, 0].sum()
            expected = np.radians(m["yaw_amp_deg"]) * f
            assert np.sign(dx) == (1 if act == "LookLeft" else -1), (clip["path"], dx)
            assert 0.7 < dx / expected < 1.3, (clip["path"], dx, expected)
        else:  # pitch down => content moves up (-v)
            a, b = int(m["t_down_start"] * fps), int(np.ceil(m["t_down_end"] * fps))
            dy = image_shifts(g[a:b + 1])[:, 1].sum()
            assert dy < -0.5 * np.radians(m["pitch_down_deg"]) * f, (clip["path"], dy)
    assert np.mean(walk_flow) > 0.5
    assert min(energy["Shake"]) > 2 * max(energy["Car"])


def test_cli_rejects_bad_options(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        synth_cli.main(["dogcentric", str(tmp_path), "--resolution", "161x120"])
    assert exc.value.code == 2
    with pytest.raises(ValueError):
        SynthDogConfig(layout="kitchen")
