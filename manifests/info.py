"""``egoimu info OUT``: what a build is, from its manifests (the summary of its dataset card OUT/README.md).

Prints what the build is and its source, the config hash, the clip geometry, counts per split and participant,
rejections by reason and the verb classes by their class key; ``--json FILE`` (``--json -``: stdout) writes the
same as JSON (:func:`egoimu.manifests.card.build_info`). Needs the base install only. Exit status 0, or 2 with one
line for a folder that is not a build (missing, a file, no manifest.json, manifests that do not load).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from egoimu.manifests.card import build_info, info_markdown
from egoimu.manifests.clihelp import OneLineParser, build_problem, examples
from egoimu.manifests.outputs import CARD_FILENAME
from egoimu.manifests.schema import Manifest, ManifestError
from egoimu.manifests.shardfmt import ShardFormatError

PROG = "egoimu info"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``egoimu info``; returns 0, or 2 with one line on stderr."""
    p = OneLineParser(prog=PROG, description=__doc__,
                      epilog=examples("egoimu info runs/shards",
                                      "egoimu info runs/shards --json - | python -m json.tool"))
    p.add_argument("out", type=Path, help="a build's output folder (manifest.json, the tables, shards/)")
    p.add_argument("--json", metavar="FILE", help="write the summary as JSON to FILE ('-': stdout, instead of the "
                                                  "text)")
    args = p.parse_args(argv)
    problem = build_problem(args.out, "OUT")
    if problem is None:
        try:
            info = build_info(Manifest.load(args.out))
        except (ManifestError, ShardFormatError, ValueError) as exc:
            problem = f"{args.out}: not a valid build: {str(exc).splitlines()[0]} (egoimu audit {args.out} says more)"
    if problem is not None:
        print(f"{PROG}: {problem}", file=sys.stderr)
        return 2
    text = json.dumps(info, indent=2, ensure_ascii=False) + "\n"
    if args.json == "-":
        sys.stdout.write(text)
        return 0
    if args.json:
        try:
            Path(args.json).write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"{PROG}: {args.json}: cannot write: {exc.strerror or exc}", file=sys.stderr)
            return 2
    print(f"{args.out}: an egoimu build (its dataset card: {CARD_FILENAME} there)\n")
    print(info_markdown(info), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
