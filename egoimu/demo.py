"""``egoimu demo``: the whole chain on the embedded synthetic default, ending with a report.

synth (EPIC-KITCHENS layout + DogCentric style) -> build (Dask, HDF5 shards) -> training (self-supervised,
two supervised verb classifiers, the Table 3 pair: video CNN frozen vs updated from the supervised one) ->
the evaluations of Tables 1-5 -> ``egoimu report``. Every step writes under ``--out`` and is skipped when
its output is already complete, so an interrupted demo continues where it stopped (a half-trained run
resumes from its checkpoint).

Presets (``--preset``): ``smoke`` (default) fits in under 10 minutes on a 2-core CPU machine; ``large`` is the
documented larger setting (README: its command and run time); ``tiny`` exercises every step in about a minute
(the test suite runs it; its numbers mean nothing). Both use the CPU-sized ``small`` model unless
``--model full``. Every number they produce comes from synthetic data: the report says so at the top.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from egoimu.manifests.clihelp import HelpFormatter, OneLineParser, out_folder_problem


@dataclass(frozen=True)
class DemoConfig:
    """The demo's scale. All ours (the paper's scale is EPIC-KITCHENS' 37k clips and SlowFast-R50)."""

    participants: int = 4  # ours: synthetic EPIC participants (>= 3 so that every split gets one)
    videos_per_participant: int = 2  # ours
    seconds: float = 60.0  # ours: length of each synthetic IMU video
    #: ours: participants per split (train, validation, test), P01.. in order, as a ``--split FILE``; None: the
    #: build's planned split (the paper's clip ratio, which gives a small set one test participant)
    split: tuple[int, int, int] | None = None
    ssl_windows: float = 1.0  # ours: --ssl-windows stride (s): unlabelled 2 s windows for the SSL objective
    encoding: str = "raw"  # ours: the shards' video encoding (raw: 9.4 MB a clip; jpeg: ~1.2 MB, ~39 dB)
    dog_clips_per_activity: int = 3  # ours: DogCentric-style clips per dog and head-motion activity
    model: str = "small"  # ours: CPU-sized encoders; "full" = the paper's SlowFast-R50 + VGG16
    batch_size: int = 16  # ours
    ssl_steps: int = 120  # ours: self-supervised (contrastive) steps
    sup_steps: int = 80  # ours: supervised verb-classifier steps (video, head motion)
    corr_steps: int = 60  # ours: Table 3 correspondence steps from the supervised video CNN
    seeds: int = 1  # ours: repeats of every training (seeds 0..K-1); the report gives mean and spread
    workers: int = 2  # ours: Dask workers of the builds
    num_workers: int = 2  # ours: DataLoader workers of the trainings


PRESETS: dict[str, DemoConfig] = {
    # 6 participants x 2 videos x 40 s: the same 480 s of video as 4 x 2 x 60 s, train 3 participants (240 s, as
    # before), validation 1, test 2 (so that the test split's verdicts rest on more than one person)
    "smoke": DemoConfig(participants=6, seconds=40.0, split=(3, 1, 2)),
    # the chain at the smallest scale that exercises every step (the test suite runs it); numbers meaningless
    "tiny": DemoConfig(participants=3, videos_per_participant=1, seconds=16.0, ssl_windows=2.0,
                       dog_clips_per_activity=1, batch_size=4, ssl_steps=3, sup_steps=3, corr_steps=2,
                       num_workers=0, split=(1, 1, 1)),
    "large": DemoConfig(participants=8, videos_per_participant=2, seconds=120.0, ssl_windows=0.5,
                        dog_clips_per_activity=6, ssl_steps=300, sup_steps=120, corr_steps=100, seeds=2,
                        encoding="jpeg"),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = OneLineParser(prog="egoimu demo", description=__doc__,
                                formatter_class=HelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder (default: runs/demo)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="smoke", help="scale (default: smoke)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (default: 0)")
    p.add_argument("--seeds", type=int, help="repeat every training with seeds 0..K-1 (default: the preset's)")
    p.add_argument("--model", choices=("small", "full"), help="encoders (default: the preset's, small)")
    p.add_argument("--workers", type=int, help="Dask workers of the builds (default: 2)")
    return p.parse_args(argv)


class StepFailed(RuntimeError):
    pass


def _run(command: str, main: Callable[[list[str]], int], argv: list[str]) -> None:
    """Run ``egoimu COMMAND ARGV...`` in this process (its ``main``); :class:`StepFailed` unless it returns 0."""
    line = f"egoimu {command} {' '.join(argv)}"
    print(f"[demo] {line}", file=sys.stderr, flush=True)
    rc = main(argv)
    if rc:
        raise StepFailed(f"failed (exit {rc}): {line}")


def write_split(path: Path, counts: tuple[int, int, int]) -> Path:
    """A ``participant_id,split`` CSV (``egoimu build --split FILE``): the synthetic participants P01.. in order,
    ``counts`` = (train, validation, test) of them; returns ``path``."""
    names = [name for name, k in zip(("train", "validation", "test"), counts) for _ in range(k)]
    rows = [f"P{i:02d},{name}" for i, name in enumerate(names, start=1)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("participant_id,split\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def _data(out: Path, cfg: DemoConfig, seed: int) -> tuple[Path, Path]:
    """Synthesise and build the EPIC-style and the DogCentric-style sets; returns their build outputs."""
    from egoimu.pipeline.build import main as build
    from egoimu.pipeline.synth.cli import main as synth

    epic, shards = out / "data" / "epic", out / "data" / "epic-shards"
    dog, dog_shards = out / "data" / "dogcentric", out / "data" / "dogcentric-shards"
    if not (epic / "synth_truth" / "dataset.json").exists():
        _run("synth", synth, ["epic", str(epic), "--participants", str(cfg.participants),
                              "--videos-per-participant", str(cfg.videos_per_participant),
                              "--seconds", str(cfg.seconds), "--seed", str(seed)])
    split = []
    if cfg.split is not None:
        split = ["--split", str(write_split(out / "data" / "split.csv", cfg.split))]
    if not (shards / "manifest.json").exists():
        _run("build", build, [str(epic), str(shards), "--workers", str(cfg.workers), "--ssl-windows",
                              str(cfg.ssl_windows), "--encoding", cfg.encoding, *split,
                              *(["--resume"] if shards.exists() else [])])
    if not (dog / "synth_truth.json").exists():
        _run("synth", synth, ["dogcentric", str(dog), "--clips-per-activity",
                              str(cfg.dog_clips_per_activity), "--seed", str(seed), "--quiet"])
    if not (dog_shards / "manifest.json").exists():
        _run("build", build, [str(dog), str(dog_shards), "--source", "dogcentric", "--workers",
                              str(cfg.workers), "--encoding", cfg.encoding,
                              *(["--resume"] if dog_shards.exists() else [])])
    return shards, dog_shards


def _train(run: Path, shards: Path, cfg: DemoConfig, seed: int, steps: int, *extra: str) -> Path:
    """One ``egoimu train`` run (resumed if it was interrupted; skipped if complete); returns its last.pt."""
    from egoimu.train.loop import main as train

    last = run / "last.pt"
    if last.exists() and (run / "done").exists():
        return last
    argv = [str(shards), "--run-dir", str(run), "--model", cfg.model, "--steps", str(steps),
            f"seed={seed}", f"batch_size={cfg.batch_size}", f"num_workers={cfg.num_workers}",
            f"warmup_steps={max(1, steps // 10)}", f"ckpt_every={max(1, steps // 2)}", *extra]
    _run("train", train, [*argv, "--resume"] if last.exists() else argv)
    (run / "done").write_text("ok\n")
    return last


def _trainings(out: Path, shards: Path, cfg: DemoConfig, seed: int) -> dict[str, Path]:
    """The five runs of one seed: ssl, sup_video, sup_imu, corr_freeze, corr_update (run directories)."""
    runs = out / "runs" / f"seed{seed}"
    _train(runs / "ssl", shards, cfg, seed, cfg.ssl_steps)
    sup = _train(runs / "sup_video", shards, cfg, seed, cfg.sup_steps, "objective=verb_video")
    _train(runs / "sup_imu", shards, cfg, seed, cfg.sup_steps, "objective=verb_imu")
    _train(runs / "corr_freeze", shards, cfg, seed, cfg.corr_steps, "--init-video", str(sup), "--freeze-video")
    _train(runs / "corr_update", shards, cfg, seed, cfg.corr_steps, "--init-video", str(sup))
    return {name: runs / name for name in ("ssl", "sup_video", "sup_imu", "corr_freeze", "corr_update")}


def _evaluations(out: Path, shards: Path, dog_shards: Path, runs: dict[str, Path], cfg: DemoConfig,
                 seed: int) -> None:
    """Tables 1-5 of one seed into out/results/seed<seed>/."""
    from egoimu.train.eval.cli import main as evaluate

    res, cache = out / "results" / f"seed{seed}", out / "features"
    if (res / "done").exists():
        return
    common = ["--out-dir", str(res), "--seed", str(seed)]
    for name in ("ssl", "corr_freeze", "corr_update"):
        _run("eval", evaluate, ["corr", str(runs[name]), "--split", "test", "--data", str(shards), *common])
    _run("eval", evaluate, ["supervised", str(runs["sup_video"]), str(runs["sup_imu"]), "--data", str(shards),
                            "--split", "test", *common])
    reps = {"random": ["--random", cfg.model], "self-supervised": [str(runs["ssl"])],
            "supervised": [str(runs["sup_video"])]}
    for kind, data in (("probe", shards), ("dogcentric", dog_shards)):
        for rep, source in reps.items():
            _run("eval", evaluate, [kind, *source, "--data", str(data), "--representation", rep,
                                    "--cache", str(cache), *common])
    (res / "done").write_text("ok\n")


def main(argv: list[str] | None = None) -> int:
    """Run the demo chain into ``--out``; prints the report's path and its headline table."""
    args = parse_args(argv)
    cfg = PRESETS[args.preset]
    cfg = dataclasses.replace(cfg, **{k: v for k, v in (("seeds", args.seeds), ("model", args.model),
                                                         ("workers", args.workers)) if v is not None})
    if cfg.seeds < 1:
        print("egoimu demo: error: --seeds must be >= 1", file=sys.stderr)
        return 2
    if cfg.split is not None and sum(cfg.split) != cfg.participants:
        print(f"egoimu demo: error: split {cfg.split} does not cover the {cfg.participants} participants",
              file=sys.stderr)
        return 2
    out: Path = args.out
    if problem := out_folder_problem(out, "--out"):
        print(f"egoimu demo: error: {problem}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    record = {"preset": args.preset, "data_seed": args.seed, "config": dataclasses.asdict(cfg)}
    (out / "demo.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    t0 = time.perf_counter()
    try:
        shards, dog_shards = _data(out, cfg, args.seed)
        for seed in range(cfg.seeds):
            runs = _trainings(out, shards, cfg, seed)
            _evaluations(out, shards, dog_shards, runs, cfg, seed)
        from egoimu.train.report.cli import main as report

        _run("report", report, [str(out / "results"), str(out / "runs"), "--out", str(out / "report"),
                                "--title", f"egoimu demo ({args.preset})"])
    except StepFailed as exc:
        print(f"egoimu demo: {exc}", file=sys.stderr)
        return 1
    minutes = (time.perf_counter() - t0) / 60
    print(f"egoimu demo: done in {minutes:.1f} min; report: {out / 'report' / 'report.md'} "
          f"(also report.html, report.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
