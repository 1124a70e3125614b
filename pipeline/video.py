"""Video stage: probe videos, apply the clip frame rule, plan and stream-decode 2-second clips.

Paper (arXiv 2110.01680): clips of 2 s at 24 fps (48 frames), 256×256 RGB. Frame k (0..47) of a
clip starting at S seconds (video timeline, S on the 1/24 grid) is the source frame on screen at
S + k/24: index ``floor((S + k/24)·fps)`` in exact rationals (docs/conventions.md).

Decoding streams: a video is decoded once per *run* of nearby clips (``plan_runs``), by a child
process (ffmpeg, or decord in ``python -m egoimu.pipeline._decord_worker``) that writes raw RGB24 frames
to a pipe; only the clips in flight are buffered. Hangs are killed after ``VideoConfig.timeout_s``
without output; crashes, short output and clips past the decodable end become
:class:`VideoError`/:class:`ClipError`, raised or yielded per the ``on_error`` policy.
Pure functions + subprocesses: no Dask, no torch.

Backends (same frames, same geometry): ``ffmpeg`` runs one ``ffmpeg`` per run: input seek to the
run start, only the first real video stream, a ``select`` filter passing exactly the wanted frame
indices (computed from timestamps, exact integer arithmetic), swscale bilinear resize, crop,
rgb24. ``decord`` runs one child per video serving all its runs (decord reads every packet to
build its index when it opens a file); decord resizes with its built-in libavfilter ``scale``
(swscale bilinear too) and the child crops. Both convert full-range (yuvj) and BT.709-tagged
input correctly; neither applies rotation metadata (``-noautorotate``; EPIC/GoPro files have none):
:func:`probe_video` reports it (``VideoInfo.rotation_deg``) and the probe stage rejects such a video.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from numbers import Rational

import numpy as np

from egoimu.manifests.geometry import DEFAULT_GEOMETRY, ClipGeometry
from egoimu.pipeline import _video_child as child
from egoimu.pipeline.ffmpeg_bin import ffmpeg_exe

BACKENDS = ("ffmpeg", "decord")
ON_ERROR = ("raise", "yield")


class VideoError(Exception):
    """A video cannot be probed or decoded (missing, corrupt, truncated, hung decoder...)."""

    def __init__(self, path: str, reason: str):
        super().__init__(path, reason)
        self.path, self.reason = str(path), reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class ClipError(VideoError):
    """One clip failed (``clip``: its position in ``starts``; ``start_s``: its start)."""

    def __init__(self, path: str, reason: str, clip: int, start_s: Fraction):
        Exception.__init__(self, path, reason, clip, start_s)
        self.path, self.reason, self.clip, self.start_s = str(path), reason, clip, start_s

    def __str__(self) -> str:
        return f"{self.path}: clip {self.clip} (start {self.start_s} s): {self.reason}"


@dataclass(frozen=True)
class VideoConfig:
    """Video stage configuration (saved with every output via :meth:`to_dict`).

    Frame rate, frames per clip and the output frame side come from ``geometry`` (the build's clip
    geometry: ``fps``, ``frames``, ``frame_size``); the frames are the centre ``frame_size``² crop after the
    short side is resized to ``short_side`` (default: ``frame_size``, i.e. the paper's 256 x 256 from the
    short side).
    """

    geometry: ClipGeometry = DEFAULT_GEOMETRY  # paper: the build's clip geometry (BuildConfig.geometry)
    short_side: int | None = None  # ours: the short side is resized to this, then centre-cropped (None: frame_size)
    backend: str = "ffmpeg"  # ours: "ffmpeg" (subprocess per run) or "decord" (child process)
    merge_gap_s: float = 1.0  # ours: clip windows at most this far apart are decoded in one run
    timeout_s: float = 120.0  # ours: a decode child silent this long (a probe: in total) is killed
    threads: int = 1  # ours: decoder threads per child process

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {self.backend!r}")
        if self.threads < 1:
            raise ValueError(f"threads must be >= 1, not {self.threads}")
        if self.short_side is not None and self.short_side < self.geometry.frame_size:
            raise ValueError(f"short_side must be >= geometry.frame_size = {self.geometry.frame_size} (the frames "
                             f"are a centre crop of that side), not {self.short_side}")
        if self.merge_gap_s < 0 or self.timeout_s <= 0:
            raise ValueError("merge_gap_s must be >= 0 and timeout_s > 0")

    @property
    def resize_short_side(self) -> int:
        """Pixels the short side is resized to before the centre crop."""
        return self.geometry.frame_size if self.short_side is None else self.short_side

    def to_dict(self) -> dict:
        """Plain JSON-serialisable dict of the fields."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` measured about a video's first real video stream.

    Decoding uses ``fps``, ``n_frames``, ``width``, ``height`` and ``start_s`` (the ffmpeg backend
    maps timestamps to indices relative to it); a VideoInfo rebuilt from a manifest must carry
    ``start_s`` unless it is 0 (true of GoPro and ffmpeg-written MP4s).
    """

    path: str
    fps: Fraction  # exact: 50, 60000/1001, 30000/1001, ...
    n_frames: int  # frames on an unbroken 1/fps grid from the first one (decodable prefix)
    width: int
    height: int
    duration_s: float  # n_frames / fps
    pix_fmt: str  # e.g. yuv420p, yuvj420p
    full_range: bool  # pc (0-255) YUV range, e.g. yuvj420p
    has_audio: bool
    codec: str  # e.g. h264, hevc
    start_s: Fraction = Fraction(0)  # container timestamp (s) of the first decoded frame, frame 0
    truncated: bool = False  # packets missing/corrupt at the end, or fewer frames than the header says
    container: str = ""  # ffmpeg demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "avi"
    decord_safe: bool = True  # decord indexes it right: every packet has a pts and not MPEG-TS/PS
    rotation_deg: float = 0.0  # rotation metadata: display rotation, degrees counter-clockwise in (-180, 180]

    def to_dict(self) -> dict:
        """JSON-serialisable dict (fractions as "num/den" strings)."""
        d = dataclasses.asdict(self)
        d["fps"], d["start_s"] = str(self.fps), str(self.start_s)
        return d


# -- probing -------------------------------------------------------------------------------------
_STD_FPS = sorted({Fraction(k) for k in range(1, 241)}
                  | {Fraction(k * 1000, 1001) for k in (24, 30, 48, 60, 120, 240)})
_GRID_TOL = 0.3  # max |timestamp·fps - nearest integer| for a constant-frame-rate stream
_NOPTS = -(2**63)  # AV_NOPTS_VALUE as framecrc prints it
# demuxers whose files decord 0.6 indexes wrongly (measured: MPEG-TS frames off by a GOP)
_DECORD_UNSAFE = {"mpegts", "mpeg", "mpegvideo", "h264", "hevc"}


def _split_top(s: str) -> list[str]:
    """Split at commas that are not inside parentheses/brackets."""
    parts, depth, cur = [], 0, []
    for ch in s:
        depth += (ch in "([") - (ch in ")]")
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return parts


_DISPLAY_MATRIX = re.compile(r"(?:displaymatrix|Display Matrix): rotation of (-?\d+(?:\.\d+)?) degrees", re.I)
_ROTATE_TAG = re.compile(r"^\s*rotate\s*:\s*(-?\d+(?:\.\d+)?)\s*$")


def _rotation(lines: list[str]) -> float:
    """Display rotation (degrees counter-clockwise, in (-180, 180], 0 = none) from a video stream's lines of
    ffmpeg's header dump: its display matrix side data (``displaymatrix: rotation of -90.00 degrees``, ffmpeg
    4-6; ``Display Matrix: ...``, 7 and later) or else an old ``rotate : 90`` tag (clockwise)."""
    ccw = 0.0
    for line in lines:
        if m := _DISPLAY_MATRIX.search(line):
            ccw = float(m[1])
            break
        if m := _ROTATE_TAG.match(line):
            ccw = -float(m[1])
    ccw = -((-ccw + 180.0) % 360.0 - 180.0)  # into (-180, 180]
    return 0.0 if abs(ccw) < 0.005 else ccw


def _parse_header(err: str) -> dict:
    """Codec, pixel format, size, audio, header duration and rotation from ffmpeg's stderr ``Input #0`` block."""
    block = err.split("Input #0", 1)[-1].split("Stream mapping:", 1)[0].split("Output #0", 1)[0]
    lines = block.splitlines()
    at = [i for i, ln in enumerate(lines) if re.search(r"Stream #0:\d+.*?: Video: ", ln) and "(attached pic)" not in ln]
    if not at:
        return {}
    end = next((j for j in range(at[0] + 1, len(lines)) if re.match(r"\s*Stream #", lines[j])), len(lines))
    parts = _split_top(lines[at[0]].split(": Video: ", 1)[1])
    out: dict = {"codec": parts[0].split()[0] if parts[0] else "unknown", "pix_fmt": "unknown",
                 "range_pc": False, "has_audio": bool(re.search(r"Stream #0:\d+.*?: Audio: ", block)),
                 "rotation_deg": _rotation(lines[at[0] + 1:end])}
    for part in parts[1:]:
        m = re.match(r"(\d+)x(\d+)", part)
        if m and "width" not in out:
            out["width"], out["height"] = int(m[1]), int(m[2])
        elif "width" not in out and re.match(r"[a-z][a-z0-9_]*", part):
            out["pix_fmt"] = re.match(r"[a-z][a-z0-9_]*", part)[0]
            out["range_pc"] = bool(re.search(r"\(pc\b", part))
    m = re.match(r", ([^\n]*?), from '", block)
    out["container"] = m[1] if m else ""
    m = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", block)
    if m:
        out["header_s"] = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    return out


def _fit_fps(pts: list[int], durs: list[int], tb: Fraction) -> tuple[Fraction, float]:
    """Exact frame rate of sorted presentation timestamps ``pts`` (ticks of ``tb``) and its grid error.

    Estimates come from the timestamp span and from the packet durations (which containers with a
    coarse time base, e.g. Matroska's 1 ms, round); the standard rate near either estimate whose
    1/fps grid fits the timestamps best wins.
    """
    ests = []
    if len(pts) > 1 and pts[-1] > pts[0]:
        ests.append((len(pts) - 1) / ((pts[-1] - pts[0]) * tb))
    if durs and all(d > 0 for d in durs):
        ests.append(len(durs) / (sum(durs) * tb))
    if not ests:
        return Fraction(0), math.inf
    rel = np.asarray([p - pts[0] for p in pts], dtype=np.float64) * float(tb)

    def grid_error(f: Fraction) -> float:
        x = rel * float(f)
        return float(np.max(np.abs(x - np.round(x))))

    cands = [f for f in _STD_FPS if any(abs(f - e) <= e * Fraction(5, 1000) for e in ests)]
    scored = sorted((grid_error(f), abs(f - ests[0]), f) for f in cands)
    if scored and scored[0][0] <= _GRID_TOL:
        return scored[0][2], scored[0][0]
    exact = ests[0].limit_denominator(100_000)
    return exact, grid_error(exact)


def _framecrc(argv: list[str], p: str, timeout_s: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, capture_output=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise VideoError(p, f"probe took longer than {timeout_s:g} s; killed") from exc


def _first_frame_time(p: str, timeout_s: float) -> Fraction | None:
    """Timestamp (s, exact) of the first decoded frame of stream 0:V:0, via ``showinfo`` (whose
    input time base is the stream's, so nothing is rounded); None if no frame decodes."""
    res = _framecrc([ffmpeg_exe(), "-hide_banner", "-nostdin", "-threads", "1", "-copyts", "-i", p,
                     "-map", "0:V:0", "-frames:v", "1", "-vf", "showinfo", "-f", "null", "-"], p, timeout_s)
    err = res.stderr.decode("utf-8", "replace")
    tb = re.search(r"config in time_base: (\d+)/(\d+)", err)
    pts = re.search(r"\bn:\s*0\s+pts:\s*(-?\d+)", err)
    if not (tb and pts) or int(tb[1]) == 0 or int(tb[2]) == 0:
        return None
    return int(pts[1]) * Fraction(int(tb[1]), int(tb[2]))


def probe_video(path: str | os.PathLike, *, timeout_s: float = 600.0) -> VideoInfo:
    """Probe ``path`` with ffmpeg alone (no ffprobe): stream header + a packet listing.

    Runs ``ffmpeg -copyts -i PATH -map 0:V:0 -c copy -f framecrc -`` (reads every video packet but
    decodes none; audio/data streams are ignored) and decodes the first frame for its timestamp
    (``start_s``: B-frame delay and edit lists included). The frame rate is fitted to the packet
    timestamps and snapped to the exact standard rate (50, 60000/1001, 30000/1001, ...) whose 1/fps
    grid they lie on. ``n_frames`` counts intact packets on that grid up to the first missing or
    corrupt one, so a truncated file reports its decodable part (``truncated=True``).
    Raises :class:`VideoError` for missing, unreadable, non-video, variable-frame-rate files, or a
    probe slower than ``timeout_s``.
    """
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise VideoError(p, "no such file" if not os.path.exists(p) else "not a regular file")
    res = _framecrc([ffmpeg_exe(), "-hide_banner", "-nostdin", "-copyts", "-i", p, "-map", "0:V:0",
                     "-c", "copy", "-f", "framecrc", "-"], p, timeout_s)
    err = res.stderr.decode("utf-8", "replace")
    head = _parse_header(err)
    last = "; ".join(err.strip().splitlines()[-2:])
    if not head and "Input #0" not in err:
        raise VideoError(p, f"ffmpeg cannot read it as a video (exit {res.returncode}): {last}")
    if not head or "width" not in head:
        raise VideoError(p, "no video stream")
    tb, rows = None, []
    for line in res.stdout.decode("ascii", "replace").splitlines():
        if line.startswith("#tb 0:"):
            tb = Fraction(line.split(":", 1)[1].strip())
        elif line and line[0] == "0":
            f = [x.strip() for x in line.split(",")]
            flags = int(f[6][2:], 16) if len(f) > 6 and f[6].startswith("F=") else 0
            rows.append((int(f[1]), int(f[2]), int(f[3]), flags))
    # packets without a pts (AVI with B-frames): use the dts, which then step by one frame each
    col = 0 if any(r[1] == _NOPTS for r in rows) else 1
    good = [(r[col], r[2]) for r in rows if not r[3] & 6 and r[col] != _NOPTS]  # not corrupt/discard
    if tb is None or not good:
        raise VideoError(p, f"no intact video packets (exit {res.returncode}): {last}")
    good.sort()
    pts = [g[0] for g in good]
    fps, gerr = _fit_fps(pts, [g[1] for g in good], tb)
    if not fps or gerr > _GRID_TOL:
        raise VideoError(p, "frame timestamps are not on a constant-frame-rate grid (variable frame rate?)")
    idx = [round((x - pts[0]) * tb * fps) for x in pts]
    n = 0
    while n < len(idx) and idx[n] == n:
        n += 1
    start = _first_frame_time(p, timeout_s)  # decoded, so B-frame delays and edit lists count
    truncated = (n < len(good) or any(r[3] & 2 for r in rows) or res.returncode != 0
                 or bool(re.search(r"partial file|[Pp]acket corrupt|[Ee]rror during demuxing", err))
                 or (not head["has_audio"]  # (an audio track may legitimately outlast the video)
                     and head.get("header_s", 0.0) - float(n / fps) > max(0.5, 2 / float(fps))))
    return VideoInfo(path=p, fps=fps, n_frames=n, width=head["width"], height=head["height"],
                     duration_s=float(n / fps), pix_fmt=head["pix_fmt"],
                     full_range=head["pix_fmt"].startswith("yuvj") or head["range_pc"],
                     has_audio=head["has_audio"], codec=head["codec"],
                     start_s=pts[0] * tb if start is None else start, truncated=truncated,
                     container=head["container"], rotation_deg=head["rotation_deg"],
                     decord_safe=col == 1 and head["container"] not in _DECORD_UNSAFE)


# -- timing and geometry (pure) ------------------------------------------------------------------
def _exact(x: object, what: str) -> Fraction:
    if isinstance(x, Rational):
        return Fraction(x)
    raise TypeError(f"{what} must be exact (int or fractions.Fraction), not {type(x).__name__}; "
                    "use snap_to_grid() for float times")


def snap_to_grid(t_s: float | str | Fraction, out_fps: int | Fraction = 24) -> Fraction:
    """Nearest point of the ``1/out_fps`` grid to ``t_s`` seconds (ties round up), as a Fraction."""
    t = Fraction(t_s) if not isinstance(t_s, Fraction) else t_s
    rate = Fraction(out_fps)
    return Fraction(math.floor(t * rate + Fraction(1, 2))) / rate


def clip_source_indices(start_s: Fraction, fps: Fraction | int, n_frames: int = 48,
                        out_fps: int | Fraction = 24) -> np.ndarray:
    """Source frame indices of a clip: ``floor((start_s + k/out_fps)·fps)`` for k in 0..n_frames-1.

    Exact rationals (``start_s`` and ``fps`` must be int/Fraction). Returns int64, shape (n_frames,),
    non-decreasing; entries may be negative or past the end (the caller checks the range).
    """
    s, f, r = _exact(start_s, "start_s"), _exact(fps, "fps"), _exact(out_fps, "out_fps")
    a, b = s.numerator, s.denominator
    p, q, n, m = r.numerator, r.denominator, f.numerator, f.denominator
    den = b * p * m
    return np.array([((a * p + k * q * b) * n) // den for k in range(n_frames)], dtype=np.int64)


def resize_geometry(width: int, height: int, size: int, crop: int | None = None) -> tuple[int, int, int, int]:
    """Short side to ``size`` (other side rounded half up), then a centred ``crop``² window.

    Returns ``(resized_width, resized_height, crop_x, crop_y)`` in pixels.
    """
    side = size if crop is None else crop
    if width <= height:
        rw, rh = size, max(size, math.floor(Fraction(height * size, width) + Fraction(1, 2)))
    else:
        rw, rh = max(size, math.floor(Fraction(width * size, height) + Fraction(1, 2))), size
    return rw, rh, (rw - side) // 2, (rh - side) // 2


# -- decode planning (pure) ----------------------------------------------------------------------
@dataclass(frozen=True)
class DecodeRun:
    """One contiguous decode: source frames ``first..last`` (inclusive) serving ``clips``.

    ``clips`` are positions in the list given to :func:`plan_runs`, in order of first frame.
    """

    first: int
    last: int
    clips: tuple[int, ...]


def plan_runs(clip_indices: Sequence[np.ndarray], max_gap_frames: int) -> list[DecodeRun]:
    """Group clips into decode runs: sorted by first frame, a clip joins the current run when at
    most ``max_gap_frames`` unneeded source frames lie between the run's last frame and its first
    (so 0 merges overlapping and touching windows). Returns runs in order of ``first``.
    """
    spans = sorted((int(np.min(ix)), int(np.max(ix)), c) for c, ix in enumerate(clip_indices))
    runs: list[DecodeRun] = []
    for first, last, c in spans:
        if runs and first <= runs[-1].last + 1 + max_gap_frames:
            r = runs[-1]
            runs[-1] = DecodeRun(r.first, max(r.last, last), r.clips + (c,))
        else:
            runs.append(DecodeRun(first, last, (c,)))
    return runs


# -- decoding ------------------------------------------------------------------------------------
def decode_clips(path: str | os.PathLike, starts: Sequence[Fraction], cfg: VideoConfig,
                 info: VideoInfo | None = None, *, merge: bool = True,
                 on_error: str = "raise") -> Iterator[tuple[int, np.ndarray | ClipError]]:
    """Decode clips starting at ``starts`` (seconds, exact, on the 1/out_fps grid) from one video.

    Yields ``(position in starts, frames)`` in order of start (ties by position); frames are uint8
    RGB, shape ``(frames, frame_size, frame_size, 3)`` of ``cfg.geometry``. Streaming: one child process
    decodes each run of nearby clips (``merge=False``: one decode per clip); only clips in flight are held in memory.
    ``on_error="raise"`` raises the first :class:`ClipError`; ``"yield"`` yields ``(position,
    ClipError)`` for each failed clip (past the decodable end, decoder crash/hang/short output)
    and carries on. Probing (``info=None``) happens here and raises :class:`VideoError` on failure.
    """
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, not {on_error!r}")
    p = os.fspath(path)
    exact = [_exact(s, "start") for s in starts]
    if info is None:
        info = probe_video(p, timeout_s=cfg.timeout_s)
    return _decode(p, exact, cfg, info, merge, on_error)


def decode_clips_per_clip(path: str | os.PathLike, starts: Sequence[Fraction], cfg: VideoConfig,
                          info: VideoInfo | None = None, *,
                          on_error: str = "raise") -> Iterator[tuple[int, np.ndarray | ClipError]]:
    """:func:`decode_clips` with one decode (seek) per clip and no merging (baseline for benchmarks)."""
    return decode_clips(path, starts, cfg, info, merge=False, on_error=on_error)


def _decode(path: str, starts: list[Fraction], cfg: VideoConfig, info: VideoInfo, merge: bool,
            on_error: str) -> Iterator[tuple[int, np.ndarray | ClipError]]:
    order = sorted(range(len(starts)), key=lambda i: (starts[i], i))  # rank -> position
    g = cfg.geometry
    idx = [clip_source_indices(starts[pos], info.fps, g.frames, g.fps) for pos in order]
    bad: list[tuple[int, str]] = []
    ok: list[int] = []
    for r, ix in enumerate(idx):
        if ix[0] < 0:
            bad.append((r, f"needs source frame {ix[0]} (before the first frame)"))
        elif ix[-1] >= info.n_frames:
            bad.append((r, f"needs source frames {ix[0]}..{ix[-1]} but only 0..{info.n_frames - 1} "
                           f"are decodable{' (truncated file)' if info.truncated else ''}"))
        elif cfg.backend == "decord" and not info.decord_safe:
            bad.append((r, f"decord misindexes this kind of file (container {info.container!r}: MPEG-TS/PS "
                           "or packets without timestamps); use backend='ffmpeg'"))
        else:
            ok.append(r)
    if merge:
        gap = math.floor(Fraction(cfg.merge_gap_s) * info.fps)
        runs = [tuple(ok[c] for c in run.clips) for run in plan_runs([idx[r] for r in ok], gap)]
    else:
        runs = [(r,) for r in ok]
    ranked = [starts[pos] for pos in order]
    if cfg.backend == "ffmpeg":
        runs = [sub for run in runs for sub in child.split_for_select(run, ranked, info.fps, cfg)]
    rw, rh, cx, cy = resize_geometry(info.width, info.height, cfg.resize_short_side, g.frame_size)
    results = child.decode_runs(path, runs, idx, ranked, cfg, info, scale=(rw, rh), crop=(cx, cy, g.frame_size))

    def fail(rank: int, reason: str) -> ClipError:
        return ClipError(path, reason, clip=order[rank], start_s=starts[order[rank]])

    pending = iter(bad + [(len(order), "")])  # invalid clips, emitted in rank order
    nxt = next(pending)
    try:
        for rank, item in results:
            while nxt[0] < rank:
                yield _emit(order[nxt[0]], fail(*nxt), on_error)
                nxt = next(pending)
            yield _emit(order[rank], fail(rank, item) if isinstance(item, str) else item, on_error)
            del item  # the consumer owns the clip now: do not hold its 9 MB while the next one decodes
        while nxt[0] < len(order):
            yield _emit(order[nxt[0]], fail(*nxt), on_error)
            nxt = next(pending)
    finally:
        results.close()  # kills a child still running (error raised, or the consumer stopped early)


def _emit(pos: int, item: np.ndarray | ClipError, on_error: str) -> tuple[int, np.ndarray | ClipError]:
    if isinstance(item, ClipError) and on_error == "raise":
        raise item
    return pos, item
