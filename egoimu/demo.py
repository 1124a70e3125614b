"""``egoimu demo``: the whole chain on the embedded synthetic default.

Grows as the issues land: synth -> build -> train -> eval -> report. Today it runs what exists.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Run the demo chain into ``--out``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="egoimu demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from pipeline.synth import cli as synth_cli

    t0 = time.perf_counter()
    data = args.out / "epic"
    print(f"[demo] 1/1 synth epic -> {data}", file=sys.stderr)
    rc = synth_cli.main(["epic", str(data), "--participants", "3", "--videos-per-participant", "2",
                         "--seconds", "60", "--seed", str(args.seed)])
    if rc:
        return rc
    print(f"[demo] done in {time.perf_counter() - t0:.1f} s: {data}")
    return 0
