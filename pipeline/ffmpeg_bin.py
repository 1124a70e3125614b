"""Locate the ffmpeg binary.

Order: ``$EGOIMU_FFMPEG``, then ``ffmpeg`` on ``PATH`` (Debian's in the Docker image), then the
binary shipped inside the ``imageio-ffmpeg`` wheel. ffprobe is never required: probing in egoimu
is done with ffmpeg itself (``-f framemd5``/stderr) or decord.
"""

from __future__ import annotations

import functools
import os
import shutil


class FFmpegNotFound(RuntimeError):
    """Raised when no ffmpeg binary can be found."""


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Absolute path of the ffmpeg binary to run (see the module docstring for the order)."""
    env = os.environ.get("EGOIMU_FFMPEG")
    if env:
        if not (os.path.isfile(env) and os.access(env, os.X_OK)):
            raise FFmpegNotFound(f"$EGOIMU_FFMPEG={env!r} is not an executable file")
        return env
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise FFmpegNotFound(
            "no ffmpeg found: install Debian's ffmpeg, or `pip install imageio-ffmpeg`, "
            "or set EGOIMU_FFMPEG to the binary"
        ) from exc
    return imageio_ffmpeg.get_ffmpeg_exe()
