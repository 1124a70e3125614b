"""``egoimu synth {epic,dogcentric,ego4d} OUT ...``: write a synthetic dataset."""

from __future__ import annotations

import importlib
import sys

KINDS = {
    "epic": ("egoimu.pipeline.synth.epic", "EPIC-KITCHENS-100 layout: videos, GoPro IMU CSVs, annotations"),
    "dogcentric": ("egoimu.pipeline.synth.dogcentric", "DogCentric-Activity layout: per-activity .avi clips"),
    "ego4d": ("egoimu.pipeline.synth.ego4d", "Ego4D v2 layout: canonical videos, IMU CSVs, narration.json"),
}


def main(argv: list[str] | None = None) -> int:
    """Dispatch to ``egoimu.pipeline.synth.<kind>.main``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: egoimu synth {epic,dogcentric,ego4d} OUT [options]\n")
        for kind, (_, summary) in KINDS.items():
            print(f"  {kind:<11} {summary}")
        print("\n'egoimu synth KIND --help' lists a kind's options.")
        return 0
    if argv[0] not in KINDS:
        print(f"egoimu synth: unknown kind {argv[0]!r}; choose from {', '.join(KINDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(KINDS[argv[0]][0])
    return int(module.main(argv[1:]) or 0)
