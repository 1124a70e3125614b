from fractions import Fraction

import pytest

from egoimu.pipeline.clips import (
    SEGMENT_OUTSIDE_VIDEO,
    VIDEO_TOO_SHORT,
    ClipConfig,
    auto_ssl_stride,
    last_start_tick,
    segment_clip_start,
    window_starts,
)

CFG = ClipConfig()


@pytest.mark.parametrize("fps", [Fraction(50), Fraction(60000, 1001), Fraction(30000, 1001)])
def test_last_start_tick_is_the_largest_decodable(fps):
    n = 1000
    m = last_start_tick(n, fps, CFG)
    last = lambda tick: int((Fraction(tick + 47, 24) * fps) // 1)  # noqa: E731
    assert last(m) <= n - 1
    assert last(m + 1) > n - 1


def test_centred_and_snapped():
    s = segment_clip_start(10.0, 11.0, 50 * 60, Fraction(50), CFG)
    assert s == Fraction(9 * 24 + 12, 24)  # centre 10.5 - 1 = 9.5 s
    s = segment_clip_start(10.01, 10.03, 50 * 60, Fraction(50), CFG)  # centre 10.02 → 9.02 s → tick 216.48
    assert s == Fraction(216, 24)
    assert s.denominator in (1, 2, 3, 4, 6, 8, 12, 24)


def test_clamped_at_both_edges():
    assert segment_clip_start(0.0, 0.5, 3000, Fraction(50), CFG) == 0
    end = segment_clip_start(59.5, 60.0, 3000, Fraction(50), CFG)
    assert end == Fraction(last_start_tick(3000, Fraction(50), CFG), 24)


def test_rejections():
    assert segment_clip_start(61.0, 62.0, 3000, Fraction(50), CFG) == SEGMENT_OUTSIDE_VIDEO
    assert segment_clip_start(59.5, 62.0, 3000, Fraction(50), CFG) == SEGMENT_OUTSIDE_VIDEO  # ends 2 s past
    assert segment_clip_start(59.5, 60.3, 3000, Fraction(50), CFG) != SEGMENT_OUTSIDE_VIDEO  # rounding slack
    assert segment_clip_start(0.0, 0.5, 60, Fraction(50), CFG) == VIDEO_TOO_SHORT
    no_clamp = ClipConfig(clamp=False)
    assert segment_clip_start(0.0, 0.2, 3000, Fraction(50), no_clamp) == SEGMENT_OUTSIDE_VIDEO


def test_windows_tile_the_video():
    cfg = ClipConfig(ssl_stride_s=1.0)
    starts = window_starts(3000, Fraction(50), cfg)
    assert starts[0] == 0 and starts[1] == 1
    assert starts[-1] <= Fraction(last_start_tick(3000, Fraction(50), cfg), 24)
    assert window_starts(3000, Fraction(50), ClipConfig(ssl_stride_s=None)) == []
    with pytest.raises(ValueError, match="resolved by the plan"):
        window_starts(3000, Fraction(50), CFG)  # the default, auto: the plan resolves it first


@pytest.mark.parametrize(("seconds", "segments", "stride"), [
    (0, 0, 0.5), (720, 261, 0.5), (1500, 0, 0.5), (1501, 0, 13 / 24), (3000, 0, 1.0), (3000, 1000, 1.5),
    (6000, 0, 2.0), (36_000, 0, 2.0), (111_000, 2999, 2.0), (111_000, 3000, None), (111_000, 30_044, None)])
def test_auto_window_stride(seconds, segments, stride):
    """auto: train seconds / (3000 - segments) within [0.5, 2] s, rounded up to the 1/24 s grid; none from 3000
    labelled train clips on (EPIC: ~30,000)."""
    got = auto_ssl_stride(seconds, segments, 24)
    assert got == (None if stride is None else pytest.approx(stride, abs=1e-12))
    assert got is None or round(got * 24, 9).is_integer()
    with pytest.raises(ValueError, match="finite"):
        auto_ssl_stride(float("nan"), 0, 24)
