"""Subject-disjoint split planning, and the ``egoimu split-plan`` command.

**Objective.** Participants (subjects) go whole into train, validation or test. With ``N`` clips in all,
``c_s`` in split ``s`` and target shares ``r_s / R`` (``R = sum(r)``), the deviation of split ``s`` is
``c_s/N − r_s/R``. :func:`plan_split` returns an assignment that minimises, in this order,
(1) the largest absolute deviation over the three splits, (2) the sum of squared deviations; both are
compared exactly, as integers ``c_s·R − r_s·N``. When there are three or more participants, every split
with a positive target gets at least one. Assignments that tie exactly on (1) and (2) are put in
lexicographic order of their split labels (train < validation < test) over the participants taken in
decreasing clip count, ties by id; ``seed`` picks number ``seed mod n_optimal`` of them (seed 0 = the
first). The seed does nothing else.

**Solver (exact).** A dynamic programme over the reachable (validation, test) clip sums, participant by
participant in decreasing clip count. A greedy assignment improved by single moves gives an upper bound
``E`` on the optimum's largest deviation; a state is pruned when some split already exceeds its
``target + E`` or the clips still to come cannot bring every split within ``target ± E`` (necessary
conditions, so no optimum is lost). A backward pass counts the optimal completions of every state, which
gives ``n_optimal`` and unranks the seed's choice without enumerating. 18 EPIC participants: ~0.1 s
(adversarial 18-participant sets, e.g. powers of two, stay below 0.5 s).

**Bounded time.** The states grow with the participants (30 random ones needed ~15 s, hundreds would never
finish), so the search stops at :data:`MAX_STATES` states and the greedy plan above (its bound) is returned
instead, marked ``exact=False`` with its deviation (:meth:`SplitPlan.describe`; the build prints it). Measured
(random counts 5..400, ratio 7:1:2, load ~5): 24 participants exact in 1.8 s; 30, 60, 200, 900 participants
fall back in 1.3-1.9 s with max |deviation| 0.298, 0.029, 0.007, 0.001 pp (the exact optimum for the 30: 0.006).

**Command.** ``egoimu split-plan ANNOTATIONS... [--imu-list FILE] [--video-info FILE] [--splits FILE]
[--ratio 30044:3032:4379] [--seed K] [--out CSV] [--estimate-missing VIDEO,...|all]`` counts labelled
segments per participant in the official-train videos with IMU (both ``-accl`` and ``-gyro`` in
imu_files.txt; ``ar_train`` in epic_100_splits.csv), de-duplicated by ``narration_id`` across the files.
Videos named by ``--estimate-missing`` that have no segments in the given files get
``round(duration × density)`` segments, the density being that of the population videos that do have
segments (durations from EPIC_100_video_info.csv). Omitted file options default to the file of the usual
name beside the first ANNOTATIONS file. The canonical split (``manifests/epic100_headmotion_split.csv``)
is made, from the project root, with::

    D=../shared/data/epic-kitchens-100
    egoimu split-plan $D/EPIC_100_uda_target_train_timestamps.csv $D/EPIC_100_uda_target_val.csv \\
        --imu-list $D/imu_files.txt --video-info $D/EPIC_100_video_info.csv \\
        --splits $D/epic_100_splits.csv --ratio 30044:3032:4379 --seed 0 \\
        --estimate-missing P35_101,P35_103,P35_104,P35_105,P35_107,P35_108,P35_109,P37_101,P37_102,P37_103 \\
        --out manifests/epic100_headmotion_split.csv

(``python -m egoimu.manifests.split_plan`` takes the same arguments). Adding ``EPIC_100_train.csv`` to the
ANNOTATIONS replaces the P35/P37 estimates by real counts.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from pathlib import Path

import pandas as pd

from egoimu.manifests.clihelp import HelpFormatter, OneLineParser
from egoimu.manifests.shardfmt import SPLITS

PAPER_RATIO: tuple[int, int, int] = (30044, 3032, 4379)  # paper: train:validation:test clips
CANONICAL_CSV_NAME = "epic100_headmotion_split.csv"
_IMU_FILE = re.compile(r"(?P<video>[^/\\]+)-(?P<kind>accl|gyro)\.csv$")


@dataclass(frozen=True)
class SplitPlan:
    """A subject-disjoint assignment and how close it comes to the target shares.

    ``shares``/``target_shares`` are fractions of all clips; ``deviation_pp`` is achieved − target in
    percentage points; ``n_optimal`` counts the exactly tied optimal assignments the seed chose among (0 when
    ``exact`` is False: the bounded fallback's plan, whose deviation is what it reports, not a proven optimum).
    """

    def describe(self) -> str:
        """One line: how the plan was found and its largest deviation from the target shares."""
        how = (f"exact ({self.n_optimal} tied optimum(s), the seed picks one)" if self.exact else
               f"greedy + single moves (the exact search met its budget of {MAX_STATES:,} states)")
        return (f"{len(self.assignment)} participants, {how}; max |deviation| {self.max_abs_deviation_pp:.3f} pp ("
                + ", ".join(f"{s} {self.deviation_pp[s]:+.3f}" for s in SPLITS) + ")")

    assignment: dict[str, str]
    counts: dict[str, int]
    shares: dict[str, float]
    target_shares: dict[str, float]
    deviation_pp: dict[str, float]
    max_abs_deviation_pp: float
    n_optimal: int
    ratio: tuple[float, float, float]
    seed: int
    exact: bool = True  # False: the search met MAX_STATES and the greedy plan (no optimality claim) is returned

    def participants(self, split: str) -> list[str]:
        """Participants of ``split``, sorted."""
        return sorted(p for p, s in self.assignment.items() if s == split)


#: The exact search's budget: (validation, test) states over all participants. The state count, not a clock,
#: bounds it, so the plan does not depend on the machine's speed: ~3 s here at the limit. 18 EPIC participants
#: need ~10^4 states; hundreds of participants (Ego4D's wearers) would need billions and get the fallback.
MAX_STATES = 300_000


class _OverBudget(Exception):
    """The exact search would exceed :data:`MAX_STATES`."""


def _states(sizes: list[int], lo: list[int], hi: list[int]) -> list[set[tuple[int, int]]]:
    """Forward pass: (validation, test) sums after each participant that can still end within [lo, hi].

    A state (train implied) survives when no split exceeds ``hi`` and the clips still to come can both
    lift every split to ``lo`` and fit under ``hi`` — necessary conditions, so pruning is exact.
    """
    layers = [{(0, 0)}]
    prefix, rest, total = 0, sum(sizes), 1
    for c in sizes:
        prefix, rest = prefix + c, rest - c
        nxt: set[tuple[int, int]] = set()
        for v0, t0 in layers[-1]:
            for v, t in ((v0, t0), (v0 + c, t0), (v0, t0 + c)):
                part = (prefix - v - t, v, t)
                if (all(p <= h for p, h in zip(part, hi)) and sum(max(0, lw - p) for p, lw in zip(part, lo)) <= rest
                        and sum(h - p for p, h in zip(part, hi)) >= rest):
                    nxt.add((v, t))
        layers.append(nxt)
        total += len(nxt)
        if total > MAX_STATES:
            raise _OverBudget
    return layers


def _incumbent(sizes: list[int], err: Callable[[int, int], int], need: list[bool]) -> list[int]:
    """A feasible assignment (split index per participant) to bound the search, and the fallback's plan: each
    participant (in decreasing clip count) to the split furthest below its target, every required split given
    somebody, then single moves while one lowers (largest deviation, sum of squares). Each trial costs O(1)
    (split totals kept), so hundreds of participants take well under a second."""
    labels: list[int] = []
    tot = [0, 0, 0]
    for c in sizes:  # to the split furthest below its target
        s = min(range(3), key=lambda k: err(tot[k], k))
        labels.append(s)
        tot[s] += c
    members = [labels.count(k) for k in range(3)]
    for s in range(3):  # every required split gets somebody: the smallest of a split that has two or more
        if need[s] and not members[s]:
            i = min((i for i in range(len(sizes)) if members[labels[i]] > 1), key=lambda i: (sizes[i], i))
            members[labels[i]] -= 1
            tot[labels[i]] -= sizes[i]
            labels[i] = s
            members[s] += 1
            tot[s] += sizes[i]

    def score(t: list[int]) -> tuple[int, int]:
        e = [err(t[k], k) for k in range(3)]
        return max(abs(x) for x in e), sum(x * x for x in e)

    best = score(tot)
    improved = True
    while improved:
        improved = False
        for i, c in enumerate(sizes):
            for s in range(3):
                old = labels[i]
                if s == old or (need[old] and members[old] == 1):
                    continue
                trial = tot.copy()
                trial[old] -= c
                trial[s] += c
                if (sc := score(trial)) < best:
                    labels[i], tot, best, improved = s, trial, sc, True
                    members[old] -= 1
                    members[s] += 1
    return labels


def plan_split(counts: Mapping[str, int], ratio: Sequence[float | Fraction] = PAPER_RATIO,
               seed: int = 0) -> SplitPlan:
    """The exact subject-disjoint split of ``counts`` (participant → clips, > 0) closest to ``ratio``.

    See the module docstring for the objective, the constraints and the role of ``seed``. Deterministic.
    """
    if not counts:
        raise ValueError("no participants to split")
    people = sorted(counts, key=lambda p: (-int(counts[p]), p))  # processing (and tie) order
    sizes = [int(counts[p]) for p in people]
    if any(c <= 0 or c != counts[p] for c, p in zip(sizes, people)):
        raise ValueError(f"clip counts must be positive integers: {dict(counts)}")
    fr = [Fraction(x) for x in ratio]
    if len(fr) != 3 or min(fr) < 0 or sum(fr) <= 0:
        raise ValueError(f"ratio must be three non-negative numbers with a positive sum, got {ratio!r}")
    den = math.lcm(*(f.denominator for f in fr))
    r = [int(f * den) for f in fr]
    n, big_r = sum(sizes), sum(r)
    need = [len(people) >= 3 and r_s > 0 for r_s in r]

    def err(c: int, s: int) -> int:  # scaled deviation of split s holding c clips: N·R·(c/N − r_s/R)
        return c * big_r - r[s] * n

    def key(state: tuple[int, int]) -> tuple[int, int]:
        e = [err(c, s) for s, c in enumerate((n - state[0] - state[1], *state))]
        return max(abs(x) for x in e), sum(x * x for x in e)

    start = _incumbent(sizes, err, need)
    bound = key((sum(c for c, x in zip(sizes, start) if x == 1), sum(c for c, x in zip(sizes, start) if x == 2)))[0]
    lo = [max(0, -((bound - r_s * n) // big_r)) for r_s in r]  # ceil((r_s·N − E)/R)
    hi = [(r_s * n + bound) // big_r for r_s in r]
    try:
        layers = _states(sizes, lo, hi)
    except _OverBudget:  # bounded time: the incumbent, reported as such
        return _plan(dict(zip(people, (SPLITS[x] for x in start))), sizes, start, fr, r, big_r, n, 0, seed, False)
    final = [s for s in layers[-1] if all(c > 0 or not q for c, q in zip((n - s[0] - s[1], *s), need))]
    best = min(key(s) for s in final)  # the incumbent lies in the box, so ``final`` is not empty
    ways: list[dict[tuple[int, int], int]] = [{} for _ in layers]
    ways[-1] = {s: 1 for s in final if key(s) == best}
    for i in range(len(sizes) - 1, -1, -1):  # optimal completions of every state
        c, after = sizes[i], ways[i + 1]
        for v, t in layers[i]:
            w = after.get((v, t), 0) + after.get((v + c, t), 0) + after.get((v, t + c), 0)
            if w:
                ways[i][(v, t)] = w
    n_optimal = ways[0][(0, 0)]
    k = int(seed) % n_optimal
    assignment: dict[str, str] = {}
    v = t = 0
    for i, (person, c) in enumerate(zip(people, sizes)):  # unrank the k-th optimum
        for split, nxt in zip(SPLITS, ((v, t), (v + c, t), (v, t + c))):
            w = ways[i + 1].get(nxt, 0)
            if k < w:
                assignment[person], (v, t) = split, nxt
                break
            k -= w
    return _plan(assignment, sizes, [SPLITS.index(assignment[p]) for p in people], fr, r, big_r, n, n_optimal,
                 seed, True)


def _plan(assignment: dict[str, str], sizes: list[int], labels: list[int], fr: list[Fraction], r: list[int],
          big_r: int, n: int, n_optimal: int, seed: int, exact: bool) -> SplitPlan:
    """The :class:`SplitPlan` of ``assignment`` (``labels``: its split indices in ``sizes``' order)."""
    achieved = {s: sum(c for c, x in zip(sizes, labels) if x == k) for k, s in enumerate(SPLITS)}
    shares = {s: achieved[s] / n for s in SPLITS}
    targets = {s: float(r_s / big_r) for s, r_s in zip(SPLITS, r)}
    dev = {s: 100.0 * (shares[s] - targets[s]) for s in SPLITS}
    return SplitPlan(assignment=dict(sorted(assignment.items())), counts=achieved, shares=shares,
                     target_shares=targets, deviation_pp=dev,
                     max_abs_deviation_pp=max(abs(x) for x in dev.values()), n_optimal=n_optimal,
                     ratio=tuple(float(x) for x in fr), seed=int(seed), exact=exact)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------- population


@dataclass
class Population:
    """Segment counts of the planning population (official-train EPIC-100 videos with IMU).

    ``video_counts``: video → segments (real or estimated); ``estimated``: video → estimated count;
    ``labels``: one row per labelled segment (participant_id, verb_class); ``notes``: what was left out.
    """

    video_participant: dict[str, str]
    video_counts: dict[str, int]
    estimated: dict[str, int] = field(default_factory=dict)
    density_per_min: float | None = None
    labels: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["participant_id", "verb_class"]))
    notes: list[str] = field(default_factory=list)

    def participant_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for video, n in self.video_counts.items():
            out[self.video_participant[video]] = out.get(self.video_participant[video], 0) + n
        return {p: n for p, n in sorted(out.items()) if n > 0}


def imu_videos(imu_list: Path) -> set[str]:
    """Videos with both ``-accl.csv`` and ``-gyro.csv`` in an imu_files.txt listing."""
    kinds: dict[str, set[str]] = {}
    for line in Path(imu_list).read_text(encoding="utf-8").split():
        m = _IMU_FILE.search(line.strip())
        if m:
            kinds.setdefault(m["video"], set()).add(m["kind"])
    return {v for v, k in kinds.items() if k == {"accl", "gyro"}}


def train_videos(splits_csv: Path) -> set[str]:
    """Videos flagged ``ar_train`` in epic_100_splits.csv."""
    df = pd.read_csv(splits_csv, dtype=str, keep_default_na=False)
    if not {"video_id", "ar_train"} <= set(df.columns):
        raise ValueError(f"{splits_csv}: expected columns video_id and ar_train")
    return set(df.video_id[df.ar_train.str.strip().str.upper() == "TRUE"])


def read_segments(paths: Sequence[Path]) -> pd.DataFrame:
    """Annotation rows (narration_id, participant_id, video_id[, verb_class]) of all files, one per id.

    A row with a label wins over an unlabelled duplicate of the same ``narration_id``.
    """
    frames = []
    for path in paths:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        missing = {"narration_id", "participant_id", "video_id"} - set(df.columns)
        if missing:
            raise ValueError(f"{path}: not an EPIC-100 annotation file (missing columns {sorted(missing)})")
        if "verb_class" not in df.columns:
            df["verb_class"] = ""
        frames.append(df[["narration_id", "participant_id", "video_id", "verb_class"]])
    seg = pd.concat(frames, ignore_index=True)
    seg["labelled"] = seg.verb_class.str.strip() != ""
    seg = seg.sort_values("labelled", ascending=False, kind="stable").drop_duplicates("narration_id")
    return seg.sort_index().reset_index(drop=True)


def load_population(annotations: Sequence[Path], imu_list: Path, splits_csv: Path,
                    video_info: Path | None = None, estimate: Sequence[str] = ()) -> Population:
    """Count segments per population video, estimating the videos in ``estimate`` that have none."""
    videos = imu_videos(imu_list) & train_videos(splits_csv)
    seg = read_segments(annotations)
    seg = seg[seg.video_id.isin(videos)]
    counts = seg.groupby("video_id").size().astype(int).to_dict()
    owner = dict(zip(seg.video_id, seg.participant_id))
    owner.update({v: v.split("_")[0] for v in videos if v not in owner})
    pop = Population(video_participant=owner, video_counts=dict(sorted(counts.items())),
                     labels=seg.loc[seg.labelled, ["participant_id", "verb_class"]].astype({"verb_class": int}))
    wanted = sorted(videos - set(counts)) if list(estimate) == ["all"] else list(estimate)
    for video in wanted:
        if video not in videos:
            raise ValueError(f"--estimate-missing: {video} is not an official-train video with IMU")
        if video in counts:
            pop.notes.append(f"{video}: {counts[video]} real segments, not estimated")
    todo = [v for v in wanted if v not in counts]
    if todo:
        if video_info is None:
            raise ValueError("estimating segment counts needs --video-info (EPIC_100_video_info.csv)")
        dur = pd.read_csv(video_info, dtype={"video_id": str}).set_index("video_id")["duration"]
        lacking = [v for v in [*counts, *todo] if v not in dur.index]
        if lacking:
            raise ValueError(f"{video_info}: no duration for {lacking[:5]}")
        pop.density_per_min = sum(counts.values()) / (float(dur[list(counts)].sum()) / 60.0)
        for video in todo:
            pop.estimated[video] = math.floor(float(dur[video]) / 60.0 * pop.density_per_min + 0.5)
            pop.video_counts[video] = pop.estimated[video]
    left = sorted(videos - set(pop.video_counts))
    if left:
        pop.notes.append(f"{len(left)} official-train IMU videos have no segments and are left out: "
                         f"{', '.join(left)}")
    return pop


# ------------------------------------------------------------------------------------ files


def write_plan_csv(assignment: Mapping[str, str], path: str | Path) -> None:
    """Write ``participant_id,split`` rows sorted by participant ('\\n' line ends)."""
    lines = ["participant_id,split", *(f"{p},{assignment[p]}" for p in sorted(assignment))]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_plan_csv(path: str | Path) -> dict[str, str]:
    """Read a ``participant_id,split`` file (validated: unique participants, known splits); ValueError naming
    the file and, for a bad entry, its line (header = line 1)."""
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a participant_id,split CSV ({exc})") from None
    if list(df.columns) != ["participant_id", "split"]:
        raise ValueError(f"{path}: expected the columns participant_id,split, got {list(df.columns)}")
    bad = df[~df.split.isin(SPLITS) | (df.participant_id == "") | df.participant_id.duplicated()]
    if len(bad):
        raise ValueError(f"{path}: line {bad.index[0] + 2}: bad or duplicate entry {bad.iloc[0].to_dict()} "
                         f"(splits: {', '.join(SPLITS)})")
    return dict(zip(df.participant_id, df.split))


def canonical_split() -> dict[str, str]:
    """The committed EPIC-100 head-motion split (participant → split) shipped with the package."""
    with resources.as_file(resources.files("manifests") / CANONICAL_CSV_NAME) as path:
        return read_plan_csv(path)


# ------------------------------------------------------------------------------------ command


def _verb_names(folder: Path) -> dict[int, str]:
    path = folder / "EPIC_100_verb_classes.csv"
    if not path.is_file():
        return {}
    df = pd.read_csv(path)
    return dict(zip(df["id"].astype(int), df["key"].astype(str)))


def report(plan: SplitPlan, pop: Population, verb_names: Mapping[int, str]) -> str:
    """Markdown report: per split participants, clips, shares and (where labelled) verb statistics."""
    total = sum(plan.counts.values())
    est_people = sorted({pop.video_participant[v] for v in pop.estimated})
    lines = [f"split-plan: {len(plan.assignment)} participants, {total:,} segments"
             + (f" ({sum(pop.estimated.values()):,} estimated: {', '.join(est_people)})" if pop.estimated else "")
             + f"; target {':'.join(f'{x:g}' for x in plan.ratio)}; seed {plan.seed}", "",
             "| split | participants | clips | share % | target % | deviation pp | estimated | labelled | "
             "unique verbs | majority verb (share) |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for split in SPLITS:
        people = plan.participants(split)
        est = sum(n for v, n in pop.estimated.items() if pop.video_participant[v] in people)
        labels = pop.labels[pop.labels.participant_id.isin(people)].verb_class
        verbs = "–"
        if len(labels):
            top = int(labels.value_counts().index[0])
            verbs = f"{labels.nunique()} | {verb_names.get(top, top)} ({100 * (labels == top).mean():.1f} %)"
        lines.append(f"| {split} | {' '.join(people)} ({len(people)}) | {plan.counts[split]:,} | "
                     f"{100 * plan.shares[split]:.2f} | {100 * plan.target_shares[split]:.2f} | "
                     f"{plan.deviation_pp[split]:+.3f} | {est:,} | {len(labels):,} | "
                     + (verbs if len(labels) else "– | –") + " |")
    lines += ["", plan.describe()]
    if pop.estimated:
        lines.append(f"estimated at {pop.density_per_min:.2f} segments/min: "
                     + ", ".join(f"{v} {n}" for v, n in sorted(pop.estimated.items())))
    lines += [f"note: {note}" for note in pop.notes]
    return "\n".join(lines)


def _ratio(text: str) -> tuple[Fraction, Fraction, Fraction]:
    parts = text.split(":")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected A:B:C, got {text!r}")
    try:
        return tuple(Fraction(p.strip()) for p in parts)  # type: ignore[return-value]
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected numbers A:B:C, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    """``egoimu split-plan``: plan a subject-disjoint split from EPIC-100 annotations; returns 0 or 2."""
    ap = OneLineParser(
        formatter_class=HelpFormatter,
        prog="egoimu split-plan",
        description="Plan a subject-disjoint train/validation/test split of EPIC-100 participants whose "
                    "clip shares come closest to --ratio (exact optimum; see manifests/README.md).")
    ap.add_argument("annotations", nargs="+", type=Path, metavar="ANNOTATIONS",
                    help="EPIC-100 annotation CSVs (narration_id, participant_id, video_id[, verb_class])")
    ap.add_argument("--imu-list", type=Path, help="imu_files.txt (default: beside the first ANNOTATIONS)")
    ap.add_argument("--video-info", type=Path, help="EPIC_100_video_info.csv (for --estimate-missing)")
    ap.add_argument("--splits", type=Path, help="epic_100_splits.csv (official split flags)")
    ap.add_argument("--ratio", type=_ratio, default=PAPER_RATIO, help="train:validation:test (30044:3032:4379)")
    ap.add_argument("--seed", type=int, default=0, help="picks among exactly tied optima (default: 0)")
    ap.add_argument("--out", type=Path, help="write participant_id,split here")
    ap.add_argument("--estimate-missing", default="", metavar="VIDEO,...|all",
                    help="videos without segments whose count is estimated from their duration")
    args = ap.parse_args(argv)
    folder = args.annotations[0].parent
    imu_list = args.imu_list or folder / "imu_files.txt"
    splits = args.splits or folder / "epic_100_splits.csv"
    video_info = args.video_info or (folder / "EPIC_100_video_info.csv")
    estimate = [v.strip() for v in args.estimate_missing.split(",") if v.strip()]
    try:
        for path in (*args.annotations, imu_list, splits):
            if not path.is_file():
                raise ValueError(f"{path}: no such file")
        pop = load_population(args.annotations, imu_list, splits,
                              video_info if video_info.is_file() else None, estimate)
        plan = plan_split(pop.participant_counts(), args.ratio, args.seed)
    except ValueError as exc:
        print(f"egoimu split-plan: {exc}", file=sys.stderr)
        return 2
    print(report(plan, pop, _verb_names(folder)))
    if args.out:
        write_plan_csv(plan.assignment, args.out)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
