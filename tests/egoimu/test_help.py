"""Every ``--help``: plain text (no Sphinx/RST markup), an ``examples:`` section where a new user needs one, and
one style for defaults: every option whose default is a value says ``(default: X)``, and no help text states a
default any other way. ``--json -`` writes to stdout."""

from __future__ import annotations

import argparse
import json
import re

import pytest

from egoimu import cli
from egoimu.manifests.clihelp import HelpFormatter, plain, shows_default
from egoimu.train.eval.cli import EVALUATIONS

#: every command line with a --help of its own (eval's and synth's sub-commands, audit --sync)
HELPS = [[name] for name in cli.COMMANDS if name not in ("eval", "synth")] + \
        [["eval", name] for name in EVALUATIONS] + [["synth", "epic"], ["synth", "dogcentric"], ["synth", "ego4d"],
                                                    ["audit", "--sync"]]
#: the commands whose help shows an example (issue 14; ``info``'s is its own module's)
WITH_EXAMPLES = [["build"], ["train"], ["audit"], ["eval"], ["info"], ["view"],
                 *[["eval", name] for name in EVALUATIONS]]
MARKUP = re.compile(r"`|:(mod|func|class|meth|attr|data|ref|doc):")
#: a default stated otherwise than "(default: X)": "(default X", "(default;", "(default)", "default: X" bare
OTHER_DEFAULT = re.compile(r"\(default(?!: )|(?<!\()\bdefaults?\b\s*[:=]")


@pytest.fixture
def parsers(monkeypatch) -> list[argparse.ArgumentParser]:
    """The argument parsers the command builds (recorded as they print their help)."""
    seen: list[argparse.ArgumentParser] = []
    original = argparse.ArgumentParser.print_help

    def record(self: argparse.ArgumentParser, file=None) -> None:
        seen.append(self)
        original(self, file)

    monkeypatch.setattr(argparse.ArgumentParser, "print_help", record)
    return seen


def _id(argv: list[str]) -> str:
    return " ".join(argv)


@pytest.mark.parametrize("argv", HELPS, ids=_id)
def test_help_is_plain_and_states_defaults_one_way(argv, parsers, capsys):
    assert cli.main([*argv, "--help"]) == 0
    out = capsys.readouterr().out
    assert not MARKUP.search(out), f"markup in `egoimu {_id(argv)} --help`: {MARKUP.search(out).group(0)!r}"
    assert len(parsers) == 1
    parser = parsers[0]
    assert issubclass(parser.formatter_class, HelpFormatter), "the shared formatter (plain text, one default style)"
    formatter = parser._get_formatter()
    for action in parser._actions:
        if action.help in (None, argparse.SUPPRESS):
            continue
        text = formatter._expand_help(action)
        where = f"egoimu {_id(argv)} {'/'.join(action.option_strings) or action.dest}"
        assert not OTHER_DEFAULT.search(text), f"{where}: a default stated another way: {text!r}"
        if shows_default(action):
            assert "(default: " in text, f"{where}: its default {action.default!r} is not shown: {text!r}"
            assert " ".join(text.split()) in " ".join(out.split()), f"{where}: not in the printed help"


@pytest.mark.parametrize("argv", WITH_EXAMPLES, ids=_id)
def test_help_has_examples_one_per_line(argv, capsys):
    assert cli.main([*argv, "--help"]) == 0
    out = capsys.readouterr().out
    assert "\nexamples:\n" in out, f"no examples in `egoimu {_id(argv)} --help`"
    lines = out.split("\nexamples:\n", 1)[1].splitlines()
    commands = [line.strip() for line in lines if line.strip()]
    assert commands and all(line.startswith("  ") for line in lines if line.strip())
    for command in commands:  # one command a line: never two run together
        assert len(re.findall(r"\begoimu(?:\.cli)? ", command)) == 1 + command.count("&& egoimu "), command
        assert argv[-1] in command.split()


def test_plain_removes_sphinx_markup():
    text = "``egoimu build ROOT OUT``: see :mod:`egoimu.pipeline.graph` and :func:`~egoimu.x.load`, `a` b"
    assert plain(text) == "egoimu build ROOT OUT: see egoimu.pipeline.graph and egoimu.x.load, a b"


def test_json_dash_writes_stdout(built_epic, capsys, tmp_path, monkeypatch):
    """``egoimu audit OUT --json -``: the JSON alone on stdout (the text report on stderr), and no file ``-``."""
    _, out = built_epic
    monkeypatch.chdir(tmp_path)
    assert cli.main(["audit", str(out), "--json", "-", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["passed"] is True
    assert "subject" in captured.err.lower()
    assert not (tmp_path / "-").exists()


def test_eval_json_dash_writes_stdout(eval_tiny_run, capsys, tmp_path):
    """``egoimu eval corr RUN --json -``: the summary alone on stdout, the metrics text on stderr."""
    data, run = eval_tiny_run
    assert cli.main(["eval", "corr", str(run), "--data", str(data), "--n-boot", "0", "--num-workers", "0",
                     "--out-dir", str(tmp_path), "--json", "-"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["n"] > 0 and summary["result"].startswith(str(tmp_path))
    assert "roc" in captured.err.lower()


@pytest.mark.parametrize("argv", [[], ["eval"], ["synth"]], ids=["egoimu", "eval", "synth"])
def test_dispatcher_help_is_plain(argv, capsys):
    assert cli.main([*argv, "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage" in out and not MARKUP.search(out)
