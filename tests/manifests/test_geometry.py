"""The clip-geometry contract: derived values, the structural and encoder rules, errors naming the fields."""

from __future__ import annotations

import dataclasses

import pytest

from egoimu.manifests.geometry import DEFAULT_GEOMETRY, FIELD_SOURCES, ClipGeometry, GeometryError


def test_paper_geometry_and_derived_values():
    g = DEFAULT_GEOMETRY
    assert (g.window_s, g.fps, g.imu_rate_hz, g.nfft, g.hop, g.frame_size) == (2.0, 24, 198, 64, 8, 256)
    assert (g.frames, g.imu_len, g.spec_bins, g.spec_frames) == (48, 396, 33, 50)
    assert g.encoder_problems() == [] and g.lowpass_problem(80.0) is None
    assert set(FIELD_SOURCES) == {f.name for f in dataclasses.fields(ClipGeometry)}
    assert "48 x 256²" in g.describe() and "396 x 6 at 198 Hz" in g.describe() and "6 x 33 x 50" in g.describe()


def test_16_fps_is_consistent_and_30_fps_breaks_slowfast():
    g16 = ClipGeometry(fps=16)
    assert (g16.frames, g16.encoder_problems()) == (32, [])
    assert ClipGeometry(fps=30).encoder_problems() == []  # 60 frames: a consistent 2 s at 30 fps
    (problem,) = ClipGeometry(fps=15).encoder_problems()  # 30 frames
    assert "geometry.window_s x geometry.fps = 2.0 x 15 = 30" in problem and "alpha = 4" in problem


@pytest.mark.parametrize("fields, names", [
    ({"window_s": 2.01}, ["geometry.window_s x geometry.fps"]),
    ({"window_s": 1 / 24}, ["geometry.window_s x geometry.imu_rate_hz"]),
    ({"nfft": 63}, ["geometry.nfft = 63"]),
    ({"hop": 65}, ["geometry.hop = 65"]),
    ({"fps": 0}, ["geometry.fps must be > 0"]),
    ({"fps": 24.0}, ["geometry.fps must be an integer"]),
    ({"window_s": 1 / 6, "imu_rate_hz": 192}, ["nfft / 2 < imu_len"]),  # 32 samples
])
def test_structural_rules_refuse_on_construction(fields, names):
    with pytest.raises(GeometryError) as err:
        ClipGeometry(**fields)
    for name in names:
        assert name in str(err.value)


def test_encoder_rules_name_the_fields():
    tiny = ClipGeometry(window_s=1 / 6, frame_size=16)  # 4 frames, 33 samples: fine for a stage's unit test
    problems = " | ".join(tiny.encoder_problems())
    assert "geometry.frame_size = 16" in problems and "SlowFast-R50" in problems
    assert "spectrogram 33 x 5" in problems and "VGG16" in problems
    assert "imu.lowpass_hz = 99 Hz" in ClipGeometry().lowpass_problem(99.0)
    assert ClipGeometry(imu_rate_hz=400).lowpass_problem(99.0) is None


def test_from_dict_round_trip_and_errors():
    g = ClipGeometry(window_s=2, fps=16)
    assert ClipGeometry.from_dict(g.to_dict()) == g and ClipGeometry.from_dict(None) == DEFAULT_GEOMETRY
    assert ClipGeometry(window_s=2).to_dict() == ClipGeometry(window_s=2.0).to_dict()  # one config, one hash
    with pytest.raises(GeometryError, match="cfg.yaml: unknown key.*'frames'.*derived"):
        ClipGeometry.from_dict({"frames": 32}, "cfg.yaml")
    with pytest.raises(GeometryError, match="cfg.yaml: .*must be a mapping"):
        ClipGeometry.from_dict([1], "cfg.yaml")
