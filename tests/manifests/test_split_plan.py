"""The subject-disjoint split planner: exact optimum (brute-force checked), ties, and the canonical split."""

from __future__ import annotations

import itertools
import random
import re
import shlex
import time
from pathlib import Path

import pytest

from egoimu.manifests import split_plan as sp
from egoimu.manifests.shardfmt import SPLITS

REPO = Path(__file__).resolve().parents[2]
NAMES = SPLITS


def _brute(counts: dict[str, int], ratio: tuple[int, int, int]) -> list[dict[str, str]]:
    """Every optimal assignment by enumeration (the objective of the module docstring)."""
    people = sorted(counts)
    n, big_r = sum(counts.values()), sum(ratio)
    best, sols = None, []
    for labels in itertools.product(range(3), repeat=len(people)):
        if len(people) >= 3 and any(ratio[s] > 0 and s not in labels for s in range(3)):
            continue
        c = [sum(counts[p] for p, x in zip(people, labels) if x == s) for s in range(3)]
        e = [c[s] * big_r - ratio[s] * n for s in range(3)]
        key = (max(map(abs, e)), sum(x * x for x in e))
        if best is None or key < best:
            best, sols = key, []
        if key == best:
            sols.append({p: NAMES[x] for p, x in zip(people, labels)})
    return sols


def test_three_participants_one_per_split() -> None:
    plan = sp.plan_split({"P01": 500, "P02": 20, "P03": 10})
    assert sorted(plan.assignment.values()) == sorted(NAMES)
    assert plan.assignment["P01"] == "train"
    assert plan.counts == {"train": 500, "validation": 10, "test": 20}  # test's target is the larger
    assert plan.n_optimal == 1


def test_exact_fit_and_reported_numbers() -> None:
    plan = sp.plan_split({"A": 60, "B": 20, "C": 8, "D": 12}, ratio=(80, 8, 12))
    assert plan.assignment == {"A": "train", "B": "train", "C": "validation", "D": "test"}
    assert plan.max_abs_deviation_pp == 0 and plan.shares == {"train": 0.8, "validation": 0.08, "test": 0.12}
    assert plan.participants("train") == ["A", "B"]


def test_exact_ties_are_ordered_and_picked_by_seed() -> None:
    counts = {"A": 80, "B": 10, "C": 10}
    plans = [sp.plan_split(counts, ratio=(8, 1, 1), seed=s) for s in range(4)]
    assert {p.n_optimal for p in plans} == {2}
    # lexicographic over (A, B, C) with train < validation < test: B in validation comes first
    assert plans[0].assignment == {"A": "train", "B": "validation", "C": "test"}
    assert plans[1].assignment == {"A": "train", "B": "test", "C": "validation"}
    assert plans[2].assignment == plans[0].assignment and plans[3].assignment == plans[1].assignment
    assert all(p.counts == plans[0].counts for p in plans)


def test_fewer_than_three_participants_may_leave_a_split_empty() -> None:
    plan = sp.plan_split({"A": 9, "B": 1}, ratio=(9, 0, 1))
    assert plan.assignment == {"A": "train", "B": "test"} and plan.max_abs_deviation_pp == 0
    assert sp.plan_split({"A": 5}).assignment == {"A": "train"}


@pytest.mark.parametrize("trial", range(60))
def test_matches_brute_force(trial: int) -> None:
    rng = random.Random(trial)
    counts = {f"P{i:02d}": rng.randint(1, rng.choice([4, 40, 3000])) for i in range(rng.randint(1, 7))}
    ratio = rng.choice([sp.PAPER_RATIO, (8, 1, 1), (1, 1, 1), (7, 0, 3)])
    optima = _brute(counts, ratio)
    plan = sp.plan_split(counts, ratio)
    assert plan.assignment in optima and plan.n_optimal == len(optima)
    seen = [sp.plan_split(counts, ratio, seed=s).assignment for s in range(len(optima))]
    assert sorted(map(str, seen)) == sorted(map(str, optima))  # every seed mod n gives a distinct optimum


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="positive integers"):
        sp.plan_split({"A": 3, "B": 0, "C": 1})
    with pytest.raises(ValueError, match="ratio"):
        sp.plan_split({"A": 3}, ratio=(1, 1))
    with pytest.raises(ValueError, match="no participants"):
        sp.plan_split({})


@pytest.mark.parametrize("counts", [
    {"P01": 2401, "P02": 4891, "P03": 2320, "P04": 5618, "P06": 1229, "P07": 825, "P09": 192, "P11": 630,
     "P12": 1002, "P22": 4684, "P23": 982, "P25": 1445, "P26": 1659, "P27": 1786, "P28": 1515, "P30": 2842,
     "P35": 4278, "P37": 896},
    {f"P{i:02d}": 2 ** i for i in range(18)},  # every subset sum distinct: the hard case for the DP
    {f"P{i:02d}": random.Random(7).randint(1, 10**6) + i for i in range(18)},
])
def test_eighteen_participants_under_two_seconds(counts: dict[str, int]) -> None:
    t0 = time.perf_counter()
    plan = sp.plan_split(counts)
    assert time.perf_counter() - t0 < 2.0
    assert sorted(plan.assignment) == sorted(counts)


# --------------------------------------------------------------------------- the canonical split


def _command(text: str) -> list[str]:
    """The arguments of the documented ``egoimu split-plan $D/... --out ...`` command in ``text``."""
    block = text[text.index("egoimu split-plan $D"):text.index("--out manifests/epic100_headmotion_split.csv")]
    return shlex.split(block.replace("\\\n", " "))[2:]


def _documented_argv(data: Path, out: Path) -> list[str]:
    """The command in the module docstring, with $D and --out replaced."""
    return [a.replace("$D", str(data)) for a in _command(sp.__doc__ or "")] + ["--out", str(out)]


def test_documented_command_reproduces_the_committed_csv(shared_epic: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "split.csv"
    assert sp.main(_documented_argv(shared_epic, out)) == 0
    committed = REPO / "manifests" / sp.CANONICAL_CSV_NAME
    assert out.read_bytes() == committed.read_bytes()
    report = capsys.readouterr().out
    assert "18 participants" in report and "estimated: P35, P37" in report
    assert "19.47 segments/min" in report
    assert _command((REPO / "manifests" / "README.md").read_text(encoding="utf-8")) == _command(sp.__doc__ or "")


def test_canonical_split_properties(shared_epic: Path) -> None:
    split = sp.canonical_split()
    assert len(split) == 18 and set(split.values()) == set(NAMES)  # one row per participant: disjoint
    d = shared_epic
    pop = sp.load_population([d / "EPIC_100_uda_target_train_timestamps.csv", d / "EPIC_100_uda_target_val.csv"],
                             d / "imu_files.txt", d / "epic_100_splits.csv", d / "EPIC_100_video_info.csv", ["all"])
    counts = pop.participant_counts()
    assert set(counts) == set(split)
    assert sum(n for v, n in pop.video_counts.items() if v not in pop.estimated) == 34021
    assert len(pop.video_counts) - len(pop.estimated) == 191 and len(pop.estimated) == 10
    assert {v[:3] for v in pop.estimated} == {"P35", "P37"}
    assert 19.0 < pop.density_per_min < 20.0
    total = sum(counts.values())
    target = dict(zip(NAMES, (r / sum(sp.PAPER_RATIO) for r in sp.PAPER_RATIO)))
    for name in NAMES:
        share = sum(n for p, n in counts.items() if split[p] == name) / total
        assert abs(share - target[name]) < 0.01, name


def test_real_train_annotations_replace_estimates(shared_epic: Path, tmp_path: Path) -> None:
    train = tmp_path / "EPIC_100_train.csv"
    rows = [f"P35_101_{i},P35,P35_101,00:00:0{i}.0,00:00:0{i}.00,00:00:0{i}.50,1,2,take x,take,0,x,3,['x'],[3]"
            for i in range(5)]
    header = (shared_epic / "EPIC_100_uda_target_val.csv").read_text().split("\n", 1)[0]
    train.write_text("\n".join([header, *rows]) + "\n")
    d = shared_epic
    pop = sp.load_population([d / "EPIC_100_uda_target_train_timestamps.csv", d / "EPIC_100_uda_target_val.csv",
                              train], d / "imu_files.txt", d / "epic_100_splits.csv",
                             d / "EPIC_100_video_info.csv", ["P35_101", "P35_103"])
    assert pop.video_counts["P35_101"] == 5 and "P35_101" not in pop.estimated and "P35_103" in pop.estimated
    assert any("P35_101: 5 real segments" in n for n in pop.notes)
    assert (pop.labels.participant_id == "P35").sum() == 5


def test_command_errors(shared_epic: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ann = str(shared_epic / "EPIC_100_uda_target_val.csv")
    assert sp.main([ann, "--estimate-missing", "P01_01"]) == 2
    assert "not an official-train video with IMU" in capsys.readouterr().err
    assert sp.main([str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        sp.main([ann, "--ratio", "1:2"])


def test_plan_csv_round_trip(tmp_path: Path) -> None:
    sp.write_plan_csv({"P02": "test", "P01": "train"}, tmp_path / "s.csv")
    assert (tmp_path / "s.csv").read_text() == "participant_id,split\nP01,train\nP02,test\n"
    assert sp.read_plan_csv(tmp_path / "s.csv") == {"P01": "train", "P02": "test"}
    (tmp_path / "bad.csv").write_text("participant_id,split\nP01,train\nP01,test\n")
    with pytest.raises(ValueError, match="duplicate"):
        sp.read_plan_csv(tmp_path / "bad.csv")
    assert re.fullmatch(r"P\d\d", next(iter(sp.canonical_split())))


def test_hundreds_of_participants_fall_back_in_bounded_time_and_report_it() -> None:
    """Hundreds of participants (Ego4D's wearers): the exact search stops at MAX_STATES and the greedy plan comes
    back marked inexact, subject-disjoint, every split filled, close to the ratio, deterministic; the state budget
    (not a clock) decides, so the plan is the same on any machine."""
    import numpy as np

    from egoimu.manifests import split_plan

    rng = np.random.default_rng(5)
    counts = {f"w{i:04d}": int(x) for i, x in enumerate(rng.integers(5, 400, 300))}
    plan = split_plan.plan_split(counts, (7, 1, 2), seed=3)
    assert not plan.exact and plan.n_optimal == 0
    assert set(plan.assignment) == set(counts) and all(plan.participants(s) for s in split_plan.SPLITS)
    assert sum(plan.counts.values()) == sum(counts.values())
    assert plan.counts == {s: sum(counts[p] for p in plan.participants(s)) for s in split_plan.SPLITS}
    assert plan.max_abs_deviation_pp < 0.1  # measured 0.007 pp on such sets
    assert "greedy" in plan.describe() and f"{plan.max_abs_deviation_pp:.3f} pp" in plan.describe()
    assert split_plan.plan_split(counts, (7, 1, 2), seed=3) == plan


def test_the_fallback_is_never_taken_where_the_exact_search_fits() -> None:
    """EPIC-sized inputs stay exact, and the fallback's plan is never better than the exact optimum."""
    from egoimu.manifests import split_plan

    counts = {f"P{i:02d}": 50 + 37 * i for i in range(1, 19)}
    exact = split_plan.plan_split(counts, (30044, 3032, 4379))
    assert exact.exact and exact.n_optimal >= 1 and "exact" in exact.describe()
    saved = split_plan.MAX_STATES
    try:
        split_plan.MAX_STATES = 10
        greedy = split_plan.plan_split(counts, (30044, 3032, 4379))
    finally:
        split_plan.MAX_STATES = saved
    assert not greedy.exact and greedy.max_abs_deviation_pp >= exact.max_abs_deviation_pp
