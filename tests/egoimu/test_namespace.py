"""One installed namespace: a wheel holds only ``egoimu``; a user's own ``train.py``, ``pipeline/`` and
``manifests/`` in the working folder shadow nothing (``python -m egoimu``, the README's loader snippet)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

from egoimu import __version__

REPO = Path(__file__).resolve().parents[2]
#: repository folder -> the package it is installed as
SIDES = {"egoimu": "egoimu", "pipeline": "egoimu.pipeline", "train": "egoimu.train", "manifests": "egoimu.manifests"}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def _repo_packages() -> set[str]:
    """Every package of the repository's four source folders, by its installed name."""
    out = set()
    for folder, name in SIDES.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder).parts
            out.add(".".join((name, *rel)))
    return out


def test_wheel_has_egoimu_as_its_only_top_level_package(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", *SIDES):
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy
        copy(REPO / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                         if (REPO / name).is_dir() else {}))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "--disable-pip-version-check", str(src), "-w", str(tmp_path / "dist")],
                          capture_output=True, text=True, timeout=300, env=_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("egoimu-*.whl")
    assert wheel.name.startswith(f"egoimu-{__version__}-")  # the version's one source is egoimu.__version__
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"egoimu"}
    packaged = {n.rsplit("/", 1)[0].replace("/", ".") for n in names if n.endswith("/__init__.py")}
    assert packaged == _repo_packages(), "pyproject.toml's package list and the source folders disagree"
    assert "egoimu/manifests/epic100_headmotion_split.csv" in names
    assert "egoimu/manifests/README.md" in names
    docs = zipfile.ZipFile(wheel).read("egoimu/manifests/README.md").decode()  # the manifests documentation,
    assert docs == (REPO / "manifests" / "README.md").read_text(encoding="utf-8")  # with the generated columns
    assert "### clips.csv" in docs and "| `verb_class` |" in docs and "| `shard_tasks` |" in docs
    dist_info = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
    assert zipfile.ZipFile(wheel).read(dist_info).decode().split() == ["egoimu"]


def test_installed_version_is_the_packages():
    assert metadata.version("egoimu") == __version__


def test_python_m_egoimu_is_not_shadowed_by_a_users_folder(user_folder):
    for argv in (["--version"], ["build", "--help"], ["audit", "--help"], ["train", "--help"]):
        proc = subprocess.run([sys.executable, "-m", "egoimu", *argv], cwd=user_folder, capture_output=True,
                              text=True, timeout=120, env=_env())
        assert proc.returncode == 0, (argv, proc.stderr[-3000:])
        assert "was imported instead" not in proc.stderr


def _readme_loader_snippet() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"```python\n(from egoimu\.train\.data import .*?)```", text, re.S)
    assert match, "README's loader snippet (from egoimu.train.data import ...) not found"
    return match.group(1)


def test_readme_loader_snippet_runs_from_a_users_folder(built_epic, user_folder):
    _, data = built_epic
    snippet = _readme_loader_snippet().replace('"shards/"', repr(str(data)))
    snippet = snippet.replace("range(10)", "range(1)").replace("batch_size=16", "batch_size=4")  # 13 train clips
    code = ("import torch\nrank, world_size, device = 0, 1, torch.device('cpu')\n" + snippet
            + "\nprint('batch', tuple(video.shape), tuple(spec.shape))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=user_folder, capture_output=True, text=True,
                          timeout=300, env=_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "batch (" in proc.stdout
