"""``egoimu embed`` and the features cache: a tiny trained run, random inits and a video file, real components."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from egoimu.embed import main
from egoimu.manifests.files import sha256_file
from egoimu.train.eval.embed import features_for, read_features
from egoimu.train.eval.representations import load_representation
from egoimu.train.models.slowfast import SlowFastSmall


def written(data: Path, split: str) -> pd.DataFrame:
    clips = pd.read_csv(data / "clips.csv")
    return clips[(clips.split == split) & (clips.status == "written")].reset_index(drop=True)


@pytest.mark.slow
def test_embed_run_writes_features_in_manifest_order(eval_tiny_run, tmp_path, capsys):
    data, run = eval_tiny_run
    out = tmp_path / "val.h5"
    assert main([str(run), "--data", str(data), "--split", "validation", "--imu", "--out", str(out),
                 "--num-workers", "0"]) == 0
    assert "self-supervised" in capsys.readouterr().out
    fs = read_features(out)
    expected = written(data, "validation")
    assert fs.video.shape == (len(expected), 320) and fs.video.dtype == np.float32
    assert fs.imu is not None and fs.imu.shape == (len(expected), 64) and fs.imu.dtype == np.float32
    assert fs.table.clip_id.tolist() == expected.clip_id.tolist()
    assert fs.table.video_id.tolist() == expected.video_id.tolist()
    assert fs.table.verb_class.tolist() == expected.verb_class.tolist() and fs.table.verb_class.dtype == np.int64
    np.testing.assert_allclose(fs.table.start_s, expected.start_s)
    np.testing.assert_allclose(fs.table.end_s, expected.end_s)
    a = fs.attrs
    assert (a["representation"], a["representation_kind"], a["step"], a["model"]) == ("self-supervised", "run", 2,
                                                                                       "small")
    assert a["source_sha256"] == sha256_file(run / "last.pt") and a["split"] == "validation"
    assert a["manifest_sha256"] and a["egoimu_version"] and a["format"] == "egoimu.features/1"

    # the same features as running the loaded encoder directly
    rep = load_representation(run, num_workers=0)
    again, table = features_for(rep, data, "validation")
    np.testing.assert_allclose(again, fs.video, rtol=1e-5, atol=1e-6)
    assert table.clip_id.tolist() == expected.clip_id.tolist()


def test_random_init_is_seeded_and_the_cache_is_reused(built_epic, tmp_path):
    _, data = built_epic
    cache = tmp_path / "cache"
    rep0 = load_representation(random="small", seed=0, num_workers=0)
    x0, t0 = features_for(rep0, data, "test", cache_dir=cache)
    files = list(cache.glob("*.h5"))
    assert len(files) == 1 and x0.shape == (len(written(data, "test")), 320)
    stamp = files[0].stat().st_mtime_ns
    state = torch.get_rng_state()
    rep0b = load_representation(random="small", seed=0, num_workers=0, batch_size=3)  # loader size: same key
    assert torch.equal(torch.get_rng_state(), state)  # the random init does not touch the global generator
    x0b, t0b = features_for(rep0b, data, "test", cache_dir=cache)
    assert list(cache.glob("*.h5")) == files and files[0].stat().st_mtime_ns == stamp  # reused, not rewritten
    np.testing.assert_array_equal(x0b, x0)
    assert t0b.clip_id.tolist() == t0.clip_id.tolist()
    rep1 = load_representation(random="small", seed=1, num_workers=0)
    x1, _ = features_for(rep1, data, "test", cache_dir=cache)
    assert len(list(cache.glob("*.h5"))) == 2 and not np.allclose(x1, x0)
    fresh, _ = features_for(load_representation(random="small", seed=0, num_workers=0), data, "test")
    np.testing.assert_allclose(fresh, x0, rtol=1e-5, atol=1e-6)  # recomputed: deterministic
    xl, tl = features_for(rep0, data, "train", cache_dir=cache, labelled_only=True)
    assert (tl.verb_class >= 0).all() and len(xl) == (written(data, "train").verb_class >= 0).sum()


def _mp4(path: Path, seconds: float) -> Path:
    from egoimu.pipeline.ffmpeg_bin import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi", "-i",
                    f"testsrc=duration={seconds}:size=160x120:rate=30", "-pix_fmt", "yuv420p", str(path)],
                   check=True)
    return path


def test_embed_video_files_in_two_second_windows(tmp_path, capsys):
    video = _mp4(tmp_path / "clip.mp4", 4.5)
    out = tmp_path / "v.h5"
    assert main(["--random", "small", "--seed", "3", str(video), "--out", str(out)]) == 0
    assert "2 clips of 1 video file(s)" in capsys.readouterr().out
    fs = read_features(out)
    assert fs.video.shape == (2, 320) and np.isfinite(fs.video).all() and fs.imu is None
    assert fs.table.clip_id.tolist() == ["clip_w0000000", "clip_w0000048"]
    assert fs.table.start_s.tolist() == [0.0, 2.0] and fs.table.end_s.tolist() == [2.0, 4.0]
    assert set(fs.table.video_id) == {str(video.resolve())} and (fs.table.verb_class == -1).all()
    assert fs.attrs["seed"] == 3 and fs.attrs["representation"] == "random"

    short = _mp4(tmp_path / "short.mp4", 1.0)
    assert main(["--random", "small", str(short), "--out", str(tmp_path / "s.h5")]) == 2
    err = capsys.readouterr().err
    assert str(short) in err and "shorter than one 2 s window" in err
    assert main(["--random", "small", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "n.h5")]) == 2
    assert "nope.mp4" in capsys.readouterr().err


def test_bad_inputs_exit_2_naming_the_file(built_epic, tmp_path, capsys):
    _, data = built_epic
    out = ["--out", str(tmp_path / "x.h5")]
    assert main([str(tmp_path), "--data", str(data), *out]) == 2  # a folder that is not a run
    assert f"RUN {tmp_path} is not a training run (no config.json, no last.pt)" in capsys.readouterr().err
    pv = tmp_path / "small.pyth"  # a pytorchvideo-format checkpoint of the small SlowFast
    torch.save(SlowFastSmall().state_dict(), pv)
    assert main(["--checkpoint", str(pv), "--data", str(data), *out]) == 2  # default --model full
    err = capsys.readouterr().err
    assert str(pv) in err and "does not fit" in err
    assert main(["--random", "small", "--data", str(tmp_path / "nowhere"), *out]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert main(["--random", "small", "--data", str(data), "--imu", "clip.mp4", *out]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["--data", str(data), *out]) == 2
    assert "exactly one of RUN" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()
