"""docker/: the Dockerfiles stay in step with pyproject.toml (checked statically; no Docker engine)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS = set(PROJECT["optional-dependencies"])
IMAGES = {"pipeline.Dockerfile": "pipeline", "train.Dockerfile": "train"}


def _instructions(name: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    text = (ROOT / "docker" / name).read_text()
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1] if " " in ln.strip() else "")
            for ln in joined.splitlines() if ln.strip()]


def _pip_installs(name: str) -> list[list[str]]:
    """The argument lists of every ``pip install`` in the Dockerfile's RUN instructions."""
    out = []
    for instr, args in _instructions(name):
        if instr != "RUN":
            continue
        lexer = shlex.shlex(args, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        command: list[str] = []
        for token in [*lexer, ";"]:
            if token not in ("&&", "||", ";", "|", "(", ")", ">", "2>"):
                command.append(token)
                continue
            for i in range(len(command) - 1):
                if command[i].endswith("pip") and command[i + 1] == "install":
                    out.append(command[i + 2:])
            command = []
    return out


@pytest.mark.parametrize("name", IMAGES)
def test_base_image_is_a_build_arg(name: str) -> None:
    instrs = _instructions(name)
    froms = [(i, args) for i, (instr, args) in enumerate(instrs) if instr == "FROM"]
    assert froms, f"{name}: no FROM"
    for i, args in froms:
        m = re.fullmatch(r"\$\{?(\w+)\}?(\s+AS\s+\w+)?", args.strip(), re.IGNORECASE)
        assert m, f"{name}: FROM {args!r} does not use a build arg"
        declared = {a.split("=", 1)[0].strip() for instr, a in instrs[:i] if instr == "ARG"}
        assert m.group(1) in declared, f"{name}: FROM uses ${m.group(1)}, declared by no ARG before it"


@pytest.mark.parametrize("name, extra", IMAGES.items())
def test_installs_an_extra_of_pyproject(name: str, extra: str) -> None:
    installed = set()
    for words in _pip_installs(name):
        for word in words:
            m = re.fullmatch(r"\.\[([\w,-]+)\]", word)
            if m:
                installed |= set(m.group(1).split(","))
    assert installed == {extra} and installed <= EXTRAS, (name, installed, EXTRAS)
    # the dependency layer reads the same extra from pyproject.toml
    runs = " ".join(args for instr, args in _instructions(name) if instr == "RUN")
    assert re.findall(r"requirements\.py\s+([\w-]+)", runs) == [extra]


@pytest.mark.parametrize("name, extra", IMAGES.items())
def test_image_checks_its_extras_commands_can_run(name: str, extra: str) -> None:
    """After installing, the image runs egoimu/extras.py's check of every command of its extra (fails the build
    when one would be refused: a module its commands import that the extra lacks)."""
    runs = [args for instr, args in _instructions(name) if instr == "RUN"]
    last_install = max(i for i, args in enumerate(runs) if f'".[{extra}]"' in args)
    assert re.search(rf"python -m egoimu\.extras {extra}(\s|$)", runs[last_install]), runs[last_install]


def test_train_image_never_pip_installs_torch() -> None:
    for words in _pip_installs("train.Dockerfile"):
        reqs = [w for w in words if not w.startswith("-") and not w.startswith("/")]
        assert not any(re.match(r"torch\b", w, re.IGNORECASE) for w in reqs), words
        if "-r" in words or any(w.startswith(".[") for w in words):  # resolves what needs torch
            assert "-c" in words, f"pip install without the torch constraint: {words}"
    runs = " ".join(args for instr, args in _instructions("train.Dockerfile") if instr == "RUN")
    assert "--exclude torch" in runs
    assert "torch" not in " ".join(w for ws in _pip_installs("pipeline.Dockerfile") for w in ws)


def test_pipeline_image_uses_debians_ffmpeg() -> None:
    runs = " ".join(args for instr, args in _instructions("pipeline.Dockerfile") if instr == "RUN")
    assert re.search(r"apt-get install .*\bffmpeg\b", runs)


def test_requirements_helper_reads_pyproject() -> None:
    def run(*args: str) -> list[str]:
        proc = subprocess.run([sys.executable, str(ROOT / "docker" / "requirements.py"), *args,
                               "--pyproject", str(ROOT / "pyproject.toml")],
                              capture_output=True, text=True, check=True)
        return proc.stdout.split()

    assert run("pipeline") == sorted(PROJECT["dependencies"] + PROJECT["optional-dependencies"]["pipeline"])
    train = run("train", "--exclude", "torch")
    assert not any(r.startswith("torch") for r in train) and "scikit-learn>=1.3" in train
    dev = run("dev", "--exclude", "torch")  # egoimu[pipeline,train] expanded
    assert "decord==0.6.0" in dev and "scikit-learn>=1.3" in dev and not any("egoimu" in r for r in dev)


def test_dockerignore_keeps_environments_and_data_out() -> None:
    patterns = {ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".git", ".venv", "data/", "runs/"} <= patterns
    copied = [args.split()[0] for name in IMAGES for instr, args in _instructions(name) if instr == "COPY"]
    assert all(not any(src.rstrip("/") == p.rstrip("/") for p in patterns) for src in copied), copied
