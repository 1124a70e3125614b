"""Shared fixtures for the synthetic-EPIC tests: the real reference files and two small datasets.

Each dataset is generated once per session (2 participants x 1 IMU video x 10 s + the short
EPIC-55-style video): ``epic_clean`` without faults, ``epic_faulty`` with ``faults=True``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.synth.epic import SynthEpicConfig, generate_epic

REAL = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "epic-kitchens-100"
CLEAN_CFG = SynthEpicConfig(participants=2, videos_per_participant=1, seconds=10.0, seed=7)
FAULTY_CFG = SynthEpicConfig(participants=2, videos_per_participant=1, seconds=8.0, seed=11, faults=True,
                             audio=False)


@pytest.fixture(scope="session")
def real_dir() -> Path:
    """Folder of the real EPIC-KITCHENS-100 annotation files (../shared/data); fails when absent."""
    if not (REAL / "EPIC_100_validation.csv").is_file():
        pytest.fail(f"real EPIC-KITCHENS reference files not found at {REAL.resolve()} "
                    "(expected ../shared/data/epic-kitchens-100 beside the repository)")
    return REAL


@pytest.fixture(scope="session")
def epic_clean(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("epic_clean") / "d"
    return out, generate_epic(out, CLEAN_CFG, workers=2)


@pytest.fixture(scope="session")
def epic_faulty(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("epic_faulty") / "d"
    return out, generate_epic(out, FAULTY_CFG, workers=2)
