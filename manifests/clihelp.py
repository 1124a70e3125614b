"""What every ``egoimu`` command shares on its command line: the help formatter (plain text, one style for
defaults, examples kept one per line), ``--json -`` (stdout), and the check that a folder is a build output.

It lives in the base layer (``egoimu.manifests``) because the commands of every side use it.

- :class:`HelpFormatter`: docstrings reused as descriptions lose their Sphinx markup (``\\`\\`x\\`\\``,
  ``:mod:`x```), every option whose default is a value shows ``(default: X)`` (the one style), and the
  description and the ``examples:`` epilog keep their line breaks.
- :func:`write_json`: ``--json FILE`` writes FILE; ``--json -`` writes to stdout.
- :func:`build_problem`: why a path given as a build output (OUT, DATA) is not one, in one line naming the fix
  (None when it is one), so that ``train``, ``embed``, ``eval`` and ``audit`` say "this is not a build output"
  instead of failing on the first missing table.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, NoReturn, TextIO

from egoimu.manifests.schema import SUMMARY_FILENAME

#: ``:role:`~a.b``` / ``:role:`a.b``` (Sphinx cross references), then ````x```` and ```x``` (RST literals).
_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]*)``|`([^`]*)`")
#: The one way a help text states a default.
DEFAULT_STYLE = "(default: {})"
#: Files of a raw EPIC-KITCHENS dataset root (what ``egoimu build`` reads).
_RAW_MARKERS = ("EPIC_100_train.csv", "EPIC_100_validation.csv")


def plain(text: str) -> str:
    """``text`` without Sphinx/RST markup: ``:func:`~a.b``` -> ``a.b``, double and single backquotes removed."""
    text = _ROLE.sub(lambda m: m.group(1), text)
    return _LITERAL.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), text)


def examples(*lines: str) -> str:
    """An ``examples:`` epilog, one command a line."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def shows_default(action: argparse.Action) -> bool:
    """Whether an option's default is a value worth stating (not None, False, a flag's or help's)."""
    return (action.default is not None and action.default is not argparse.SUPPRESS and action.default is not False
            and action.option_strings != [] and not isinstance(action, (argparse._StoreConstAction,
                                                                         argparse._HelpAction)))


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Plain-text help: no markup; ``(default: X)`` after every option with a value default unless its help
    already says ``(default: ...)``; description and epilog as written (line breaks kept)."""

    def _format_text(self, text: str) -> str:
        return super()._format_text(plain(text))

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text.strip():  # written with its own line breaks: kept
            return super()._fill_text(text, width, indent)
        return argparse.HelpFormatter._fill_text(self, text, width, indent)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = plain(action.help or "")
        if shows_default(action) and "(default:" not in text:
            value = action.default
            shown = " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
            text = f"{text} {DEFAULT_STYLE.format(shown.replace('%', '%%'))}".strip()
        return text


class OneLineParser(argparse.ArgumentParser):
    """An argument parser with :class:`HelpFormatter` whose usage errors are one line on stderr (exit status 2)
    naming the option and pointing to ``--help``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def write_json(target: str | Path, payload: Any, stdout: TextIO | None = None, **dump: Any) -> None:
    """``--json FILE``: ``payload`` as JSON (``dump``: json.dumps options, default indent 2) into FILE, or for
    ``-`` to ``stdout`` (default: sys.stdout). The parent folder of FILE is created."""
    text = json.dumps(payload, **{"indent": 2, **dump}) + "\n"
    if str(target) == "-":
        stream = stdout or sys.stdout
        stream.write(text)
        stream.flush()
        return
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def build_problem(path: str | Path, role: str = "DATA") -> str | None:
    """Why ``path`` is not an ``egoimu build`` output folder, as one line with the fix; None when it holds
    manifest.json. ``role``: the argument's name in the message (DATA, OUT)."""
    path = Path(path)
    build_hint = "run `egoimu build ROOT OUT` and pass OUT"
    if not path.exists():
        return f"{role} {path} does not exist: pass the folder an `egoimu build ROOT OUT` wrote (OUT)"
    if path.is_file():
        if path.name == SUMMARY_FILENAME or path.suffix in (".csv", ".json", ".h5"):
            return f"{role} {path} is a file: pass the build's folder ({path.parent}), not one of its files"
        return f"{role} {path} is a file, not a build output folder: {build_hint}"
    if (path / SUMMARY_FILENAME).is_file():
        return None
    lacking = " and ".join(f"no {name}" for name in (SUMMARY_FILENAME, "shards/") if not (path / name).exists())
    if any((path / name).is_file() for name in _RAW_MARKERS) or any(path.glob("P[0-9]*/videos")):
        return (f"{role} {path} is a raw dataset, this is not a build output ({lacking}): "
                f"run `egoimu build {path} OUT` first and pass OUT")
    return f"{role} {path}: this is not a build output ({lacking}): {build_hint}"


def out_folder_problem(path: str | Path, role: str = "OUT") -> str | None:
    """Why ``path`` cannot be (made) an output folder, in one line naming the fix: it or a folder above it is a
    file, or the nearest existing folder above it is not writable. None when it can."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        return f"{role} {path} is a file, not a folder: choose a new or empty folder (or remove the file)"
    above = path
    while not above.exists():
        if above.parent == above:
            break
        above = above.parent
    if above != path and not above.is_dir():
        return f"{role} {path}: {above} is a file, so the folder cannot be created there: choose another path"
    if above.is_dir() and not os.access(above, os.W_OK | os.X_OK):
        return f"{role} {path}: {above} is not writable: choose a folder you can write to"
    return None


#: errno -> what to do about it, for :func:`os_error_line`
_OS_FIXES = {errno.EEXIST: "a file is in the way of a folder: choose another path",
             errno.ENOTDIR: "a file is in the way of a folder: choose another path",
             errno.EISDIR: "that is a folder: give a file name",
             errno.ENOENT: "check the path",
             errno.EACCES: "not permitted: choose a path you can write to",
             errno.EROFS: "a read-only file system: choose another path",
             errno.ENOSPC: "the disk is full: free space or choose another disk"}


def os_error_line(exc: OSError) -> str:
    """One line for an OSError on a path the user gave (an output that cannot be written, an input that cannot
    be read): the path, the reason and what to do."""
    where = exc.filename if exc.filename is not None else "a file"
    fix = _OS_FIXES.get(exc.errno or 0, "check the path")
    return f"{where}: {exc.strerror or exc} ({fix})"
