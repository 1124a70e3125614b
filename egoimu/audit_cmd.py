"""``egoimu audit``: the build audit (:mod:`egoimu.manifests.audit`) and, with ``--sync``, the sync check from the
shards alone (:mod:`egoimu.manifests.sync_check`).

The sync check lives in the dispatcher layer's entry point because shards of the ``jpeg`` encoding need a JPEG
decoder (simplejpeg, in the ``pipeline`` and ``train`` extras), which ``egoimu.manifests`` may not import; the
measurement itself (numpy only) is in ``egoimu.manifests``. ``raw`` and ``lossless`` shards need the base install only.

``egoimu audit --sync OUT [--max-lag-s S] [--min-r R] [--json FILE]`` prints one line per video: the best lag
(ms and output frames; positive = the IMU rows are written that much too early), the peak correlation and the
axis pairing found. Exit status: 0 when every video peaks within one output frame of lag 0 with ``|r| >= R``,
1 otherwise, 2 on a usage error or unreadable shards.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from egoimu.manifests import audit
from egoimu.manifests.clihelp import HelpFormatter, OneLineParser, build_problem, write_json
from egoimu.manifests.shardfmt import ShardFormatError
from egoimu.manifests.sync_check import DEFAULT_MAX_LAG_S, JpegDecoder, SyncCheckError, VideoSync, check_sync

DEFAULT_MIN_R = 0.5


def _jpeg_decoder() -> JpegDecoder | None:
    """simplejpeg's RGB decoder where it is installed, else None (jpeg shards then give a clear error)."""
    try:
        import simplejpeg
    except ModuleNotFoundError:
        return None

    def decode(data: bytes) -> np.ndarray:
        return simplejpeg.decode_jpeg(data, colorspace="RGB")

    return decode


def aligned(result: VideoSync, min_r: float) -> bool:
    """Whether one video's check passes: peak within one output frame of lag 0 and correlation >= ``min_r``."""
    return abs(result.lag_frames) <= 1.0 and result.r >= min_r


def sync_main(argv: list[str]) -> int:
    """``egoimu audit --sync OUT``; returns the exit status."""
    p = OneLineParser(prog="egoimu audit --sync", description=__doc__,
                                formatter_class=HelpFormatter)
    p.add_argument("out", type=Path, help="a build output folder (shards/)")
    p.add_argument("--max-lag-s", type=float, default=DEFAULT_MAX_LAG_S,
                   help=f"search lags in [-S, S] seconds (default: {DEFAULT_MAX_LAG_S})")
    p.add_argument("--min-r", type=float, default=DEFAULT_MIN_R,
                   help=f"the correlation a video needs to pass (default: {DEFAULT_MIN_R})")
    p.add_argument("--json", metavar="FILE", help="also write the per-video results as JSON (-: to stdout, the "
                   "text then goes to stderr)")
    args = p.parse_args(argv)
    if not 0 < args.max_lag_s <= 10:
        p.error(f"--max-lag-s must be in (0, 10], got {args.max_lag_s}")
    if not (args.out / "shards").is_dir() and (problem := build_problem(args.out, "OUT")):  # shards alone do
        print(f"egoimu audit --sync: {problem}", file=sys.stderr)
        return 2
    text = sys.stderr if args.json == "-" else sys.stdout
    try:
        results = check_sync(args.out, _jpeg_decoder(), args.max_lag_s)
    except (SyncCheckError, ShardFormatError, OSError) as exc:
        print(f"egoimu audit --sync: {exc}", file=sys.stderr)
        return 2
    for res in results:
        verdict = "aligned" if aligned(res, args.min_r) else "NOT ALIGNED"
        pairs = ", ".join(f"{ax}~{g} (r {res.r_by_axis[ax]:.3f})" for ax, g in res.pairing.items())
        print(f"{res.video_id}: lag {1000 * res.lag_s:+.1f} ms ({res.lag_frames:+.2f} frames), r {res.r:.3f}, "
              f"{res.clips} clips / {res.pairs} frame pairs; {pairs}: {verdict}", file=text)
    bad = [r.video_id for r in results if not aligned(r, args.min_r)]
    print(f"sync: {len(results) - len(bad)} of {len(results)} videos aligned" + (f"; not: {', '.join(bad)}"
                                                                                  if bad else ""), file=text)
    if args.json:
        write_json(args.json, {"videos": [r.to_json() for r in results], "min_r": args.min_r,
                               "max_lag_s": args.max_lag_s}, indent=1)
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    """``egoimu audit [--sync] ...``: the sync check with ``--sync``, else the build audit."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--sync" in argv:
        return sync_main([a for a in argv if a != "--sync"])
    return audit.main(argv)
