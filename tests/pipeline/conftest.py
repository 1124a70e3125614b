"""Stage tests' inputs: one recording of the small clean synthetic set, copied into a root of its own, and videos
with rotation metadata."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from egoimu.pipeline.ffmpeg_bin import ffmpeg_exe
from egoimu.pipeline.recordings import RecordingTask

#: The recording the stage tests use: the clean set's P01_101 (10 s, 50 fps, 456x256, ~200 Hz IMU).
RECORDING = RecordingTask("P01_101", "P01", "P01/videos/P01_101.MP4", "P01/meta_data/P01_101-accl.csv",
                          "P01/meta_data/P01_101-gyro.csv")


@pytest.fixture
def recording(epic_clean, tmp_path) -> tuple[RecordingTask, Path, Path]:
    """(the task, the clean set's root, a fresh root holding copies of the recording's three files and nothing
    else: no synthetic truth)."""
    src, root = epic_clean[0], tmp_path / "root"
    for rel in (RECORDING.video, RECORDING.accl, RECORDING.gyro):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, root / rel)
    return RECORDING, src, root


def rotated_copy(src: Path, dst: Path, degrees: int) -> Path:
    """``src`` with rotation metadata of ``degrees`` counter-clockwise (stream copy): ``-display_rotation`` (ffmpeg
    6.1 and later; the imageio-ffmpeg binary is 7+), else the older ``rotate`` tag (clockwise)."""
    base = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
    new = subprocess.run([*base, "-display_rotation", str(degrees), "-i", str(src), "-c", "copy", str(dst)],
                         capture_output=True)
    if new.returncode != 0:
        subprocess.run([*base, "-i", str(src), "-c", "copy", "-metadata:s:v:0", f"rotate={-degrees}", str(dst)],
                       check=True)
    return dst


@pytest.fixture(scope="session")
def rotate_video() -> Callable[[Path, Path, int], Path]:
    """:func:`rotated_copy` (tests cannot import conftest under --import-mode=importlib)."""
    return rotated_copy
