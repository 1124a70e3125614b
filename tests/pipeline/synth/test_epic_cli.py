"""``egoimu synth epic`` on the command line: help, clear errors, options."""

from __future__ import annotations

import re
import subprocess
import sys
from fractions import Fraction

import decord
import pandas as pd
import pytest

from egoimu.pipeline.ffmpeg_bin import ffmpeg_exe
from egoimu.pipeline.synth import epic


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "egoimu", "synth", "epic", *args],
                          capture_output=True, text=True, timeout=120)


def test_help():
    res = _run("--help")
    assert res.returncode == 0
    for opt in ("--participants", "--videos-per-participant", "--seconds", "--resolution", "--fps", "--seed",
                "--faults", "--like", "--like-videos", "--full-range", "--no-audio", "--workers",
                "--classes-dir"):
        assert opt in res.stdout


@pytest.mark.parametrize("args, message", [
    (["--resolution", "456by256"], "bad resolution '456by256': expected WIDTHxHEIGHT"),
    (["--resolution", "455x256"], "must be even"),
    (["--fps", "25"], "invalid choice: '25'"),
    (["--participants", "0"], "expected a positive integer"),
    (["--like-videos", "P01_101"], "--like-videos needs --like CSV"),
    (["--seconds", "1"], "seconds must be in [4, 7200]"),
    (["--like", "/nonexistent.csv"], "not found"),
])
def test_bad_input_gives_clear_error(tmp_path, args, message):
    res = _run(str(tmp_path / "out"), *args)
    assert res.returncode == 2
    assert message in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


def test_refuses_foreign_non_empty_output(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    assert epic.main([str(tmp_path), "--seconds", "4", "--participants", "1"]) == 2
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_options_fps_full_range_no_audio(tmp_path):
    out = tmp_path / "d"
    assert epic.main([str(out), "--participants", "1", "--videos-per-participant", "1", "--seconds", "4",
                      "--fps", "59.94", "--full-range", "--no-audio", "--resolution", "320x180",
                      "--workers", "1"]) == 0
    n = int(4 * Fraction(60000, 1001))
    lines = (out / "EPIC_100_video_info.csv").read_text().splitlines()
    assert lines[2] == f"P01_101,{round(float(n / Fraction(60000, 1001)), 6)!r},59.9400599400599,320x180"
    path = out / "P01" / "videos" / "P01_101.MP4"
    assert len(decord.VideoReader(str(path))) == n
    err = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    assert re.search(r"yuvj420p\(pc", err) and "Audio" not in err and "320x180" in err
    train = pd.read_csv(out / "EPIC_100_train.csv")
    fps = Fraction(60000, 1001)
    for r in train.itertuples():
        h, m, s = r.start_timestamp.split(":")
        assert r.start_frame == int((int(h) * 3600 + int(m) * 60 + Fraction(s)) * fps)


def test_like_replays_real_segments_with_real_classes(tmp_path, real_dir):
    out = tmp_path / "d"
    like = real_dir / "EPIC_100_uda_target_val.csv"
    assert epic.main([str(out), "--like", str(like), "--like-videos", "P03_101", "--seconds", "20",
                      "--classes-dir", str(real_dir), "--workers", "1", "--no-audio"]) == 0
    real = pd.read_csv(like)
    real = real[(real.video_id == "P03_101")]
    stop = real.stop_timestamp.map(lambda t: sum(float(x) * 60**i for i, x in enumerate(reversed(t.split(":")))))
    expect = real[stop <= 19.9].sort_values("narration_id")
    mine = pd.read_csv(out / "EPIC_100_train.csv")
    assert list(mine.narration_id) == list(expect.narration_id)
    cols = ["start_timestamp", "stop_timestamp", "start_frame", "stop_frame", "verb", "verb_class", "noun_class",
            "narration_timestamp", "all_nouns"]
    assert mine[cols].reset_index(drop=True).equals(expect[cols].reset_index(drop=True))
    for name in ("EPIC_100_verb_classes.csv", "EPIC_100_noun_classes.csv"):
        assert (out / name).read_bytes() == (real_dir / name).read_bytes()
    assert (out / "P03" / "meta_data" / "P03_101-gyro.csv").is_file()
    assert set(pd.read_csv(out / "EPIC_100_validation.csv").video_id) == {"P03_01"}
