"""Decode engine of :mod:`egoimu.pipeline.video`: child processes that stream raw frames, with timeouts.

A :class:`FrameStream` owns one child (``ffmpeg`` or ``python -m egoimu.pipeline._decord_worker``) whose
stdout carries raw RGB24 frames back to back and whose stderr carries diagnostics. Frames are read
in fixed-size reads with a *stall* timeout: if the child produces no byte for ``timeout_s`` seconds
while we wait for one, it is killed and :class:`ChildFailed` is raised. Time the consumer spends
between reads does not count (the child just blocks on a full pipe), so a slow consumer never
trips the timeout, and memory stays bounded by the pipe buffer.

Also here: the ffmpeg argument list and its exact frame-selection expression, the decord worker's
spec, and :func:`decode_runs`, which drives one child per run (ffmpeg) or per video (decord) and
fans the frames out to the clips of each run.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator, Sequence
from fractions import Fraction
from math import gcd
from typing import Any

import numpy as np

from egoimu.pipeline.ffmpeg_bin import ffmpeg_exe

_ERR_TAIL_BYTES = 8192
_REAP_TIMEOUT_S = 10.0
_SHOWN = re.compile(rb"Parsed_showinfo.*\bn:\s*\d+\s+pts:\s*(-?\d+)")
_SHOWN_TB = re.compile(rb"Parsed_showinfo.*config in time_base: (\d+)/(\d+)")


class ChildFailed(Exception):
    """A decoder child hung, crashed, or delivered short/corrupt output (internal to egoimu.pipeline.video).

    ``hung``: the child was killed by the stall timeout; ``overshoot``: ffmpeg's seek landed after
    the first wanted frame (nothing was delivered; retry with an earlier seek).
    """

    def __init__(self, reason: str, hung: bool = False, overshoot: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.hung = hung
        self.overshoot = overshoot


class FrameStream:
    """One decoder child process streaming raw frames on stdout (see the module docstring).

    ``argv`` is an argument list (never a shell). Use as a context manager: leaving it kills the
    child if it is still running and closes the pipes. With ``timeline=(t0, fps)`` the child is an
    ffmpeg whose filter chain logs each output frame with ``showinfo``; :meth:`next_index` then
    gives the source index of the frame just read (``round((pts·tb - t0)·fps)``).
    """

    def __init__(self, argv: Sequence[str], *, timeout_s: float, label: str, env: dict | None = None,
                 timeline: tuple[Fraction, Fraction] | None = None):
        self.label = label
        self.timeout_s = float(timeout_s)
        self.timeline = timeline
        self._err_tail = bytearray()
        self._partial = b""
        self._shown: deque[int] = deque()
        self._shown_tb: Fraction | None = None
        self.frames = 0  # frames delivered so far
        try:
            self.proc = subprocess.Popen(
                list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=env, close_fds=True,
            )
        except OSError as exc:
            raise ChildFailed(f"{label}: cannot start {argv[0]!r}: {exc}") from exc
        self._out = self.proc.stdout.fileno()
        self._err = self.proc.stderr.fileno()
        os.set_blocking(self._out, False)
        os.set_blocking(self._err, False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._out, selectors.EVENT_READ)
        self._sel.register(self._err, selectors.EVENT_READ)
        self._sel_err = selectors.DefaultSelector()  # stderr alone (epoll: no FD_SETSIZE limit)
        self._sel_err.register(self._err, selectors.EVENT_READ)
        self._open = {self._out, self._err}

    def __enter__(self) -> FrameStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------------
    def _read_err(self) -> None:
        try:
            chunk = os.read(self._err, 65536)
        except BlockingIOError:
            return
        if not chunk:
            self._unregister(self._err)
            chunk = b"\n"  # flush a last unterminated line
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()[-_ERR_TAIL_BYTES:]
        for line in lines:
            if b"Parsed_showinfo" in line:  # frame log lines are parsed, not kept for messages
                m = _SHOWN.search(line)
                if m:
                    self._shown.append(int(m[1]))
                elif (m := _SHOWN_TB.search(line)) and int(m[2]):
                    self._shown_tb = Fraction(int(m[1]), int(m[2]))
                continue
            if self.timeline is None or b"[info]" not in line:  # ffmpeg: keep warnings and errors
                self._err_tail += line + b"\n"
        if len(self._err_tail) > _ERR_TAIL_BYTES:
            del self._err_tail[:-_ERR_TAIL_BYTES]

    def next_index(self) -> int:
        """Source index of the next logged output frame (waits for its ``showinfo`` line)."""
        deadline = time.monotonic() + self.timeout_s
        while not self._shown and self._err in self._open and time.monotonic() < deadline:
            if self._sel_err.select(max(0.0, deadline - time.monotonic())):
                self._read_err()
        if not self._shown or self._shown_tb is None or self.timeline is None:
            raise ChildFailed(f"{self.label}: no frame log from ffmpeg's showinfo filter{self._tail()}")
        t0, fps = self.timeline
        return round((self._shown.popleft() * self._shown_tb - t0) * fps)

    def _unregister(self, fd: int) -> None:
        if fd in self._open:
            self._open.discard(fd)
            self._sel.unregister(fd)
            if fd == self._err:
                self._sel_err.unregister(fd)

    def read_into(self, buf: memoryview) -> bool:
        """Fill ``buf`` (a writable byte memoryview, one frame) completely from the child's stdout.

        Returns False on a clean end of output before the first byte. Raises :class:`ChildFailed`
        on a stall longer than ``timeout_s`` (the child is killed) or when output ends mid-frame.
        """
        size, filled = len(buf), 0
        deadline = time.monotonic() + self.timeout_s
        while filled < size and self._out in self._open:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise ChildFailed(
                    f"{self.label}: no output for {self.timeout_s:g} s (decoder hung?); killed{self._tail()}",
                    hung=True,
                )
            for key, _ in self._sel.select(remaining):
                if key.fd == self._err:
                    self._read_err()
                    continue
                try:
                    got = os.readv(self._out, [buf[filled:]])
                except BlockingIOError:
                    continue
                if got == 0:
                    self._unregister(self._out)
                else:
                    filled += got
                    deadline = time.monotonic() + self.timeout_s
        if filled == 0:
            return False
        if filled < size:
            rc = self.finish()
            raise ChildFailed(f"{self.label}: output ended inside a frame ({filled} of {size} bytes), "
                              f"{self.describe_exit(rc)}")
        self.frames += 1
        return True

    def finish(self) -> int:
        """Wait for the child to exit after its output (draining stderr); returns the exit status.

        A child that does not exit within its timeout is killed.
        """
        deadline = time.monotonic() + max(self.timeout_s, _REAP_TIMEOUT_S)
        while self._open and time.monotonic() < deadline:
            for key, _ in self._sel.select(max(0.0, deadline - time.monotonic())):
                if key.fd == self._err:
                    self._read_err()
                else:  # unread output after the expected frames: discard it
                    try:
                        if not os.read(self._out, 1 << 20):
                            self._unregister(self._out)
                    except BlockingIOError:
                        pass
        try:
            return self.proc.wait(timeout=max(0.0, deadline - time.monotonic()) + 0.5)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.returncode

    def stderr_tail(self, max_lines: int = 6) -> str:
        """The last lines the child wrote to stderr (decoded, stripped)."""
        lines = self._err_tail.decode("utf-8", "replace").strip().splitlines()
        return "\n".join(lines[-max_lines:])

    def _tail(self) -> str:
        tail = self.stderr_tail()
        return f"; stderr: {tail}" if tail else ""

    def describe_exit(self, rc: int) -> str:
        """Human-readable exit status plus the stderr tail."""
        what = f"killed by signal {-rc}" if rc < 0 else f"exit status {rc}"
        return what + self._tail()

    def kill(self) -> None:
        """Kill the child (if still running) and reap it."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        """Kill the child if still running, reap it and close its pipes and the selector."""
        self.kill()
        for fd in list(self._open):
            self._unregister(fd)
        self._sel.close()
        self._sel_err.close()
        self.proc.stdout.close()
        self.proc.stderr.close()


# -- ffmpeg --------------------------------------------------------------------------------------
SEEK_MARGIN_FRAMES = 2  # seek this many frame periods before the first wanted frame (ffmpeg adds more)
SEEK_RETRY_BACK_S = (10.0, None)  # after a seek past the first wanted frame: seek this much earlier, then none
MAX_SELECT_TERMS = 48  # a run whose selection needs more terms is split (keeps argv and eval small)


def clip_term(start_s: Fraction, fps: Fraction, out_fps: Fraction, n_frames: int) -> tuple[tuple, int, int]:
    """Exact integer form of one clip's frame rule for the select expression.

    Source index of clip frame k is ``floor((A + k·B) / L)``. Returned as
    ``((B, L, A mod B), lo, hi)``: clips with the same key are one arithmetic family in which this
    clip covers ``k' = A div B + k`` for ``k' in [lo, hi]``, so overlapping clips merge into intervals.
    """
    a, b = start_s.numerator, start_s.denominator
    p, q = out_fps.numerator, out_fps.denominator
    n, m = fps.numerator, fps.denominator
    big_a, big_b, big_l = a * p * n, q * b * n, b * p * m
    g = gcd(gcd(big_a, big_b), big_l)
    big_a, big_b, big_l = big_a // g, big_b // g, big_l // g
    off = big_a // big_b
    return (big_b, big_l, big_a - off * big_b), off, off + n_frames - 1


def select_terms(terms: Sequence[tuple[tuple, int, int]]) -> list[tuple[int, int, int, int, int]]:
    """Merge clip terms into ``(B, L, A0, lo, hi)`` intervals (overlapping/touching k-ranges merged)."""
    fams: dict[tuple, list[list[int]]] = {}
    for key, lo, hi in terms:
        fams.setdefault(key, []).append([lo, hi])
    out = []
    for (big_b, big_l, a0), ivs in fams.items():
        ivs.sort()
        merged = [ivs[0][:]]
        for lo, hi in ivs[1:]:
            if lo <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        out.extend((big_b, big_l, a0, lo, hi) for lo, hi in merged)
    return out


def select_expr(merged: Sequence[tuple[int, int, int, int, int]], fps: Fraction, t0: Fraction,
                first: int, last: int) -> str:
    """ffmpeg ``select`` expression passing exactly the frames whose index is in one of the terms.

    A decoded frame's index is ``round((t - t0)·fps)`` (t: its timestamp in seconds with
    ``-copyts``); index ``i`` is wanted when some ``k' in [lo, hi]`` has
    ``i·L <= A0 + k'·B < (i+1)·L``, i.e. ``max(ceil((i·L-A0)/B), lo) <= min(ceil(((i+1)·L-A0)/B)-1, hi)``.
    All operands are integers far below 2**53, so the double arithmetic of ffmpeg's evaluator is exact.
    """
    idx = f"st(0,round((t-({float(t0):.17f}))*{fps.numerator}/{fps.denominator}))"
    parts = [
        f"lte(max(ceil((ld(0)*{bl}-{a0})/{bb}),{lo}),min(ceil(((ld(0)+1)*{bl}-{a0})/{bb})-1,{hi}))"
        for bb, bl, a0, lo, hi in merged
    ]
    return f"{idx};between(ld(0),{first},{last})*gt({'+'.join(parts)},0)"


def scale_crop_filter(scale: tuple[int, int], crop: tuple[int, int, int]) -> str:
    """The video stage's resize and crop as an ffmpeg filter chain: bilinear scale to ``scale`` = (width,
    height) pixels, centre crop ``crop`` = (x, y, side) pixels, rgb24 (also bare ffmpeg baselines' chain)."""
    (sw, sh), (cx, cy, side) = scale, crop
    return f"scale={sw}:{sh}:flags=bilinear,crop={side}:{side}:{cx}:{cy},format=rgb24"


def ffmpeg_argv(exe: str, path: str, *, seek_s: Fraction | None, select: str, n_out: int,
                scale: tuple[int, int], crop: tuple[int, int, int], threads: int) -> list[str]:
    """ffmpeg argument list: seek, decode only the first real video stream, select, scale, crop.

    ``scale`` = (width, height) after the short-side resize, ``crop`` = (x, y, side). Output:
    ``n_out`` frames of rawvideo rgb24 on stdout. ``-copyts`` keeps the container timestamps that
    :func:`egoimu.pipeline.video.probe_video` measured; ``-seek_timestamp 1`` makes ``-ss`` absolute on that
    timeline; ``-noaccurate_seek`` leaves frame dropping to the select filter alone. ``showinfo``
    logs every selected frame's timestamp to stderr, so each delivered frame is checked.
    """
    argv = [exe, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+info", "-threads", str(threads)]
    if seek_s is not None:
        us = (seek_s * 1_000_000).__floor__()
        argv += ["-seek_timestamp", "1", "-ss", f"{us // 1_000_000}.{us % 1_000_000:06d}", "-noaccurate_seek"]
    vf = f"select='{select}',showinfo=checksum=0,{scale_crop_filter(scale, crop)}"
    argv += ["-copyts", "-noautorotate", "-i", path, "-map", "0:V:0", "-an", "-sn", "-dn",
             "-filter_threads", str(threads), "-vf", vf, "-fps_mode", "passthrough",
             "-frames:v", str(n_out), "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    return argv


# -- decord --------------------------------------------------------------------------------------
def decord_argv(spec_path: str) -> tuple[list[str], dict]:
    """Argument list and environment for ``python -m egoimu.pipeline._decord_worker SPEC`` (not multiprocessing:
    Dask's daemonic worker processes cannot have multiprocessing children)."""
    return [sys.executable, "-m", "egoimu.pipeline._decord_worker", spec_path], dict(os.environ)


def write_spec(path: str, scale: tuple[int, int], crop: tuple[int, int, int], threads: int,
               runs: list[list[int]]) -> str:
    """Write the decord worker's JSON spec to a new temporary file; returns its path."""
    fd, name = tempfile.mkstemp(prefix="egoimu-decord-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"path": os.path.abspath(path), "width": scale[0], "height": scale[1],
                   "crop": list(crop), "threads": threads, "runs": runs}, fh)
    return name


# -- the engine ----------------------------------------------------------------------------------
def split_for_select(run: tuple[int, ...], starts: Sequence[Fraction], fps: Fraction,
                     cfg: Any) -> list[tuple[int, ...]]:
    """Split a run (ranks into ``starts``) whose select expression would need more than
    MAX_SELECT_TERMS terms into consecutive sub-runs (one ffmpeg process each)."""
    out: list[tuple[int, ...]] = []
    cur: list[int] = []
    terms: list = []
    for r in run:
        term = clip_term(starts[r], fps, Fraction(cfg.geometry.fps), cfg.geometry.frames)
        if cur and len(select_terms(terms + [term])) > MAX_SELECT_TERMS:
            out.append(tuple(cur))
            cur, terms = [], []
        cur.append(r)
        terms.append(term)
    return out + [tuple(cur)] if cur else out


def _spawn_ffmpeg(path: str, run: tuple[int, ...], uniq: list[int], starts: Sequence[Fraction], cfg: Any,
                  info: Any, scale: tuple[int, int], crop: tuple[int, int, int], label: str,
                  attempt: int) -> FrameStream:
    terms = [clip_term(starts[r], info.fps, Fraction(cfg.geometry.fps), cfg.geometry.frames) for r in run]
    seek: Fraction | None = info.start_s + (uniq[0] - SEEK_MARGIN_FRAMES) / info.fps
    if attempt:
        back = SEEK_RETRY_BACK_S[attempt - 1]
        seek = None if back is None else seek - Fraction(back)
    expr = select_expr(select_terms(terms), info.fps, info.start_s, uniq[0], uniq[-1])
    argv = ffmpeg_argv(ffmpeg_exe(), path, seek_s=seek if seek is not None and seek > 0 else None, select=expr,
                       n_out=len(uniq), scale=scale, crop=crop, threads=cfg.threads)
    return FrameStream(argv, timeout_s=cfg.timeout_s, label=label, timeline=(info.start_s, info.fps))


def _ffmpeg_run(path: str, run: tuple[int, ...], uniq: list[int], targets: dict, starts: Sequence[Fraction],
                cfg: Any, info: Any, scale: tuple[int, int], crop: tuple[int, int, int],
                label: str) -> Iterator[tuple[int, np.ndarray]]:
    """One run with ffmpeg; a seek that lands past the run start is retried from further back."""
    for attempt in range(len(SEEK_RETRY_BACK_S) + 1):
        with _spawn_ffmpeg(path, run, uniq, starts, cfg, info, scale, crop, label, attempt) as stream:
            try:
                yield from _fan_out(stream, uniq, targets, crop[2], cfg.geometry.frames)
            except ChildFailed as exc:
                if exc.overshoot and attempt < len(SEEK_RETRY_BACK_S):
                    continue
                raise
            stream.finish()
            return


def decode_runs(path: str, runs: list[tuple[int, ...]], idx: Sequence[np.ndarray], starts: Sequence[Fraction],
                cfg: Any, info: Any, *, scale: tuple[int, int],
                crop: tuple[int, int, int]) -> Iterator[tuple[int, np.ndarray | str]]:
    """Decode ``runs`` (tuples of clip ranks; ``idx[r]``/``starts[r]``: source indices/start of clip r).

    Yields ``(rank, frames)`` (uint8, (n_frames, side, side, 3)) as each clip completes, in rank
    order, or ``(rank, reason)`` for each clip of a run whose child failed. ffmpeg: one child per
    run, every delivered frame checked against ffmpeg's own log of its timestamp. decord: one child
    for all remaining runs (decord reads the whole file to index it on open), restarted after a
    failed run. After a hang (or a decord child that failed before its first frame) the remaining
    runs are not attempted. ``cfg``/``info``: a VideoConfig/VideoInfo.
    """
    plans = []
    for run in runs:
        targets: dict[int, list[tuple[int, int]]] = {}
        for r in run:
            for k, i in enumerate(idx[r].tolist()):
                targets.setdefault(i, []).append((r, k))
        plans.append((run, sorted(targets), targets))
    spec_file = None
    dec: FrameStream | None = None  # the decord child, serving the remaining runs
    abort = ""
    try:
        for j, (run, uniq, targets) in enumerate(plans):
            label = f"{cfg.backend} run of source frames {uniq[0]}..{uniq[-1]}"
            if abort:
                for r in run:
                    yield r, f"not attempted: an earlier run of this video failed ({abort})"
                continue
            done: set[int] = set()
            try:
                if cfg.backend == "ffmpeg":
                    source = _ffmpeg_run(path, run, uniq, targets, starts, cfg, info, scale, crop, label)
                else:
                    if dec is None:
                        if spec_file is not None:
                            os.unlink(spec_file)
                        spec_file = write_spec(path, scale, crop, cfg.threads, [p[1] for p in plans[j:]])
                        argv, env = decord_argv(spec_file)
                        dec = FrameStream(argv, timeout_s=cfg.timeout_s, label=label, env=env)
                    dec.label = label
                    source = _fan_out(dec, uniq, targets, crop[2], cfg.geometry.frames)
                for r, frames in source:
                    done.add(r)
                    yield r, frames
                    del frames  # not held while the next clip decodes
                if dec is not None and j == len(plans) - 1:
                    dec.finish()
            except ChildFailed as exc:
                if exc.hung or (dec is not None and not dec.frames):
                    abort = exc.reason  # later runs would fail alike
                if dec is not None:
                    dec.close()
                    dec = None
                for r in run:
                    if r not in done:
                        yield r, f"decode failed: {exc.reason}"
    finally:
        if dec is not None:
            dec.close()
        if spec_file is not None:
            os.unlink(spec_file)


def _fan_out(stream: FrameStream, uniq: list[int], targets: dict[int, list[tuple[int, int]]],
             side: int, n_frames: int) -> Iterator[tuple[int, np.ndarray]]:
    """Read one run's frames (``uniq`` order) and copy each into the clips that use it; yield a clip
    as soon as its last frame arrived (clips finish in rank order). With a ``timeline`` stream,
    each frame's source index (from ffmpeg's log) must be the expected one."""
    frame = np.empty((side, side, 3), np.uint8)
    view = memoryview(frame).cast("B")
    last_of: dict[int, int] = {}
    for i in uniq:
        for r, _ in targets[i]:
            last_of[r] = i
    finishing: dict[int, list[int]] = {}
    for r, i in last_of.items():
        finishing.setdefault(i, []).append(r)
    bufs: dict[int, np.ndarray] = {}
    for n, i in enumerate(uniq):
        if not stream.read_into(view):
            rc = stream.finish()
            raise ChildFailed(f"{stream.label}: decoder stopped after {n} of {len(uniq)} frames "
                              f"({stream.describe_exit(rc)})")
        if stream.timeline is not None and (got := stream.next_index()) != i:
            past = n == 0 and got > i
            raise ChildFailed(f"{stream.label}: ffmpeg delivered source frame {got} where {i} was expected"
                              + (" (its seek landed past the run start)" if past else ""), overshoot=past)
        for r, k in targets[i]:
            buf = bufs.get(r)
            if buf is None:
                buf = bufs[r] = np.empty((n_frames, side, side, 3), np.uint8)
            buf[k] = frame
        for r in sorted(finishing.get(i, ())):
            yield r, bufs.pop(r)
