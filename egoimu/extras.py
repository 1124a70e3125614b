"""Which pip extra each ``egoimu`` command needs, and the one-line refusal when it is not installed.

The one table of the optional dependencies, in two parts:

* :data:`PROVIDES`: for the base install (``""``) and each extra of ``pyproject.toml``, the Python modules
  (top-level import names) it provides, each with the distribution that provides it. Its distributions are
  exactly the extra's requirements in ``pyproject.toml`` (``tests/egoimu/test_extras.py`` checks both ways).
* :data:`NEEDS`: for each command, the extras it needs and the modules (beyond the base install) that its
  code imports, at module level or inside a function, following its own modules and the modules it starts by
  name (``importlib``, ``python -m``). Imports inside ``try: ... except ImportError`` are optional and left
  out. :data:`IMPLIED` adds what a module needs at run time without an ``import`` in egoimu's code (Dask's
  dashboard needs bokeh). The test derives each command's modules from the source and compares them with
  this table, so the table cannot drift from the code.

:func:`missing_extra` checks a command's modules with :func:`importlib.util.find_spec` (nothing is imported)
and returns the one-line message that names the extra and its install line, or None.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from egoimu import __version__

#: The trainer's torch, pinned: on these machines torch==2.13.0 is the CPU build on disk; a bare ``torch``
#: requirement would make pip resolve a multi-GB CUDA build.
TORCH_PIN = "torch==2.13.0"

#: extra ("" = the base install) -> {top-level module: the distribution (pyproject name) that provides it}.
PROVIDES: dict[str, dict[str, str]] = {
    "": {"numpy": "numpy", "pandas": "pandas", "h5py": "h5py", "yaml": "PyYAML", "tqdm": "tqdm"},
    "pipeline": {
        "dask": "dask", "distributed": "dask",  # dask[distributed]
        "bokeh": "bokeh",  # the Dask dashboard (distributed needs bokeh>=3.1)
        "decord": "decord", "imageio_ffmpeg": "imageio-ffmpeg", "scipy": "scipy", "simplejpeg": "simplejpeg",
        "psutil": "psutil", "py_gpmf_parser": "py-gpmf-parser",
    },
    "train": {
        "torch": "torch", "scipy": "scipy", "sklearn": "scikit-learn", "matplotlib": "matplotlib",
        "PIL": "pillow", "tensorboard": "tensorboard", "simplejpeg": "simplejpeg", "psutil": "psutil",
    },
}

#: Module (or submodule) -> modules it needs at run time that egoimu's code never imports itself.
IMPLIED: dict[str, tuple[str, ...]] = {
    "distributed": ("bokeh",),  # a LocalCluster's dashboard: "Dask needs bokeh>=3.1.0 for the dashboard"
    "torch.utils.tensorboard": ("tensorboard",),
}


@dataclass(frozen=True)
class Needs:
    """What one command needs beyond the base install."""

    extras: tuple[str, ...]  # the pip extras to install ((): the base install is enough)
    modules: tuple[str, ...]  # the top-level modules its code imports that the base install lacks


#: command -> what it needs (tests/egoimu/test_extras.py derives ``modules`` from the source and compares).
NEEDS: dict[str, Needs] = {
    "synth": Needs(("pipeline",), ("decord", "py_gpmf_parser", "scipy", "simplejpeg")),
    "build": Needs(("pipeline",), ("bokeh", "decord", "distributed", "py_gpmf_parser", "scipy", "simplejpeg")),
    "extract-imu": Needs(("pipeline",), ("py_gpmf_parser",)),
    "audit": Needs((), ()),  # --sync decodes JPEG shards with simplejpeg where installed (optional)
    "split-plan": Needs((), ()),
    "info": Needs((), ()),
    "view": Needs(("train",), ("PIL", "matplotlib")),  # jpeg shards: simplejpeg where installed (optional)
    "train": Needs(("train",), ("psutil", "simplejpeg", "sklearn", "tensorboard", "torch")),
    "embed": Needs(("train",), ("simplejpeg", "torch")),  # VIDEO files: the pipeline's decoder (optional)
    "eval": Needs(("train",), ("simplejpeg", "sklearn", "torch")),
    "report": Needs(("train",), ("matplotlib",)),
    "bench": Needs(("pipeline", "train"), ("bokeh", "decord", "distributed", "psutil", "py_gpmf_parser", "scipy",
                                           "simplejpeg", "sklearn", "tensorboard", "torch")),
    "demo": Needs(("pipeline", "train"), ("bokeh", "decord", "distributed", "matplotlib", "psutil",
                                          "py_gpmf_parser", "scipy", "simplejpeg", "sklearn", "tensorboard",
                                          "torch")),
}


#: The wheel that ``pip wheel . -w dist --no-deps`` writes.
WHEEL = f"egoimu-{__version__}-py3-none-any.whl"


def install_line(extras: tuple[str, ...], source: str = ".") -> str:
    """The README's install line for ``extras`` from ``source`` (a clone's ``.``, or a path to :data:`WHEEL`):
    torch first and pinned where an extra needs it."""
    target = f"pip install '{source}[{','.join(extras)}]'" if extras else f"pip install {source}"
    needs_torch = any("torch" in PROVIDES.get(extra, {}) for extra in extras)
    return f"pip install {TORCH_PIN} && {target}" if needs_torch else target


def _absent(module: str) -> bool:
    """Whether ``module`` cannot be found (an import hook that refuses it counts as absent)."""
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):  # a meta-path finder raising ModuleNotFoundError; a broken __spec__
        return True


def missing_modules(command: str) -> list[str]:
    """The modules that ``command`` needs and that cannot be found here (sorted; [] when all are)."""
    needs = NEEDS[command]
    return sorted(m for m in needs.modules if _absent(m))


def missing_extra(command: str) -> str | None:
    """One line naming the extra ``command`` needs and how to install it, when one of its modules is missing;
    None when the command can run (or is not in the table). Imports nothing.

    >>> missing_extra("audit") is None
    True
    """
    if command not in NEEDS:
        return None
    missing = missing_modules(command)
    if not missing:
        return None
    needs = NEEDS[command]
    dists = sorted({dist for extra in needs.extras for mod, dist in PROVIDES[extra].items() if mod in missing})
    extras = " and ".join(f"'{e}'" for e in needs.extras)
    plural = "s" if len(needs.extras) > 1 else ""
    return (f"egoimu {command}: needs the {extras} extra{plural} (not installed: {', '.join(dists)}); "
            f"install {'them' if plural else 'it'} from a clone of egoimu: {install_line(needs.extras)} "
            f"(from a wheel: {install_line(needs.extras, WHEEL)})")


def refused(extras: tuple[str, ...]) -> dict[str, str]:
    """{command: its :func:`missing_extra` line} for every command that ``extras`` (with the base install) are
    meant to run, and that would be refused here; {} when the installed extras are complete."""
    covered = [name for name, needs in NEEDS.items() if set(needs.extras) <= set(extras)]
    return {name: line for name in covered if (line := missing_extra(name))}


def main(argv: list[str] | None = None) -> int:
    """``python -m egoimu.extras [EXTRA ...]``: check that the commands of these extras can run here (the Docker
    images run it after installing); prints each command that would be refused, exit status 1 if any."""
    import sys

    extras = tuple(sys.argv[1:] if argv is None else argv)
    unknown = [e for e in extras if e not in PROVIDES]
    if unknown:
        print(f"egoimu.extras: no extra {unknown[0]!r} (extras: {', '.join(e for e in PROVIDES if e)})",
              file=sys.stderr)
        return 2
    lines = refused(extras)
    for line in lines.values():
        print(line, file=sys.stderr)
    ok = [name for name, needs in NEEDS.items() if set(needs.extras) <= set(extras) and name not in lines]
    print(f"egoimu extras {','.join(extras) or '(base)'}: {len(ok)} command(s) can run: {', '.join(ok)}")
    return 1 if lines else 0


if __name__ == "__main__":
    raise SystemExit(main())
