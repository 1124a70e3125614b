"""BuildConfig and the clip geometry: one section, derived by every stage, misplaced keys refused."""

from __future__ import annotations

import pytest

from egoimu.manifests.geometry import ClipGeometry, GeometryError
from egoimu.pipeline.build import main as build_main
from egoimu.pipeline.config import STAGE_SECTIONS, BuildConfig


def test_geometry_reaches_every_stage_once():
    cfg = BuildConfig.from_dict({"geometry": {"fps": 16}, "video": {"backend": "decord"}})
    assert cfg.geometry == ClipGeometry(fps=16)
    assert all(getattr(cfg, name).geometry is cfg.geometry for name in STAGE_SECTIONS)
    data = cfg.to_dict()
    assert data["geometry"]["fps"] == 16 and not any("geometry" in data[name] for name in STAGE_SECTIONS)
    assert BuildConfig.from_dict(data) == cfg and BuildConfig.from_dict(data).sha256() == cfg.sha256()
    assert BuildConfig().replace(geometry=ClipGeometry(fps=16)).video.geometry.frames == 32


@pytest.mark.parametrize("data, names", [
    ({"video": {"out_fps": 30}}, ["video.out_fps", "section 'geometry'", "geometry: fps"]),
    ({"clip": {"window_s": 3}, "imu": {"rate_hz": 200}}, ["clip.window_s"]),
    ({"spec": {"nfft": 32, "hop": 4}}, ["spec.hop, spec.nfft"]),
    ({"geometry": {"fps": 15}}, ["2.0 x 15 = 30", "alpha = 4"]),
    ({"imu": {"lowpass_hz": 120.0}}, ["imu.lowpass_hz = 120 Hz", "Nyquist"]),
    ({"geometry": {"nfft": 16}}, ["spectrogram 9 x 50", "VGG16"]),
])
def test_inconsistent_configs_are_refused_naming_the_fields(data, names):
    with pytest.raises(GeometryError) as err:
        BuildConfig.from_dict(data, "cfg.yaml")
    message = str(err.value)
    assert message.startswith("cfg.yaml: ")
    for name in names:
        assert name in message, message


def test_build_command_refuses_out_fps_alone(tmp_path, capsys):
    bad = tmp_path / "cfg.yaml"
    bad.write_text("video: {out_fps: 30}\n")
    rc = build_main([str(tmp_path / "root"), str(tmp_path / "out"), "--config", str(bad), "--dry-run"])
    err = capsys.readouterr().err
    assert rc == 2 and "video.out_fps" in err and "geometry" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
