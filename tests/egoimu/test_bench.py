"""``egoimu bench``: every measurement runs at the tiny size and returns its figures; the CLI and JSON.

Nothing here asserts a speed: the figures of a tiny run are only checked to be finite, positive
numbers under their documented keys.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from types import SimpleNamespace

import pytest

from egoimu import bench, cli
from egoimu.bench.common import TINY, interleaved
from egoimu.bench.fig_decode import overlap_share, spaced_windows
from egoimu.bench.long_data import long_root
from egoimu.pipeline.sync_estimate import LOW_CONFIDENCE, TOO_FEW_WINDOWS, auto_windows
from egoimu.pipeline.video import probe_video

#: measurement -> the top-level figure keys it returns
FIGURES = {
    "decode_vs_ffmpeg": ("decode_vs_ffmpeg",),
    "merged_vs_per_clip": ("merged_vs_per_clip", "merged_overlap_share"),
    "dask": ("dask_parallel_efficiency",),
    "memory": ("worker_rss_10min_vs_1min",),
    "storage": ("jpeg_size_ratio", "jpeg_psnr_db"),
    "loader_vs_raw_h5py": ("loader_vs_raw_h5py",),
    "loader_vs_mp4_decode": ("loader_vs_mp4_decode",),
    "loader_per_core": ("loader_clips_per_s_per_core_raw", "loader_clips_per_s_per_core_jpeg"),
    "trainer_rss": ("trainer_rss_epoch_vs_50_steps",),
    "data_wait": ("data_wait_share",),
    "sync_sweep": ("sync_sweep_median_ms", "sync_sweep_max_ms"),
    "sync_auto_cost": ("sync_auto_cost",),
    "gpu": ("gpu_clips_per_s",),
    "build_vs_decode_floor": ("build_vs_decode_floor",),
}
SHARES = {"merged_overlap_share", "data_wait_share"}  # may be 0; everything else is a ratio > 0
SLOW = {"dask", "memory", "storage", "trainer_rss", "data_wait", "loader_per_core"}
OWN_TEST = {"sync_auto_cost", "gpu", "build_vs_decode_floor"}  # measured (and checked in detail) by own tests below


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("bench-cache")


def test_registry_covers_every_goal():
    assert set(FIGURES) == set(bench.MEASUREMENTS)
    figures = {f for figs in FIGURES.values() for f in figs} - {"merged_overlap_share"}
    assert not set(bench.CAPACITIES) & set(bench.GOALS) and set(bench.CAPACITIES) <= figures
    assert figures - set(bench.CAPACITIES) == set(bench.GOALS)
    assert {m for group in bench.GROUPS.values() for m in group} == set(bench.MEASUREMENTS)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in FIGURES if n not in OWN_TEST])
def test_measurement_at_tiny_size(name, cache):
    result = bench.MEASUREMENTS[name](cache, TINY)
    for key in FIGURES[name]:
        value = result[key]
        assert isinstance(value, float) and math.isfinite(value), (key, value)
        assert value >= 0 if key in SHARES else value > 0, (key, value)
    json.dumps(result, default=str)  # the details are JSON-ready


def test_help_lists_groups(capsys):
    assert cli.main(["bench", "--help"]) == 0
    out = capsys.readouterr().out
    for group in ("decode", "build", "load", "train", "sync", "all", "--json"):
        assert group in out


def test_json_has_top_level_figures(cache, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench.main(["decode", "--size", "tiny", "--cache", str(cache), "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    for key in ("decode_vs_ffmpeg", "merged_vs_per_clip", "merged_overlap_share", "goals", "met", "conditions"):
        assert key in data
    assert data["conditions"]["cpus"] >= 1 and data["conditions"]["sizes"]["name"] == "tiny"
    assert set(data["met"]) == {"decode_vs_ffmpeg", "merged_vs_per_clip"}
    table = capsys.readouterr().out
    assert "| decode_vs_ffmpeg |" in table and "| figure | value | goal | met? |" in table


def test_unknown_group_is_a_usage_error():
    assert cli.main(["bench", "no-such-group"]) == 2


def test_overlap_share():
    f = Fraction
    assert overlap_share([f(0), f(10), f(20)]) == 0.0
    assert overlap_share([f(0), f(1), f(10)]) == pytest.approx(2 / 3)
    assert overlap_share([]) == 0.0


def test_spaced_windows_are_apart_and_inside():
    starts = spaced_windows(1500, Fraction(50), 6)
    assert len(starts) == 6 and all(s.denominator in (1, 2, 3, 4, 6, 8, 12, 24) for s in starts)
    assert all(b - a >= 3 for a, b in zip(starts, starts[1:]))
    assert starts[-1] + 2 <= 30


def test_interleaved_records_every_side():
    calls = []
    res = interleaved({"a": lambda i: calls.append(("a", i)) or 2, "b": lambda i: calls.append(("b", i)) or 3},
                      items=[1, 2], repeats=2)
    assert calls[:4] == [("a", 1), ("b", 1), ("a", 2), ("b", 2)] and len(calls) == 8
    assert res["a"]["units"] == 4 and res["b"]["units"] == 6
    assert len(res["a"]["passes"]) == 2 and res["a"]["rate"] > 0


def test_goal_check():
    assert bench.met("decode_vs_ffmpeg", 0.95) and not bench.met("decode_vs_ffmpeg", 0.5)
    assert bench.met("data_wait_share", 0.01) and not bench.met("data_wait_share", 0.2)
    assert not bench.met("jpeg_psnr_db", float("nan"))


def test_all_leaves_out_the_long_group():
    assert "sync_auto_cost" not in bench.selected(["all"]) and "build_vs_decode_floor" in bench.selected(["all"])
    assert set(bench.selected(["all"])) == set(bench.MEASUREMENTS) - {"sync_auto_cost", "gpu"}
    assert bench.selected(["long"]) == ["sync_auto_cost"]
    assert bench.selected(["all", "long"])[-1] == "sync_auto_cost"
    assert bench.selected(["decode", "decode_vs_ffmpeg"]) == ["decode_vs_ffmpeg", "merged_vs_per_clip"]


def test_long_root_is_an_upscaled_video_with_its_own_imu(cache):
    root, video_id = long_root(cache, TINY)
    path = root / video_id.split("_")[0] / "videos" / f"{video_id}.MP4"
    info = probe_video(path)
    dataset = json.loads((root / "synth_truth" / "dataset.json").read_text())
    truth = dataset["videos"][video_id]
    assert (info.width, info.height, info.fps, info.codec) == (TINY.long_width, TINY.long_height, Fraction(50), "h264")
    assert info.n_frames == truth["frames"] == round(TINY.long_minutes * 60 * 50)  # frame for frame
    assert dataset["config"]["width"] * TINY.long_render_scale == TINY.long_width
    for kind in ("accl", "gyro"):
        assert (root / video_id.split("_")[0] / "meta_data" / f"{video_id}-{kind}.csv").stat().st_size > 0
    info_csv = (root / "EPIC_100_video_info.csv").read_text()
    assert f"{video_id},12.0,50.0,{TINY.long_width}x{TINY.long_height}" in info_csv
    mtime = path.stat().st_mtime_ns
    assert long_root(cache, TINY) == (root, video_id) and path.stat().st_mtime_ns == mtime  # cached, not remade


@pytest.mark.slow
def test_sync_auto_cost_at_tiny_size(cache):
    result = bench.MEASUREMENTS["sync_auto_cost"](cache, TINY)
    c = result["sync_cost"]
    assert result["sync_auto_cost"] == pytest.approx(c["sync_s"] / c["build_s"])
    assert len(c["sync_runs_s"]) == max(2, TINY.sync_cost_repeats)
    assert c["sync_s"] == pytest.approx(min(c["sync_runs_s"]), abs=1e-3)
    for key in ("sync_auto_cost",):
        assert isinstance(result[key], float) and math.isfinite(result[key]) and result[key] > 0
    for key in ("sync_s", "build_s", "build_cpu_s", "decode_s", "estimate_s"):
        assert math.isfinite(c[key]) and c[key] > 0, (key, c[key])
    assert c["decode_s"] + c["estimate_s"] < c["build_s"]
    assert c["windows"] == c["windows_planned"] == auto_windows(TINY.long_minutes * 60)
    assert 0 <= c["kept"] <= c["windows"]
    assert 0 <= c["confidence"] <= 1 and 0 <= c["peak_r"] <= 1
    assert c["reason"] == "" if c["used"] else c["reason"].startswith((LOW_CONFIDENCE, TOO_FEW_WINDOWS))
    assert c["clips_written"] > 0 and {"probe", "shards"} <= set(c["build_stages_s"])
    assert c["build_options"] == ["--encoding", "raw", "--sync", "assumed"] and c["build_workers"] == 2
    assert not (cache / "tiny-sync-cost-build").exists()  # the raw build is not kept
    json.dumps(result)


def test_gpu_bench_runs_its_code_path_on_cpu(cache, tmp_path, capsys):
    """``egoimu bench gpu --device cpu --size tiny --model small``: the step at batch 2 in bf16 and fp32 (FLOPs
    counted, MFU null on CPU) and the data wait on raw and JPEG shards written here. Checks the path, not speed."""
    out = tmp_path / "gpu.json"
    assert cli.main(["bench", "gpu", "--device", "cpu", "--size", "tiny", "--model", "small", "--workers", "1",
                     "--cache", str(cache), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    g = result["gpu"]
    assert (g["device"], g["model"], g["size"]) == ("cpu", "small", "tiny")
    assert set(g["step"]) == {"bf16_b2", "fp32_b2"}
    for r in g["step"].values():
        assert r["clips_per_s"] > 0 and r["flops_per_step"] > 1e6 and r["peak_memory_mb"] > 0
        assert r["mfu"] is None and r["peak_tflops"] is None  # no peak for a CPU
    assert {"raw", "jpeg_cpu_decode"} <= set(g["data_wait"])
    for r in g["data_wait"].values():
        assert 0 <= r["data_wait_share"] <= 1 and r["loader_clips_per_s"] > 0 and r["steps"] == 1
    assert result["gpu_clips_per_s"] > 0 and "gpu_clips_per_s" not in result["met"]
    assert "gpu cpu small fp32_b2:" in capsys.readouterr().out


def test_gpu_bench_refuses_cuda_without_a_device(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert cli.main(["bench", "gpu", "--device", "cuda", "--size", "tiny"]) == 2
    assert capsys.readouterr().err.strip() == "egoimu bench: error: --device cuda: torch here has no CUDA device"


def test_gpu_peak_table_by_device_name():
    from egoimu.bench.fig_gpu import PEAK_TFLOPS

    def peak(name: str, column: int) -> float:
        return next(row[column] for row in PEAK_TFLOPS if row[0] in name)

    assert peak("NVIDIA H100 80GB HBM3", 1) == 989.0 and peak("NVIDIA H100 80GB HBM3", 2) == 494.7
    assert peak("NVIDIA H200", 1) == 989.0 and peak("NVIDIA H100 PCIe", 1) == 756.0


@pytest.mark.slow
def test_build_vs_decode_floor_at_tiny_size(cache):
    result = bench.MEASUREMENTS["build_vs_decode_floor"](cache, TINY)
    f = result["floor"]
    assert result["build_vs_decode_floor"] == pytest.approx(f["build_s"] / f["floor_s"])
    assert math.isfinite(result["build_vs_decode_floor"]) and result["build_vs_decode_floor"] > 0
    assert len(f["videos"]) == len(TINY.floor_videos) == 2 and f["processes"] == 2
    frames_per_video = round(TINY.floor_minutes * 60 * 24)  # fps=24 out of a 50 fps video, every frame once
    assert abs(f["frames_out"] - 2 * frames_per_video) <= 2
    assert all(v.startswith(f"{TINY.long_width}x{TINY.long_height} h264 50 fps") for v in f["videos"])
    assert f["clips_written"] > 0
    # the build's wall time placed: Dask stages, the timed sections of its own process, and what lies outside main
    assert set(f["stages_s"]) == {"sources", "cluster_start", "probe", "plan", "shards", "cluster_close", "manifests",
                                  "interpreter_imports_exit"}
    assert all(v >= 0 for v in f["stages_s"].values()) and sum(f["stages_s"].values()) <= f["build_s"] + 1e-6
    assert f["build_s"] == pytest.approx(min(f["build_runs_s"]), abs=1e-3)
    assert not (cache / "tiny-floor-build").exists()
    json.dumps(result)


def test_stage_filter_is_the_video_stage_chain():
    from egoimu.bench.fig_decode import ffmpeg_baseline_argv, stage_filter
    from egoimu.pipeline._video_child import ffmpeg_argv
    from egoimu.pipeline.video import VideoConfig

    cfg = VideoConfig()
    info = SimpleNamespace(width=1920, height=1080)  # all the filter reads of a VideoInfo
    vf = stage_filter(cfg, info)
    assert vf == "fps=24,scale=455:256:flags=bilinear,crop=256:256:99:0,format=rgb24"
    stage = ffmpeg_argv("ffmpeg", "v.mp4", seek_s=None, select="1", n_out=48, scale=(455, 256), crop=(99, 0, 256),
                        threads=1)
    assert stage[stage.index("-vf") + 1].endswith(vf.removeprefix("fps=24,"))
    whole = ffmpeg_baseline_argv("v.mp4", None, cfg, info)
    assert "-ss" not in whole and "-frames:v" not in whole and whole[whole.index("-vf") + 1] == vf
    window = ffmpeg_baseline_argv("v.mp4", Fraction(3), cfg, info)
    assert window[window.index("-ss") + 1] == "3.000000" and window[window.index("-frames:v") + 1] == "48"
