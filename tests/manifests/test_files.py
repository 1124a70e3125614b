"""egoimu.manifests.files: the one YAML config reader."""

from __future__ import annotations

import pytest

from egoimu.manifests.files import load_yaml_file


def test_a_bad_yaml_config_is_one_line(tmp_path):
    """load_yaml_file: a file that is not YAML is a ValueError of one line naming the file and the place."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1\n", encoding="utf-8")
    with pytest.raises(ValueError) as info:
        load_yaml_file(bad)
    assert "\n" not in str(info.value) and str(info.value).startswith(f"{bad}: not valid YAML/JSON") \
        and "line 2" in str(info.value), info.value
    with pytest.raises(ValueError, match="config file not found"):
        load_yaml_file(tmp_path / "none.yaml")
