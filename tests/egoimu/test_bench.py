"""``egoimu bench``: every measurement runs at the tiny size and returns its figures; the CLI and JSON.

Nothing here asserts a speed: the figures of a tiny run are only checked to be finite, positive
numbers under their documented keys.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest

from egoimu import bench, cli
from egoimu.bench.common import TINY, interleaved
from egoimu.bench.fig_decode import overlap_share, spaced_windows

#: measurement -> the top-level figure keys it returns
FIGURES = {
    "decode_vs_ffmpeg": ("decode_vs_ffmpeg",),
    "merged_vs_per_clip": ("merged_vs_per_clip", "merged_overlap_share"),
    "dask": ("dask_parallel_efficiency",),
    "memory": ("worker_rss_10min_vs_1min",),
    "storage": ("jpeg_size_ratio", "jpeg_psnr_db"),
    "loader_vs_raw_h5py": ("loader_vs_raw_h5py",),
    "loader_vs_mp4_decode": ("loader_vs_mp4_decode",),
    "trainer_rss": ("trainer_rss_epoch_vs_50_steps",),
    "data_wait": ("data_wait_share",),
    "sync_sweep": ("sync_sweep_median_ms", "sync_sweep_max_ms"),
}
SHARES = {"merged_overlap_share", "data_wait_share"}  # may be 0; everything else is a ratio > 0
SLOW = {"dask", "memory", "storage", "trainer_rss", "data_wait"}


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("bench-cache")


def test_registry_covers_every_goal():
    assert set(FIGURES) == set(bench.MEASUREMENTS)
    assert {f for figs in FIGURES.values() for f in figs} - {"merged_overlap_share"} == set(bench.GOALS)
    assert {m for group in bench.GROUPS.values() for m in group} == set(bench.MEASUREMENTS)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in FIGURES])
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
