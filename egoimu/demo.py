"""``egoimu demo``: the whole chain on the embedded synthetic default.

Grows as the issues land: synth -> build -> train -> eval -> report. Today: synth -> build.
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
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes for the build")
    args = parser.parse_args(argv)

    from pipeline.build import main as build_main
    from pipeline.synth import cli as synth_cli

    t0 = time.perf_counter()
    data, shards = args.out / "epic", args.out / "shards"
    print(f"[demo] 1/2 synth epic -> {data}", file=sys.stderr)
    if not (data / "synth_truth" / "dataset.json").exists():
        rc = synth_cli.main(["epic", str(data), "--participants", "3", "--videos-per-participant", "2",
                             "--seconds", "60", "--seed", str(args.seed)])
        if rc:
            return rc
    print(f"[demo] 2/2 build -> {shards}", file=sys.stderr)
    if not (shards / "manifest.json").exists():
        rc = build_main([str(data), str(shards), "--workers", str(args.workers), "--resume"])
        if rc:
            return rc
    print(f"[demo] done in {time.perf_counter() - t0:.1f} s: data {data}, shards {shards}")
    return 0
