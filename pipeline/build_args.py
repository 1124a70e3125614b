"""``egoimu build``'s command line: the options, and the build config they make, checked before any work.

Every bad argument stops the command before a file is read or a Dask cluster started, with one line on stderr
naming the option, the bad value and what is allowed, and exit status 2. Where an option sets a config value
(``--clips-per-shard``, ``--ssl-windows``, ``--ratio``, ...) the rule lives in the config's frozen dataclass
(:mod:`egoimu.pipeline.config`, :class:`~egoimu.pipeline.clips.ClipConfig`), so that a ``--config`` file is
held to the same rule; this module only adds the option's name to the message. The inputs that decide the
plan and are cheap to read are read here too: the sync table (:func:`read_sync_table`, once, in the driver:
each probe task receives its video's entry) and a ``--split FILE``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import yaml

from egoimu.manifests.clihelp import HelpFormatter, OneLineParser, examples
from egoimu.manifests.split_plan import read_plan_csv
from egoimu.manifests.tables import SYNC_MODES
from egoimu.pipeline.config import BuildConfig, read_config_file
from egoimu.pipeline.graph import DEFAULT_DASHBOARD
from egoimu.pipeline.imu import SyncParams
from egoimu.pipeline.imu_timing import load_sync_table
from egoimu.pipeline.sources.sync_defaults import SYNC_DEFAULTS, sync_default

PROG = "egoimu build"
SPLIT_MODES = ("planned", "canonical")  # besides a participant_id,split CSV file
T = TypeVar("T")


EXAMPLES = examples(
    "egoimu synth epic data/synth && egoimu build data/synth out/synth",
    "egoimu build /data/EPIC-KITCHENS out/epic --split canonical --workers 4 --encoding jpeg",
    "egoimu build /data/EPIC-KITCHENS out/epic --dry-run",
    "egoimu build /data/gopro out/gopro --source gopro --sync auto",
)

def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _address(text: str) -> str:
    """``HOST:PORT`` (PORT 0..65535; 0 = a free port; ``[::1]:PORT`` for IPv6)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535 or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"expected HOST:PORT (e.g. 127.0.0.1:8787, or 0.0.0.0:8787 to listen on "
                                         f"every interface; port 0 = any free port), got {text!r}")
    return text


def parse_args(argv: list[str] | None, description: str = "") -> argparse.Namespace:
    """The parsed command line (argparse checks types and choices; :func:`make_config` the values)."""
    p = OneLineParser(prog=PROG, description=description, formatter_class=HelpFormatter,
                      epilog=EXAMPLES)
    p.add_argument("root", type=Path, nargs="?", help="dataset root (EPIC layout: PXX/videos, PXX/meta_data, CSVs)")
    p.add_argument("out", type=Path, nargs="?", help="output folder for shards and manifests")
    p.add_argument("--source", choices=("epic", "dogcentric", "gopro", "ego4d"), default="epic",
                   help="dataset kind (default: epic; dogcentric: video-only, label and dog from file names; gopro: "
                        "ROOT/<participant>/*.MP4 (or --participants) with their GPMF IMU; labels from "
                        "--annotations, else unlabelled windows; ego4d: ROOT/ego4d.json, v2/full_scale, v2/imu, "
                        "clips centred on v2/annotations/narration.json's narrations)")
    p.add_argument("--narration-pass", type=int, choices=(1, 2), default=None, metavar="1|2",
                   help="--source ego4d: which narration pass of narration.json to read (default: 1)")
    p.add_argument("--participants", type=Path, metavar="CSV",
                   help="--source gopro: a participant_id,video CSV (video: the MP4's path relative to ROOT) "
                        "instead of one folder per participant")
    p.add_argument("--annotations", type=Path, nargs="+", metavar="CSV",
                   help="annotation files (default: ROOT/EPIC_100_train.csv and EPIC_100_validation.csv; gopro: "
                        "EPIC-100's format or video_id,start_s,stop_s,verb_class, none by default; ego4d: one "
                        "narration.json, by default ROOT/v2/annotations/narration.json)")
    p.add_argument("--split", default=None, metavar="planned|canonical|FILE",
                   help="planned (exact search for the paper's ratio), canonical (the committed EPIC-100 "
                        "head-motion split) or a participant_id,split CSV (default: planned)")
    p.add_argument("--ratio", default=None, metavar="A:B:C", help="target train:validation:test clip ratio "
                   "for --split planned: three integers >= 0, positive sum (default: the paper's 30044:3032:4379)")
    p.add_argument("--config", type=Path, help="YAML config (sections clip, video, imu, spec, shard, split)")
    p.add_argument("--encoding", choices=("raw", "lossless", "jpeg"), help="video storage in the shards")
    p.add_argument("--clips-per-shard", type=int, metavar="N", help="clips per shard file, >= 1 (default: 64)")
    p.add_argument("--backend", choices=("ffmpeg", "decord"), help="video decoder (default: ffmpeg)")
    p.add_argument("--ssl-windows", type=_ssl_windows, metavar="auto|off|STRIDE_S",
                   help="unlabelled 2 s windows for the contrastive objective, tiled over the train videos every "
                        "STRIDE_S seconds (finite, at least one step of the clip grid: 1/24 s); auto: as many as "
                        "bring the train split to 3,000 clips, every 0.5 to 2 s, none when its labelled clips reach "
                        "3,000 (EPIC's do) (--dry-run prints the count and the bytes); off: none (default: auto)")
    p.add_argument("--sync", "--sync-table", dest="sync_table", metavar="auto|assumed|TABLE",
                   help="IMU->video sync: assumed (the source's prior model), auto (that prior corrected by a "
                        "measurement of image motion vs gyroscope, kept below a confidence), or a CSV "
                        "video_id,offset_s,scale overriding it for those videos (--sync-table: the former "
                        "spelling; README: why) (default: per source, printed at the start: " + "; ".join(
                            f"{k} {d.mode} (prior {d.prior})" for k, d in SYNC_DEFAULTS.items() if k != "dogcentric")
                   + ")")
    p.add_argument("--verb-map", type=Path, metavar="CSV", help="EPIC-55 labels: raw_verb,verb_class or "
                   "epic55_class,epic100_class rows, tried before EPIC_100_verb_classes.csv's instances (README)")
    p.add_argument("--video-only", action="store_true",
                   help="keep videos without IMU files (EPIC-55, evaluation sets); shards hold zero IMU")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--workers", type=_positive_int, metavar="N",
                   help="LocalCluster worker processes, >= 1 (default: CPUs, at most 4)")
    g.add_argument("--scheduler", help="address of an existing Dask scheduler, e.g. tcp://127.0.0.1:8786")
    d = p.add_mutually_exclusive_group()
    d.add_argument("--dashboard", type=_address, metavar="HOST:PORT",
                   help=f"where the LocalCluster's Dask dashboard listens (default: {DEFAULT_DASHBOARD}: this "
                        f"machine only, its link printed; none with --quiet; 0.0.0.0:8787 exposes it on every "
                        f"interface)")
    d.add_argument("--no-dashboard", action="store_true", help="start the LocalCluster without a dashboard")
    p.add_argument("--resume", action="store_true",
                   help="continue an earlier build into OUT (verified shards kept; a file under OUT/shards this "
                        "build did not write is moved to OUT/orphaned/, never deleted)")
    p.add_argument("--dry-run", action="store_true", help="print the plan without decoding or writing")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars and no dashboard (its link would not be printed) unless --dashboard")
    p.add_argument("--print-config", action="store_true",
                   help="print the resolved build config (--config and the options on top) as YAML, which --config "
                        "reads back, and exit; ROOT and OUT are not needed")
    args = p.parse_args(argv)
    if not args.print_config and (args.root is None or args.out is None):
        p.error("the following arguments are required: " + ", ".join(
            name for name, value in (("root", args.root), ("out", args.out)) if value is None))
    if args.scheduler and (args.dashboard or args.no_dashboard):
        p.error("argument --dashboard/--no-dashboard: concerns the LocalCluster this command starts, not the "
                "cluster of --scheduler")
    return args


def config_yaml(cfg: BuildConfig) -> str:
    """``--print-config``'s text: the config's sections as YAML (``--config`` reads it back), its hash first."""
    return (f"# egoimu build config {cfg.sha256()[:12]} (read back with --config FILE)\n"
            + yaml.safe_dump(cfg.to_dict(), sort_keys=False, default_flow_style=False))


def dashboard_of(args: argparse.Namespace) -> str | None:
    """The LocalCluster's dashboard address (None: no dashboard). ``--quiet`` prints no link, so the default
    dashboard (a free port) would serve nobody: a quiet build starts one only where ``--dashboard`` names it
    (it costs ~0.5 s of a build's wall time: bokeh's import and its server, measured in docs/performance.md)."""
    if args.no_dashboard or (args.quiet and not args.dashboard):
        return None
    return args.dashboard or DEFAULT_DASHBOARD


def _option(option: str, value: Any, make: Callable[[], T]) -> T:
    """``make()``, its ValueError prefixed with the option and the value given (None: no value)."""
    try:
        return make()
    except ValueError as exc:
        raise ValueError(f"{option}{'' if value is None else f' {value}'}: {exc}") from None


def _ssl_windows(text: str) -> float | str:
    """``--ssl-windows``' value: "auto", "off", or a stride in seconds (its range is the config's rule)."""
    if text in ("auto", "off"):
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto, off or a stride in seconds (e.g. 0.5), got {text!r}"
                                         ) from None


def _split_value(text: str) -> str:
    """``--split``'s value: a mode, or an existing file (its path)."""
    if text in SPLIT_MODES:
        return text
    path = Path(text)
    if path.is_dir():
        raise ValueError(f"--split: {text!r} is a folder, not a participant_id,split CSV file")
    if not path.is_file():
        raise ValueError(f"--split: {text!r} is neither {', '.join(SPLIT_MODES)} nor a file")
    return text


def _ratio(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(":"))
    except ValueError:
        raise ValueError(f"--ratio {text!r}: expected three integers A:B:C (>= 0, positive sum), e.g. "
                         f"30044:3032:4379") from None


def make_config(args: argparse.Namespace) -> BuildConfig:
    """The config file (if any) with the command-line options on top; ValueError (one line) for a bad value,
    naming the option or the config file."""
    cfg = BuildConfig.load(args.config) if args.config else BuildConfig()
    if sync_origin(args) == "default":
        cfg = cfg.replace(sync_mode=sync_default(args.source).mode)
    shard = cfg.shard
    if args.encoding:
        shard = replace(shard, encoding=args.encoding)
    if args.clips_per_shard is not None:
        shard = _option("--clips-per-shard", args.clips_per_shard,
                        lambda: replace(shard, clips_per_shard=args.clips_per_shard))
    split = cfg.split
    if args.source == "dogcentric":
        split = replace(split, mode="single", ratio=(0, 0, 1), seed=0, file=None)
    elif args.source in ("gopro", "ego4d") and (args.split or split.mode) == "canonical":
        raise ValueError(f"--split canonical is EPIC-KITCHENS-100's participants; --source {args.source} takes "
                         f"planned or a participant_id,split FILE")
    if args.narration_pass is not None and args.source != "ego4d":
        raise ValueError(f"--narration-pass is for --source ego4d (--source {args.source} has no narration passes)")
    if args.source == "ego4d" and args.annotations and len(args.annotations) > 1:
        raise ValueError(f"--annotations: --source ego4d reads one narration.json, got {len(args.annotations)} "
                         f"files")
    if args.participants is not None and args.source != "gopro":
        raise ValueError(f"--participants is for --source gopro (--source {args.source} finds its participants "
                         f"itself)")
    if args.split is not None and args.source != "dogcentric":
        mode = _split_value(args.split)
        split = replace(split, mode="file", file=mode) if mode not in SPLIT_MODES else replace(split, mode=mode)
    if args.ratio is not None:
        ratio = _ratio(args.ratio)
        split = _option("--ratio", repr(args.ratio), lambda: replace(split, ratio=ratio))
    video = replace(cfg.video, backend=args.backend) if args.backend else cfg.video
    clip = cfg.clip
    if args.ssl_windows is not None:
        stride = None if args.ssl_windows == "off" else args.ssl_windows
        clip = _option("--ssl-windows", args.ssl_windows, lambda: replace(cfg.clip, ssl_stride_s=stride))
    sync, mode = cfg.sync_table, cfg.sync_mode
    if args.sync_table is not None:
        if args.sync_table in SYNC_MODES:
            mode = args.sync_table
        else:
            sync = _sync_file(args.sync_table)
    return cfg.replace(shard=shard, split=split, video=video, clip=clip, sync_table=sync, sync_mode=mode)


def sync_origin(args: argparse.Namespace) -> str:
    """Who chose the build's sync mode: ``--sync``, the config file (its path: its ``sync_mode``), or
    ``default`` (the source's, :mod:`egoimu.pipeline.sources.sync_defaults`)."""
    if args.sync_table in SYNC_MODES:
        return "--sync"
    if args.config and "sync_mode" in read_config_file(args.config):
        return str(args.config)
    return "default"


def _sync_file(text: str) -> str:
    """``--sync``'s value when not a mode: an existing file (its path)."""
    if not Path(text).is_file():
        raise ValueError(f"--sync {text!r}: not a mode ({', '.join(SYNC_MODES)}) and file not found (expected "
                         f"{' or '.join(SYNC_MODES)} or a CSV video_id,offset_s,scale)")
    return text


def read_inputs(args: argparse.Namespace, cfg: BuildConfig) -> dict[str, SyncParams]:
    """Read and check, once and before any work, the inputs named by the options or the config: the sync table
    (returned, {} without one) and a ``--split FILE``. ValueError naming the option, the file and the line."""
    table: dict[str, SyncParams] = {}
    if cfg.sync_table:
        where = "--sync" if args.sync_table not in (None, *SYNC_MODES) else f"sync_table ({args.config})"
        table = _option(where, None, lambda: load_sync_table(cfg.sync_table))
    if cfg.split.mode == "file":
        where = "--split" if args.split else f"split.file ({args.config})"
        _option(where, None, lambda: read_plan_csv(cfg.split.file))
    return table


def one_line_error(message: str) -> int:
    """Print ``message`` as the command's one-line error (bad input, an unreachable cluster, an empty outcome);
    returns exit status 2."""
    print(f"{PROG}: {message}", file=sys.stderr)
    return 2
