"""egoimu/extras.py: the extras' metadata against pyproject.toml and the commands' imports against the source.

The rule, checked statically (no installs): a command's modules are the third-party top-level modules imported
by its entry module (egoimu/cli.py) and, transitively, by every egoimu module it imports -- at module level or
inside a function -- or names as a string (``importlib.import_module("egoimu...")``, ``python -m egoimu...``);
imports under ``try/except ImportError`` (optional) and ``if TYPE_CHECKING`` are left out; stdlib and the base
install's modules are left out; extras.IMPLIED adds run-time needs without an import (bokeh for Dask's
dashboard). That set must equal the table's NEEDS[command].modules, and every module must be provided by the
command's extras (PROVIDES), whose distributions must be exactly the extras' requirements in pyproject.toml.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from egoimu import cli, extras

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
PACKAGE_DIR: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]
STDLIB = set(sys.stdlib_module_names) | {"__future__"}
BASE = set(extras.PROVIDES[""])


def _dist(req: str) -> str:
    """The normalised distribution name of a requirement ('dask[distributed]>=2024.1' -> 'dask')."""
    return re.sub(r"[-_.]+", "-", re.split(r"[\s\[<>=!~;@(]", req.strip(), maxsplit=1)[0]).lower()


def _source(module: str) -> tuple[Path, bool] | None:
    """(file, is a package) of an egoimu module, by pyproject's package-dir; None when it is not a module."""
    for prefix in sorted(PACKAGE_DIR, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            base = ROOT / PACKAGE_DIR[prefix]
            rest = module[len(prefix) + 1:].split(".") if module != prefix else []
            path = base.joinpath(*rest)
            if path.with_suffix(".py").is_file():
                return path.with_suffix(".py"), False
            if (path / "__init__.py").is_file():
                return path / "__init__.py", True
    return None


def _optional(node: ast.Try) -> bool:
    names = " ".join(ast.unparse(h.type) for h in node.handlers if h.type is not None)
    return "ImportError" in names or "ModuleNotFoundError" in names


@cache
def _imports(module: str) -> tuple[tuple[str, bool], ...]:
    """(imported dotted name, at module level) of one egoimu module; names are resolved to modules where the
    name is an egoimu module; optional and TYPE_CHECKING imports left out; docstrings are not strings."""
    path, is_package = _source(module)
    out: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Try) and _optional(child):
                for part in (child.handlers, child.orelse, child.finalbody):
                    for stmt in part:
                        visit(stmt, top)
                continue
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Expr) and isinstance(child.value, ast.Constant):
                continue  # a docstring
            if isinstance(child, ast.Import):
                out.extend((alias.name, top) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = module.split(".")[: None if is_package else -1]
                    parts = parts[: len(parts) - (child.level - 1)]
                    base = ".".join(parts + ([child.module] if child.module else []))
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    out.append((full if _source(full) else base, top))
            elif isinstance(child, ast.Constant) and isinstance(child.value, str):
                if re.fullmatch(r"egoimu(\.\w+)+", child.value) and _source(child.value):
                    out.append((child.value, False))  # started by name: importlib, python -m
            visit(child, top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(path.read_text()), True)
    return tuple(out)


def closure(module: str, lazy: bool = True) -> tuple[set[str], set[str]]:
    """(egoimu modules, third-party dotted imports) reached from ``module``; module-level only unless ``lazy``."""
    seen: set[str] = set()
    third: set[str] = set()
    todo = [module]
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        parts = mod.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts)) if _source(".".join(parts[:i]))]
        for name, top in _imports(mod):
            if not (top or lazy):
                continue
            if name.split(".")[0] == "egoimu":
                if _source(name):
                    todo.append(name)
            elif name.split(".")[0] not in STDLIB:
                third.add(name)
    return seen, third


def derived_modules(module: str) -> set[str]:
    """The table's rule for a command's entry module: top-level third-party modules beyond the base install."""
    _, third = closure(module)
    tops = {name.split(".")[0] for name in third}
    for name in third:
        for key, implied in extras.IMPLIED.items():
            if name == key or name.startswith(key + "."):
                tops |= set(implied)
    return tops - BASE


def test_table_covers_the_dispatchers_commands() -> None:
    assert set(extras.NEEDS) == set(cli.COMMANDS)
    for name, needs in extras.NEEDS.items():
        assert set(needs.extras) <= set(PROJECT["optional-dependencies"]), name


@pytest.mark.parametrize("extra", ["", *sorted(set(PROJECT["optional-dependencies"]) - {"dev"})])
def test_provides_is_exactly_pyproject(extra: str) -> None:
    reqs = PROJECT["dependencies"] if extra == "" else PROJECT["optional-dependencies"][extra]
    assert {_dist(r) for r in reqs} == {_dist(d) for d in extras.PROVIDES[extra].values()}, extra


def test_dev_extra_holds_every_user_extra() -> None:
    users = set(PROJECT["optional-dependencies"]) - {"dev"}
    dev = " ".join(PROJECT["optional-dependencies"]["dev"])
    assert set(re.search(r"egoimu\[([^\]]*)\]", dev).group(1).split(",")) == users


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_command_modules_are_the_sources_imports(command: str) -> None:
    assert derived_modules(cli.COMMANDS[command].module) == set(extras.NEEDS[command].modules)


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_command_modules_come_with_its_extras(command: str) -> None:
    needs = extras.NEEDS[command]
    provided = set().union(*(extras.PROVIDES[e] for e in needs.extras)) if needs.extras else set()
    assert set(needs.modules) <= provided, f"{command}: {set(needs.modules) - provided} in none of {needs.extras}"


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_module_level_imports_are_base_or_the_extras(command: str) -> None:
    """What ``import``ing the command's module (the dispatcher's first step) needs is base or its extras'."""
    _, third = closure(cli.COMMANDS[command].module, lazy=False)
    needs = extras.NEEDS[command]
    allowed = BASE.union(*(extras.PROVIDES[e] for e in needs.extras))
    assert {name.split(".")[0] for name in third} <= allowed


def test_the_dispatcher_imports_only_the_standard_library() -> None:
    """``egoimu --help`` and a refusal need nothing but the standard library (no extra, not even the base)."""
    for module in ("egoimu.cli", "egoimu.extras"):
        _, third = closure(module, lazy=False)
        assert third == set(), (module, third)


def test_the_pipeline_extra_has_the_dashboard_and_no_torch() -> None:
    assert {"bokeh", "distributed", "scipy"} <= set(extras.PROVIDES["pipeline"])
    assert "torch" not in extras.PROVIDES["pipeline"]
    assert not any("torch" in derived_modules(cli.COMMANDS[c].module) for c, n in extras.NEEDS.items()
                   if "train" not in n.extras)


def test_nothing_missing_in_the_dev_install() -> None:
    assert {c: extras.missing_extra(c) for c in cli.COMMANDS} == dict.fromkeys(cli.COMMANDS)


def test_missing_extra_names_the_extra_and_the_install_line() -> None:
    """A real interpreter without site-packages (``-S``): no torch, no dask, only the standard library."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from egoimu.extras import missing_extra; "
            "[print(c, '|', missing_extra(c)) for c in sys.argv[2:]]")
    cmds = ["train", "build", "report", "demo", "audit"]
    run = subprocess.run([sys.executable, "-S", "-c", code, str(ROOT), *cmds], capture_output=True, text=True,
                         timeout=60, check=True)
    lines = dict(line.split(" | ", 1) for line in run.stdout.splitlines())
    assert lines["audit"] == "None"
    assert lines["train"].startswith("egoimu train: needs the 'train' extra (not installed: ")
    assert "torch" in lines["train"] and "pip install torch==2.13.0 && pip install '.[train]'" in lines["train"]
    assert "pip install torch==2.13.0 && pip install 'egoimu-0.1.0-py3-none-any.whl[train]'" in lines["train"]
    assert "'pipeline' extra" in lines["build"] and "dask" in lines["build"] and "bokeh" in lines["build"]
    assert "pip install '.[pipeline]'" in lines["build"] and "torch" not in lines["build"]
    assert "matplotlib" in lines["report"]
    assert "pip install torch==2.13.0 && pip install '.[pipeline,train]'" in lines["demo"]
    check = subprocess.run([sys.executable, "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                            "from egoimu.extras import main; sys.exit(main(['train']))", str(ROOT)],
                           capture_output=True, text=True, timeout=60)
    # refused: train, embed, eval, report, view
    assert check.returncode == 1 and check.stderr.count("egoimu ") == 5, check.stderr
    assert check.stdout.strip() == "egoimu extras train: 3 command(s) can run: audit, split-plan, info"


@pytest.mark.parametrize("args, rc, out", [(["pipeline", "train"], 0, "13 command(s) can run"),
                                           (["pipeline"], 0, "6 command(s) can run: synth, build, extract-imu, "),
                                           (["gpu"], 2, "no extra 'gpu'")])
def test_python_m_extras_checks_the_installed_extras(args: list[str], rc: int, out: str) -> None:
    run = subprocess.run([sys.executable, "-m", "egoimu.extras", *args], capture_output=True, text=True, timeout=60)
    assert run.returncode == rc and out in run.stdout + run.stderr, (run.stdout, run.stderr)


def test_readme_install_table_uses_the_install_lines() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Set-up: two commands", 1)[1].split("\n## ", 1)[0]
    wheel = f"dist/{extras.WHEEL}"
    assert f"`pip wheel . -w dist --no-deps`, which writes\n`{wheel}`" in section
    for combo in [("pipeline",), ("train",), ("pipeline", "train"), ()]:
        assert f"`{extras.install_line(combo)}`" in section, combo
        assert f"`{extras.install_line(combo, wheel)}`" in section, combo
