"""Shared fixtures: repository paths, the real reference data in ../shared, and the seeded
synthetic-data factory (EPIC-KITCHENS layout) with a prebuilt set of shards on top of it.

Every dataset is generated once per session per distinct config; all of it is deterministic
(explicit seeds), so a test's input is the same on every machine.
"""

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
    if not (path / "EPIC_100_validation.csv").is_file():
        pytest.fail(f"reference data missing: {path} (tests read the real annotation files there)")
    return path


@pytest.fixture(scope="session")
def real_dir(shared_epic) -> Path:
    return shared_epic


@pytest.fixture(scope="session")
def gopro_karma() -> Path:
    """The real GoPro HERO5 Black MP4 with its GPMF telemetry track (../shared/data/gopro/karma.mp4)."""
    path = SHARED_DATA / "gopro" / "karma.mp4"
    if not path.is_file():
        pytest.fail(f"reference data missing: {path} (GoPro reader tests read this real file)")
    return path


def _cached_generator(tmp_path_factory, config_cls, generate, name: str):
    """``make(**config fields) -> (root, summary)``: ``generate(root, config, workers=2)`` once per config."""
    cache: dict = {}

    def make(**fields) -> tuple[Path, dict]:
        cfg = config_cls(**fields)
        if cfg not in cache:
            out = tmp_path_factory.mktemp(name) / "d"
            cache[cfg] = (out, generate(out, cfg, workers=2))
        return cache[cfg]

    return make


@pytest.fixture(scope="session")
def synth_epic(tmp_path_factory):
    """Factory ``synth_epic(**SynthEpicConfig fields) -> (root, summary)``, cached per config."""
    from egoimu.pipeline.synth.epic import SynthEpicConfig, generate_epic

    return _cached_generator(tmp_path_factory, SynthEpicConfig, generate_epic, "epic")


#: The small sets most tests share (2 participants x 1 IMU video + the EPIC-55-style video).
CLEAN = dict(participants=2, videos_per_participant=1, seconds=10.0, seed=7)
FAULTY = dict(participants=2, videos_per_participant=1, seconds=8.0, seed=11, faults=True, audio=False)
#: Faults spread over 9 IMU videos (one kind each), so that clean videos remain beside them.
FAULTY_SPREAD = dict(participants=3, videos_per_participant=3, seconds=8.0, seed=12, faults=True, audio=False)
#: The same with every plantable kind of the fault catalogue (egoimu synth epic --faults all): the fault suite's build.
FAULTY_ALL = dict(FAULTY_SPREAD, faults="all")
#: The set the build, audit and trainer tests share: 4 participants, so every split gets one.
BUILD = dict(participants=4, videos_per_participant=1, seconds=12.0, seed=3)
#: The sync tests' sets at the ends of the planted-offset range (IMU files 500 ms early, 500 ms late): the seed
#: renders the same videos as CLEAN's (byte for byte), only the IMU files and their truth differ.
SYNC_ENDS = dict(participants=3, videos_per_participant=1, seconds=10.0, seed=7)


@pytest.fixture(scope="session")
def epic_clean(synth_epic) -> tuple[Path, dict]:
    return synth_epic(**CLEAN)


@pytest.fixture(scope="session")
def epic_faulty(synth_epic) -> tuple[Path, dict]:
    return synth_epic(**FAULTY)


@pytest.fixture(scope="session")
def epic_faulty_spread(synth_epic) -> tuple[Path, dict]:
    return synth_epic(**FAULTY_SPREAD)


@pytest.fixture(scope="session")
def epic_faulty_all(synth_epic) -> tuple[Path, dict]:
    return synth_epic(**FAULTY_ALL)


@pytest.fixture(scope="session")
def epic_build_src(synth_epic) -> tuple[Path, dict]:
    return synth_epic(**BUILD)


@pytest.fixture(scope="session")
def epic_sync_ends(synth_epic) -> dict[float, Path]:
    """{planted offset ms: root} of the SYNC_ENDS sets at -500 and +500 ms."""
    return {ms: synth_epic(**SYNC_ENDS, imu_offset_ms=ms)[0] for ms in (-500.0, 500.0)}


@pytest.fixture(scope="session")
def built_epic(epic_build_src, tmp_path_factory) -> tuple[Path, Path]:
    """``(dataset root, build output)``: the BUILD set built once on a 2-worker LocalCluster, its labelled
    segments only (no unlabelled windows: the tests that copy it stay small)."""
    from egoimu.pipeline.build import main as build_main

    root, _ = epic_build_src
    out = tmp_path_factory.mktemp("built") / "out"
    rc = build_main([str(root), str(out), "--workers", "2", "--clips-per-shard", "8", "--ssl-windows", "off",
                     "--quiet"])
    assert rc == 0, "the shared build failed"
    return root, out


@pytest.fixture
def user_folder(tmp_path) -> Path:
    """A working folder holding a user's own ``train.py``, ``pipeline/`` and ``manifests/``: each fails loudly if
    imported, so a command run from here proves that egoimu's subpackages are not shadowed by them."""
    folder = tmp_path / "user"
    trap = "raise ImportError('the user\\'s own {name} was imported instead of egoimu\\'s')\n"
    (folder / "pipeline").mkdir(parents=True)
    (folder / "manifests").mkdir()
    (folder / "train.py").write_text(trap.format(name="train.py"))
    (folder / "pipeline" / "__init__.py").write_text(trap.format(name="pipeline/"))
    (folder / "manifests" / "__init__.py").write_text(trap.format(name="manifests/"))
    return folder


#: The tiny trainings the evaluation-command tests (embed, corr, probe) share.
TINY_TRAIN = ["--model", "small", "--steps", "2", "warmup_steps=1", "batch_size=4", "num_workers=0",
              "eval_every_epoch=0"]


def _train(data: Path, run: Path, *extra: str) -> Path:
    from egoimu.train.loop import main as train_main

    assert train_main([str(data), "--run-dir", str(run), *TINY_TRAIN, *extra]) == 0
    return run


@pytest.fixture(scope="session")
def eval_tiny_run(built_epic, tmp_path_factory) -> tuple[Path, Path]:
    """(data, run): 2 contrastive steps of the small model (batch 4) on the shared build."""
    _, data = built_epic
    return data, _train(data, tmp_path_factory.mktemp("eval-run") / "ssl")


@pytest.fixture(scope="session")
def eval_verb_run(built_epic, tmp_path_factory) -> tuple[Path, Path]:
    """(data, run): the same with objective verb_video (a video encoder and a classifier, no head-motion side)."""
    _, data = built_epic
    return data, _train(data, tmp_path_factory.mktemp("eval-run") / "sup", "objective=verb_video")


@pytest.fixture(scope="session")
def synth_ego4d(tmp_path_factory):
    """Factory ``synth_ego4d(**SynthEgo4dConfig fields) -> (root, summary)`` (Ego4D layout), cached per config."""
    from egoimu.pipeline.synth.ego4d import SynthEgo4dConfig, generate_ego4d

    return _cached_generator(tmp_path_factory, SynthEgo4dConfig, generate_ego4d, "ego4d")


#: Ego4D-layout sets (egoimu synth ego4d): 2 wearers (the second video has two IMU components); every documented
#: quirk on 6 videos (one IMU quirk each).
EGO4D_CLEAN = dict(participants=2, videos_per_participant=1, seconds=8.0, seed=5)
EGO4D_FAULTY = dict(participants=7, videos_per_participant=1, seconds=6.0, seed=9, faults=("all",), audio=False)
