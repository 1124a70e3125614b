"""The mistake sweep (issue 14): every command, run the way a new user gets it wrong, answers with exit status 2
and a short message (one line, two at most) naming the problem and the fix, never a traceback, within seconds.

Each case runs the real command through ``egoimu.cli.main`` in this process, against the shared small build
(``built_epic``: its raw dataset and its output) and a 2-step training run (``eval_tiny_run``); a missing extra
is simulated in a subprocess whose interpreter has the module removed (``sys.modules[name] = None``: Python's
own way to make ``import name`` fail and ``importlib.util.find_spec(name)`` find nothing), so the dispatcher's
real check runs.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from egoimu import cli

REPO = Path(__file__).resolve().parents[2]
SECONDS = 20  # each case answers within this (the unreachable scheduler: a 5 s connect timeout)

#: (id, argv with {raw} {out} {run} {file} {empty} {tmp} placeholders, words the message must contain)
CASES: list[tuple[str, list[str], list[str]]] = [
    # build
    ("build-root-missing", ["build", "{tmp}/nothing", "{tmp}/o"], ["dataset root", "is not a folder"]),
    ("build-root-is-file", ["build", "{file}", "{tmp}/o"], ["is a file", "pass the dataset's folder"]),
    ("build-out-is-file", ["build", "{raw}", "{file}", "--quiet"], ["is a file, not a folder", "choose"]),
    ("build-out-under-file", ["build", "{raw}", "{file}/sub", "--quiet"], ["is a file", "choose another path"]),
    ("build-out-earlier-build", ["build", "{raw}", "{out}", "--quiet"], ["earlier build", "--resume"]),
    ("build-scheduler-unreachable", ["build", "{raw}", "{tmp}/o", "--scheduler", "tcp://127.0.0.1:9", "--quiet"],
     ["cannot reach the Dask scheduler", "leave --scheduler out"]),
    ("build-workers-zero", ["build", "{raw}", "{tmp}/o", "--workers", "0"], ["--workers", "integer >= 1"]),
    ("build-ratio-two-parts", ["build", "{raw}", "{tmp}/o", "--ratio", "1:2"], ["--ratio", "three"]),
    ("build-split-file-missing", ["build", "{raw}", "{tmp}/o", "--split", "{tmp}/nosuch.csv"],
     ["--split", "neither planned, canonical nor a file"]),
    ("build-annotations-missing", ["build", "{raw}", "{tmp}/o", "--annotations", "{tmp}/nosuch.csv"],
     ["nosuch.csv", "cannot open"]),
    ("build-config-missing", ["build", "{raw}", "{tmp}/o", "--config", "{tmp}/nosuch.yaml"],
     ["nosuch.yaml", "not found"]),
    ("build-encoding-bad", ["build", "{raw}", "{tmp}/o", "--encoding", "png"], ["--encoding", "choose from"]),
    # audit
    ("audit-raw-dataset", ["audit", "{raw}"], ["this is not a build output", "egoimu build"]),
    ("audit-missing", ["audit", "{tmp}/nothing"], ["does not exist", "egoimu build"]),
    ("audit-manifest-file", ["audit", "{out}/manifest.json"], ["is a file", "pass the build's folder"]),
    ("audit-sync-raw-dataset", ["audit", "--sync", "{raw}"], ["this is not a build output", "egoimu build"]),
    # train
    ("train-raw-dataset", ["train", "{raw}", "--run-dir", "{tmp}/r"], ["this is not a build output", "egoimu build"]),
    ("train-manifest-file", ["train", "{out}/manifest.json", "--run-dir", "{tmp}/r"],
     ["is a file", "pass the build's folder"]),
    ("train-data-missing", ["train", "{tmp}/nothing", "--run-dir", "{tmp}/r"], ["does not exist", "egoimu build"]),
    ("train-model-bad", ["train", "{out}", "--run-dir", "{tmp}/r", "--model", "huge"], ["--model", "choose from"]),
    ("train-unknown-key", ["train", "{out}", "--run-dir", "{tmp}/r", "nokey=3"], ["unknown config key 'nokey'"]),
    ("train-run-dir-is-file", ["train", "{out}", "--run-dir", "{file}", "--model", "small", "batch_size=4",
                               "--steps", "2", "warmup_steps=1", "num_workers=0"], ["a-file", "a file is in the way"]),
    ("train-resume-nothing", ["train", "{out}", "--run-dir", "{tmp}/r", "--resume"], ["last.pt", "nothing to resume"]),
    # eval
    ("eval-corr-run-missing", ["eval", "corr", "{tmp}/runs/nonexist"], ["does not exist", "--run-dir"]),
    ("eval-corr-build-not-run", ["eval", "corr", "{out}"], ["is a build output, not a training run", "--run-dir"]),
    ("eval-corr-run-is-file", ["eval", "corr", "{file}"], ["is a file", "--checkpoint"]),
    ("eval-corr-data-raw", ["eval", "corr", "{run}", "--data", "{raw}"],
     ["this is not a build output", "egoimu build"]),
    ("eval-probe-data-raw", ["eval", "probe", "--random", "small", "--data", "{raw}"],
     ["this is not a build output", "egoimu build"]),
    ("eval-supervised-not-runs", ["eval", "supervised", "{empty}", "{empty}"], ["not a training run", "--run-dir"]),
    ("eval-unknown", ["eval", "nosuch"], ["unknown evaluation 'nosuch'", "choose from"]),
    ("eval-corr-n-boot-bad", ["eval", "corr", "{run}", "--n-boot", "x"], ["--n-boot", "invalid int"]),
    ("eval-corr-out-dir-is-file", ["eval", "corr", "{run}", "--out-dir", "{file}", "--n-boot", "0",
                                   "--num-workers", "0"], ["a-file", "a file is in the way"]),
    # the others
    ("embed-out-is-folder", ["embed", "{run}", "--data", "{out}", "--out", "{empty}", "--num-workers", "0"],
     ["empty", "that is a folder: give a file name"]),
    ("audit-json-under-file", ["audit", "{out}", "--json", "{file}/a.json", "--quiet"],
     ["cannot write --json", "a file is in the way"]),
    ("embed-data-manifest-file", ["embed", "{run}", "--data", "{out}/manifest.json", "--out", "{tmp}/f.h5"],
     ["is a file", "pass the build's folder"]),
    ("embed-no-representation", ["embed", "--data", "{out}", "--out", "{tmp}/f.h5"], ["give exactly one of RUN"]),
    ("report-no-results", ["report", "{empty}", "--out", "{tmp}/rep"], ["no evaluation results", "eval-*.json"]),
    ("split-plan-missing", ["split-plan", "{tmp}/nosuch.csv"], ["nosuch.csv", "no such file"]),
    ("extract-imu-missing", ["extract-imu", "{tmp}/nosuch.MP4", "--out", "{tmp}/imu"], ["nosuch.MP4", "not found"]),
    ("synth-out-is-file", ["synth", "epic", "{file}"], ["is a file, not a folder", "choose"]),
    ("synth-unknown-kind", ["synth", "nosuch", "{tmp}/s"], ["unknown kind 'nosuch'", "epic, dogcentric"]),
    ("demo-out-is-file", ["demo", "--out", "{file}"], ["is a file, not a folder", "choose"]),
    ("demo-seeds-zero", ["demo", "--seeds", "0", "--out", "{tmp}/demo"], ["--seeds", ">= 1"]),
    ("bench-unknown-group", ["bench", "nosuch"], ["invalid choice: 'nosuch'", "--help"]),
    ("info-raw-dataset", ["info", "{raw}"], ["this is not a build output", "egoimu build"]),
    ("info-manifest-file", ["info", "{out}/manifest.json"], ["is a file", "pass the build's folder"]),
    ("view-raw-dataset", ["view", "{raw}", "P01_101_0", "--out", "{tmp}/p.html"],
     ["not an egoimu build", "egoimu build ROOT OUT"]),
    ("view-unknown-clip", ["view", "{out}", "nosuch", "--out", "{tmp}/p.html"], ["unknown clip id 'nosuch'", "--list"]),
    ("unknown-command", ["nosuch"], ["unknown command 'nosuch'", "egoimu --help"]),
]


def check_answer(rc: int, err: str, seconds: float, words: list[str]) -> None:
    """Exit status 2, a message of one or two lines naming the problem and the fix, no traceback, in time."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2, (rc, err[-3000:])
    assert "Traceback" not in err, err[-3000:]
    assert 1 <= len(lines) <= 2, err[-3000:]
    for word in words:
        assert word in lines[-1], (word, lines[-1])
    assert seconds < SECONDS, f"took {seconds:.1f} s"


@pytest.fixture
def places(built_epic, eval_tiny_run, tmp_path) -> dict[str, str]:
    (tmp_path / "a-file").write_text("not a folder\n")
    (tmp_path / "empty").mkdir()
    root, out = built_epic
    return {"raw": str(root), "out": str(out), "run": str(eval_tiny_run[1]), "file": str(tmp_path / "a-file"),
            "empty": str(tmp_path / "empty"), "tmp": str(tmp_path)}


@pytest.mark.parametrize(("argv", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_mistake_gets_one_line(argv, words, places, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # a command that wrongly wrote relative files would write here
    before = sorted(Path(places["out"]).rglob("*"))
    t0 = time.perf_counter()
    rc = cli.main([a.format(**places) for a in argv])
    seconds = time.perf_counter() - t0
    check_answer(rc, capsys.readouterr().err, seconds, words)
    assert sorted(Path(places["out"]).rglob("*")) == before, "the shared build was changed"


def test_the_sweep_covers_every_command():
    assert len(CASES) >= 25
    assert {c[1][0] for c in CASES} >= set(cli.COMMANDS)


#: removes the named modules from this interpreter, then runs the dispatcher on the rest of the command line
BLOCKED = ("import sys\n"
           "for name in sys.argv[1].split(','):\n"
           "    sys.modules[name] = None  # 'import name' fails, find_spec(name) finds nothing\n"
           "from egoimu.cli import main\n"
           "sys.exit(main(sys.argv[2:]))\n")


@pytest.mark.parametrize(("blocked", "argv", "words"), [
    ("torch", ["eval", "corr", "runs/x"], ["egoimu eval: needs the 'train' extra", "torch", "pip install"]),
    ("distributed", ["build", "raw", "out"], ["egoimu build: needs the 'pipeline' extra", "dask", "pip install"]),
    ("matplotlib", ["report", "runs", "--out", "r"], ["egoimu report: needs the 'train' extra", "matplotlib"]),
    ("scipy", ["synth", "epic", "s"], ["egoimu synth: needs the 'pipeline' extra", "scipy"]),
    ("torch", ["demo", "--out", "demo"], ["egoimu demo: needs the 'pipeline' and 'train' extras", "torch"]),
], ids=["eval-without-torch", "build-without-dask", "report-without-matplotlib", "synth-without-scipy",
        "demo-without-torch"])
def test_a_missing_extra_gets_one_line(blocked, argv, words, tmp_path):
    """The command is refused before anything runs: ``demo`` without torch writes nothing (no synth, no build)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", BLOCKED, blocked, *argv], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    check_answer(proc.returncode, proc.stderr, time.perf_counter() - t0, words)
    assert list(tmp_path.iterdir()) == [], "a refused command wrote files"


def test_an_internal_error_still_shows_its_traceback(tmp_path):
    """A bug is not a user mistake: an exception no command turns into a message (here from a command added to
    the real dispatcher's table whose ``main`` raises RuntimeError) propagates with its traceback, exit 1."""
    code = ("import sys, types\n"
            "from egoimu import cli\n"
            "module = types.ModuleType('crashing')\n"
            "def main(argv):\n"
            "    raise RuntimeError('an internal error')\n"
            "module.main = main\n"
            "sys.modules['crashing'] = module\n"
            "cli.COMMANDS['crash'] = cli.Command('crashing', '', 'raises')\n"
            "sys.exit(cli.main(['crash']))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "RuntimeError: an internal error" in proc.stderr
