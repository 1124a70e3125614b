"""``egoimu eval <evaluation> ...``: the evaluations of a trained run, one module each.

Each evaluation is a module with ``main(argv) -> int``, imported only when it runs.
"""

from __future__ import annotations

import importlib
import sys

EVALUATIONS: dict[str, tuple[str, str]] = {  # name -> (module, summary)
    "corr": ("egoimu.train.eval.corr", "correspondence ROC-AUC, recall@k, MRR of video vs head motion (paper Table 3)"),
    "supervised": ("egoimu.train.eval.supervised_cli",
                   "video-only, head-motion-only and ensemble verb classifiers (paper Tables 1 and 2)"),
    "probe": ("egoimu.train.eval.probe_cli", "linear probe on frozen video features, EPIC verbs (paper Table 4)"),
    "dogcentric": ("egoimu.train.eval.dogcentric_cli",
                   "linear probe on DogCentric's head-motion activities, 2 folds by dog (paper Table 5)"),
}

USAGE = """usage: egoimu eval <evaluation> [options]   (egoimu eval <evaluation> --help for its options)

evaluations:
{listing}

examples:
  egoimu eval corr runs/ssl
  egoimu eval probe runs/ssl --data out/epic
  egoimu eval supervised runs/verb-video runs/verb-imu
  egoimu eval dogcentric runs/ssl --data out/dogcentric
"""


def _usage() -> str:
    width = max(len(name) for name in EVALUATIONS)
    rows = [f"  {name:<{width}}  {summary}" for name, (_, summary) in EVALUATIONS.items()]
    return USAGE.format(listing="\n".join(rows))


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``egoimu eval NAME ...`` to NAME's module; returns its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in EVALUATIONS:
        print(f"egoimu eval: unknown evaluation {name!r}; choose from {', '.join(EVALUATIONS)} (egoimu eval --help)",
              file=sys.stderr)
        return 2
    return int(importlib.import_module(EVALUATIONS[name][0]).main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
