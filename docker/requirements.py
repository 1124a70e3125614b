"""Print egoimu's requirements (base install plus the named extras) from pyproject.toml, one a line.

The Dockerfiles install these in a layer of their own, before the sources are copied, so that an edit
to the sources does not download the dependencies again; the extras come from pyproject.toml, so the
images stay in step with it.

usage: python requirements.py EXTRA [EXTRA ...] [--exclude NAME ...] [--pyproject PATH]
"""

from __future__ import annotations

import argparse
import re
import sys

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


def _name(req: str) -> str:
    """The normalised project name of a requirement string ('Foo_Bar[x]>=1' -> 'foo-bar')."""
    return re.sub(r"[-_.]+", "-", re.split(r"[\s\[<>=!~;@(]", req.strip(), maxsplit=1)[0]).lower()


def requirements(project: dict, extras: list[str], exclude: set[str]) -> list[str]:
    """Base dependencies plus ``extras`` (self-references such as ``egoimu[pipeline]`` expanded),
    without the projects named in ``exclude``; sorted, no duplicates."""
    optional = project.get("optional-dependencies", {})
    out, todo, seen = set(project.get("dependencies", [])), list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        if extra not in optional:
            raise SystemExit(f"requirements.py: no extra {extra!r} in pyproject.toml ({', '.join(optional)})")
        seen.add(extra)
        for req in optional[extra]:
            if _name(req) == _name(project["name"]):
                todo += re.search(r"\[(.*)\]", req).group(1).replace(" ", "").split(",")
            else:
                out.add(req)
    skip = {_name(e) for e in exclude}
    return sorted(r for r in out if _name(r) not in skip)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("extras", nargs="+")
    ap.add_argument("--exclude", action="append", default=[], help="leave out this project (repeatable)")
    ap.add_argument("--pyproject", default="pyproject.toml")
    args = ap.parse_args(argv)
    with open(args.pyproject, "rb") as fh:
        project = tomllib.load(fh)["project"]
    print("\n".join(requirements(project, args.extras, set(args.exclude))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
