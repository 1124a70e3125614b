"""The console script: every command's --help works; packages import without the other side's deps."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from egoimu import cli

REPO = Path(__file__).resolve().parents[2]


def test_top_level_help_lists_every_command(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_command_help(name, capsys):
    assert cli.main([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage" in out.lower()


def test_unknown_command_is_an_error(capsys):
    assert cli.main(["no-such-command"]) == 2
    assert "unknown command" in capsys.readouterr().err


def test_console_script_is_installed():
    exe = Path(sys.executable).with_name("egoimu")
    assert exe.exists(), f"console script missing at {exe}: install with pip install -e ."
    proc = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("egoimu ")


BLOCKER = textwrap.dedent(
    """
    import importlib.abc, importlib.util, pkgutil, sys
    BLOCKED = set(sys.argv[1].split(","))
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"blocked for this test: {name}", name=name)
            return None
    sys.meta_path.insert(0, Block())
    for pkg_name in sys.argv[2].split(","):
        pkg = importlib.import_module(pkg_name)
        for info in pkgutil.walk_packages(pkg.__path__, pkg_name + "."):
            if info.name.endswith("__main__"):
                continue
            importlib.import_module(info.name)
    print("ok")
    """
)


@pytest.mark.parametrize(
    ("packages", "blocked"),
    [
        ("manifests,train,egoimu", "dask,distributed,decord,ffmpeg,imageio_ffmpeg"),
        ("manifests,pipeline", "torch"),
    ],
)
def test_import_isolation(packages, blocked):
    """`train` and `manifests` import without dask/decord/ffmpeg; `pipeline` without torch."""
    proc = subprocess.run(
        [sys.executable, "-c", BLOCKER, blocked, packages],
        capture_output=True, text=True, cwd=REPO, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")


def test_a_reader_that_leaves_early_gets_no_traceback(built_epic):
    """``egoimu info OUT | head -0``: stdout is closed before the command writes; it ends quietly (status 141,
    128 + SIGPIPE), with no BrokenPipeError traceback."""
    _, out = built_epic
    proc = subprocess.Popen([sys.executable, "-m", "egoimu", "info", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first write
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141 and "Traceback" not in err and "BrokenPipe" not in err, err
