"""The README's layering rules, enforced statically: every import of every module (those inside functions
included, and the module strings of the command tables) is parsed and checked; a planted violation is caught.

Rules (README, Architecture):
- egoimu.manifests imports neither side, nor the dispatcher layer, nor torch, dask, decord, ffmpeg, a JPEG codec
  or scipy;
- egoimu.train never imports egoimu.pipeline or the dispatcher layer, nor dask, decord or ffmpeg;
- egoimu.pipeline never imports egoimu.train or the dispatcher layer, nor torch;
- egoimu/__init__.py imports nothing of egoimu;
- the dispatcher layer (every module directly in egoimu/, and egoimu.bench) may import any side;
- no import circles: the graph of every egoimu module's imports of egoimu modules, those inside functions
  included, has no cycle (so no import exists only to break one).
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: repository folder -> the package it is installed as
FOLDERS = {"egoimu": "egoimu", "pipeline": "egoimu.pipeline", "train": "egoimu.train", "manifests": "egoimu.manifests"}
HEAVY_PIPELINE = ("dask", "distributed", "decord", "ffmpeg", "imageio_ffmpeg")
#: (the importing layer, a forbidden import prefix): one rule a line
RULES: tuple[tuple[str, str], ...] = (
    *(("egoimu.manifests", p) for p in ("egoimu.pipeline", "egoimu.train", "dispatcher", "torch", *HEAVY_PIPELINE,
                                         "simplejpeg", "scipy")),
    *(("egoimu.train", p) for p in ("egoimu.pipeline", "dispatcher", *HEAVY_PIPELINE)),
    *(("egoimu.pipeline", p) for p in ("egoimu.train", "dispatcher", "torch")),
    ("egoimu.__init__", "egoimu"),
)
SIDES = ("egoimu.manifests", "egoimu.train", "egoimu.pipeline")


def module_names(root: Path) -> dict[str, Path]:
    """Installed module name -> file, for every .py file of the four source folders under ``root``."""
    out = {}
    for folder, package in FOLDERS.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = list(path.relative_to(root / folder).with_suffix("").parts)
            if folder == "egoimu" and parts[0] in ("pipeline", "train", "manifests"):
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def imports_of(path: Path, name: str, known: set[str]) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the file, at any depth, plus string literals that name an
    egoimu module (command tables, ``importlib.import_module``, ``-m`` arguments). ``from X import y`` counts
    as importing X, and X.y too where that is a module of ``known``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            out.append((base, node.lineno))
            out += [(f"{base}.{alias.name}", node.lineno) for alias in node.names if f"{base}.{alias.name}" in known]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("egoimu."):
            text = node.value
            if all(part.isidentifier() for part in text.split(".")):
                out.append((text, node.lineno))
    return out


def layer(name: str) -> str:
    """``egoimu.manifests`` | ``egoimu.train`` | ``egoimu.pipeline`` | ``egoimu.__init__`` | ``dispatcher``."""
    if name == "egoimu":
        return "egoimu.__init__"
    for side in SIDES:
        if name == side or name.startswith(side + "."):
            return side
    return "dispatcher"


def violations(root: Path) -> list[str]:
    """Every import that breaks a rule: ``file:line: module (layer) imports X (rule)``."""
    modules = module_names(root)
    found = []
    for name, path in modules.items():
        mine = layer(name)
        for target, line in imports_of(path, name, set(modules)):
            target_layer = layer(target) if target.split(".")[0] == "egoimu" else target.split(".")[0]
            for who, forbidden in RULES:
                if who != mine:
                    continue
                if forbidden == "dispatcher":
                    hit = target.startswith("egoimu") and target_layer == "dispatcher" and target in modules
                elif forbidden == "egoimu":
                    hit = target.split(".")[0] == "egoimu"
                else:
                    hit = target == forbidden or target.startswith(forbidden + ".")
                if hit:
                    found.append(f"{path.relative_to(root)}:{line}: {name} imports {target} "
                                 f"({mine} must not import {forbidden})")
    return sorted(set(found))


def import_graph(root: Path) -> dict[str, set[str]]:
    """egoimu module -> the egoimu modules it imports (at any depth in the file; itself left out)."""
    modules = module_names(root)
    return {name: {target for target, _ in imports_of(path, name, set(modules)) if target in modules and target != name}
            for name, path in modules.items()}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of ``graph``: each strongly connected component of more than one module, sorted
    (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return sorted(cycles)


def test_the_repository_follows_the_layering_rules():
    assert violations(REPO) == []


def test_there_are_no_import_circles():
    graph = import_graph(REPO)
    assert {"egoimu.train.validate", "egoimu.train.model"} <= graph["egoimu.train.loop"]  # the graph is read
    assert import_cycles(graph) == []


def test_a_planted_import_circle_is_reported(tmp_path):
    for folder in FOLDERS:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text('"""a package."""\n')
    (tmp_path / "train" / "loop.py").write_text("from egoimu.train.eval.corr import auc\n"
                                                "from egoimu.train import data\n")
    (tmp_path / "train" / "data.py").write_text("import numpy\n")
    (tmp_path / "train" / "eval").mkdir()
    (tmp_path / "train" / "eval" / "__init__.py").write_text("")
    (tmp_path / "train" / "eval" / "corr.py").write_text(
        "from . import results\n\ndef auc():\n    from egoimu.train.loop import build  # lazily: breaks the circle\n")
    (tmp_path / "train" / "eval" / "results.py").write_text("from egoimu.train.data import x\n")
    (tmp_path / "manifests" / "a.py").write_text("import egoimu.manifests.b\n")
    (tmp_path / "manifests" / "b.py").write_text("from egoimu.manifests import a\n")
    assert import_cycles(import_graph(tmp_path)) == [
        ["egoimu.manifests.a", "egoimu.manifests.b"],
        ["egoimu.train.eval.corr", "egoimu.train.loop"],
    ]


def test_a_planted_violation_is_reported(tmp_path):
    for folder in FOLDERS:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text('"""a package."""\n')
    (tmp_path / "egoimu" / "cli.py").write_text('COMMANDS = {"x": "egoimu.pipeline.build"}\n')  # allowed
    (tmp_path / "pipeline" / "build.py").write_text("import numpy\n")
    (tmp_path / "train" / "embed.py").write_text(
        "def videos():\n    from egoimu.pipeline.build import main  # inside a function: still an import\n")
    (tmp_path / "train" / "loop.py").write_text("from .embed import videos\n")  # relative, allowed
    (tmp_path / "manifests" / "audit.py").write_text("import importlib\nimportlib.import_module('egoimu.train.loop')\n")
    (tmp_path / "pipeline" / "graph.py").write_text("import torch.nn\nfrom egoimu import cli\n")
    assert violations(tmp_path) == [
        "manifests/audit.py:2: egoimu.manifests.audit imports egoimu.train.loop "
        "(egoimu.manifests must not import egoimu.train)",
        "pipeline/graph.py:1: egoimu.pipeline.graph imports torch.nn (egoimu.pipeline must not import torch)",
        "pipeline/graph.py:2: egoimu.pipeline.graph imports egoimu.cli (egoimu.pipeline must not import dispatcher)",
        "train/embed.py:2: egoimu.train.embed imports egoimu.pipeline.build "
        "(egoimu.train must not import egoimu.pipeline)",
    ]
