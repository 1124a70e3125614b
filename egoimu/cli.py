"""The ``egoimu`` console script: a thin dispatcher.

Each command lives in its own module as ``main(argv: list[str] | None) -> int``. The dispatcher
imports that module only when its command runs, so a trainer's install (``egoimu[train]``, no dask,
decord or ffmpeg) can run ``egoimu train`` and a data engineer's can run ``egoimu build`` without torch.
A command whose extra is not installed is refused in one line naming it (egoimu.extras) before its module is
imported; ``demo`` needs every extra, so it is refused before it starts anything.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass

from egoimu.extras import install_line, missing_extra


@dataclass(frozen=True)
class Command:
    module: str  # module holding ``main(argv) -> int``
    extra: str  # the pip extra it needs ("" for the base install)
    summary: str


COMMANDS: dict[str, Command] = {
    "synth": Command("egoimu.pipeline.synth.cli", "pipeline",
                     "write a synthetic dataset in EPIC-KITCHENS, DogCentric or Ego4D layout"),
    "build": Command("egoimu.pipeline.build", "pipeline",
                     "decode, sync and shard a dataset into subject-disjoint HDF5 (Dask)"),
    "extract-imu": Command("egoimu.pipeline.extract_imu", "pipeline",
                           "GoPro MP4s' accelerometer and gyroscope (GPMF track) as EPIC-style CSVs"),
    "audit": Command("egoimu.audit_cmd", "",
                     "check a build: subject-disjointness, shard sha256/size/counts, accounting, checksums; "
                     "--sync: image motion vs gyroscope lag per video"),
    "info": Command("egoimu.manifests.info", "",
                    "what a build is: source, config hash, counts per split and participant, rejections (--json)"),
    "split-plan": Command("egoimu.manifests.split_plan", "",
                          "plan a subject-disjoint train/validation/test split from annotation files"),
    "train": Command("egoimu.train.loop", "train",
                     "contrastive video/head-motion training from prebuilt shards (torchrun for DDP)"),
    "embed": Command("egoimu.embed", "train",
                     "frozen video (and head-motion) features of a split or of video files, to HDF5"),
    "eval": Command("egoimu.train.eval.cli", "train",
                    "the paper's evaluations: correspondence, linear probe, supervised baselines, DogCentric"),
    "report": Command("egoimu.train.report.cli", "train",
                      "report.md/.html/.json and plots from evaluation results, beside the paper's numbers"),
    "view": Command("egoimu.view", "train",
                    "an HTML page of a clip (frames, IMU, spectrogram) or of a video (image motion vs gyro, sync)"),
    "bench": Command("egoimu.bench", "pipeline,train",
                     "speed and memory as ratios against baselines measured in the same run"),
    "demo": Command("egoimu.demo", "pipeline,train",
                    "the whole chain on the embedded synthetic default"),
}

USAGE = """usage: egoimu <command> [options]   (egoimu <command> --help for a command's options)

egoimu: self-supervised egocentric video representations from head motion
(Tsutsui, Desai & Ridgeway, "How You Move Your Head Tells What You Do", arXiv 2110.01680).

commands:
{commands}
"""


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [f"  {name:<{width}}  {cmd.summary}" for name, cmd in COMMANDS.items()]
    return USAGE.format(commands="\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``egoimu <command> ...`` to the command's module; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if argv[0] in ("-V", "--version"):
        from egoimu import __version__

        print(f"egoimu {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    cmd = COMMANDS.get(name)
    if cmd is None:
        print(f"egoimu: unknown command {name!r}; choose from {', '.join(COMMANDS)} (egoimu --help)", file=sys.stderr)
        return 2
    if problem := missing_extra(name):  # demo: every extra, before it starts anything
        print(problem, file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(cmd.module)
    except ModuleNotFoundError as exc:
        missing = exc.name or str(exc)
        if missing.split(".")[0] == "egoimu":
            raise
        line = install_line(tuple(e for e in cmd.extra.split(",") if e))
        print(f"egoimu {name}: needs the python package {missing!r}, which is not installed; install the extra it "
              f"belongs to from a clone of egoimu: {line}", file=sys.stderr)
        return 2
    try:
        return int(module.main(rest) or 0)
    except SystemExit as exc:  # argparse --help / usage errors
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    except KeyboardInterrupt:
        print(f"egoimu {name}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `egoimu audit OUT | head`: the reader left; say nothing more (Python's own advice)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a process that a closed pipe ended


if __name__ == "__main__":
    sys.exit(main())
