"""Deterministic ffmpeg writer for synthetic videos (reusable by the other generators).

Frames rendered in numpy ((H, W, 3) uint8 RGB) are piped raw into one ffmpeg process per video
(argument list, no shell). With the defaults the output is byte-identical for identical frames:
single-threaded libx264 with a fixed preset and parameters, bit-exact muxing/encoding flags and no
metadata. The optional audio track is seeded noise (``anoisesrc``) through the native AAC encoder,
like the quiet room noise of a GoPro recording.

Public API: :func:`h264_args` (from :func:`x264_args` and :func:`mp4_args`), :class:`FrameWriter`.
"""

from __future__ import annotations

import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from egoimu.pipeline.ffmpeg_bin import ffmpeg_exe


def h264_args(out: Path, width: int, height: int, fps: Fraction, *, full_range: bool = False,
              audio_seconds: float | None = None, audio_seed: int = 0, crf: int = 23,
              preset: str = "ultrafast", gop: int | None = None, faststart: bool = True,
              input_pix_fmt: str = "rgb24") -> list[str]:
    """ffmpeg argument list: raw frames on stdin -> H.264 MP4 ``out``.

    ``input_pix_fmt``: ``rgb24`` ((H, W, 3) uint8 frames) or ``rgb0`` ((H, W, 4) uint8, 4th byte unused).
    ``fps`` exact rational; ``gop`` keyframe interval in frames (default round(fps), GoPro-like ≈ 1 s,
    no scene-cut keyframes); ``full_range`` writes yuvj420p (full range), else yuv420p;
    ``audio_seconds`` adds a 48 kHz stereo AAC track of quiet pink noise seeded by ``audio_seed``.
    ``faststart`` puts the moov atom first (a truncated file still decodes up to the cut).
    """
    args = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-threads", "1",
            "-f", "rawvideo", "-pix_fmt", input_pix_fmt, "-video_size", f"{width}x{height}",
            "-framerate", f"{fps.numerator}/{fps.denominator}", "-i", "pipe:0"]
    if audio_seconds is not None:
        args += ["-f", "lavfi", "-i",
                 f"anoisesrc=d={audio_seconds:.6f}:c=pink:r=48000:a=0.003:s={int(audio_seed) % 2**31}"]
    args += ["-map", "0:v"] + (["-map", "1:a"] if audio_seconds is not None else [])
    args += x264_args(fps, full_range=full_range, crf=crf, preset=preset, gop=gop)
    if audio_seconds is not None:
        args += ["-c:a", "aac", "-b:a", "96k", "-ac", "2", "-ar", "48000", "-flags:a", "+bitexact"]
    return args + mp4_args(out, faststart=faststart)


def x264_args(fps: Fraction, *, full_range: bool = False, crf: int = 23, preset: str = "ultrafast",
              gop: int | None = None) -> list[str]:
    """The video encoder options of :func:`h264_args` (single-threaded libx264, keyframe every ``gop``
    frames, default round(fps), no scene-cut keyframes, yuv420p or full-range yuvj420p)."""
    gop = int(round(fps)) if gop is None else gop
    args = ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-g", str(gop),
            "-keyint_min", str(gop), "-sc_threshold", "0", "-threads", "1",
            "-pix_fmt", "yuvj420p" if full_range else "yuv420p"]
    return args + (["-color_range", "pc"] if full_range else [])


def mp4_args(out: Path, *, faststart: bool = True) -> list[str]:
    """The bit-exact MP4 muxing options of :func:`h264_args`, ending with the output path."""
    args = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1"]
    return args + (["-movflags", "+faststart"] if faststart else []) + [str(out)]


class FrameWriter:
    """Context manager: ``with FrameWriter(args) as w: w.write(frame)`` for each uint8 frame
    ((H, W, 3) for ``rgb24`` input, (H, W, 4) for ``rgb0``). On exit the process must succeed, else
    ``RuntimeError`` with ffmpeg's stderr.
    """

    def __init__(self, args: list[str]):
        self.args = args
        self._err = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=self._err)
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        try:
            self._proc.stdin.write(memoryview(np.ascontiguousarray(frame, dtype=np.uint8)).cast("B"))
        except BrokenPipeError:
            self._finish()
            raise
        self.frames += 1

    def _finish(self) -> None:
        self._proc.stdin.close()
        rc = self._proc.wait()
        self._err.seek(0)
        err = self._err.read().decode(errors="replace")
        self._err.close()
        if rc != 0:
            raise RuntimeError(f"ffmpeg failed (exit {rc}) writing {self.args[-1]}:\n{err.strip()}")

    def close(self) -> None:
        self._finish()

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._proc.kill()
            self._proc.wait()
            self._err.close()
