"""Shared fixtures: repository paths, the real reference data in ../shared, seeded synthetic data."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_epic() -> Path:
    """The real EPIC-KITCHENS-100 annotation files beside the checkout (../shared/data/epic-kitchens-100)."""
    path = SHARED_DATA / "epic-kitchens-100"
    if not path.is_dir():
        raise FileNotFoundError(f"reference data missing: {path} (tests read the real annotation files there)")
    return path
