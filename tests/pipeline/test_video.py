"""Tests of egoimu.pipeline.video with real ffmpeg and decord on small MP4s made here.

Every test video frame encodes its own index as a 4×4 grid of black/white 24-px blocks (12 index
bits + 4 check bits) in the centre 96×96 of a 160×96 frame, so after H.264, the short-side resize
to 64 and the centre crop, each output frame tells which source frame it came from.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import pickle
import subprocess
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import psutil
import pytest

from egoimu.manifests.geometry import ClipGeometry
from egoimu.pipeline import _video_child as child
from egoimu.pipeline import video as V
from egoimu.pipeline.ffmpeg_bin import ffmpeg_exe

W, H, BLOCK = 160, 96, 24
RATES = {"50": Fraction(50), "59.94": Fraction(60000, 1001), "29.97": Fraction(30000, 1001)}
N_SRC = 360  # frames per test video (7.2 s at 50 fps, 6.006 s at 59.94, 12.012 s at 29.97)
CFG = V.VideoConfig(geometry=ClipGeometry(frame_size=64), timeout_s=30)  # 64×64 output keeps the tests fast


def short(n_frames: int, **changes) -> V.VideoConfig:
    """CFG with clips of ``n_frames`` frames at 24 fps (a structurally valid geometry, not one for training)."""
    geometry = ClipGeometry(window_s=n_frames / 24, imu_rate_hz=24 * 33, frame_size=64)
    return dataclasses.replace(CFG, geometry=geometry, **changes)
COLOURS = [(220, 40, 40), (40, 200, 60), (40, 60, 220), (230, 200, 40)]


def _code(i: int) -> int:
    return (i & 0xFFF) | (((i * 7 + 3) % 16) << 12)


def _frame(i: int, colour: bool = False) -> np.ndarray:
    img = np.zeros((H, W, 3), np.uint8)
    img[:, :32], img[:, 128:] = (200, 30, 30), (30, 30, 200)  # cropped away by the centre crop
    if colour:
        for q, c in enumerate(COLOURS):
            r, k = divmod(q, 2)
            img[r * 48:(r + 1) * 48, 32 + k * 48:32 + (k + 1) * 48] = c
        return img
    for b in range(16):
        r, c = divmod(b, 4)
        if (_code(i) >> b) & 1:
            img[r * BLOCK:(r + 1) * BLOCK, 32 + c * BLOCK:32 + (c + 1) * BLOCK] = 255
    return img


def read_index(frame: np.ndarray) -> int:
    """Source index encoded in a 64×64 output frame (-1 when the check bits disagree)."""
    bs = frame.shape[0] / 4
    code = 0
    for b in range(16):
        r, c = divmod(b, 4)
        blk = frame[int(r * bs + bs / 4):int((r + 1) * bs - bs / 4), int(c * bs + bs / 4):int((c + 1) * bs - bs / 4)]
        code |= int(np.median(blk) > 128) << b
    i = code & 0xFFF
    return i if code == _code(i) else -1


def _encode(path, rate: str, n: int, *, colour=False, pix_fmt="yuv420p", extra_in=(), extra_out=()):
    argv = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "rawvideo",
            "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-framerate", str(RATES.get(rate, rate)), "-i", "pipe:0",
            *extra_in, "-c:v", "libx264", "-preset", "veryfast", "-crf", "18",
            "-g", str(round(float(RATES.get(rate, Fraction(rate))))), "-pix_fmt", pix_fmt, *extra_out, str(path)]
    data = b"".join(_frame(i, colour).tobytes() for i in range(n))
    subprocess.run(argv, input=data, check=True)
    return str(path)


@pytest.fixture(scope="session")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("video")
    bt709 = ["-vf", "scale=out_color_matrix=bt709:out_range=tv", "-colorspace", "bt709",
             "-color_primaries", "bt709", "-color_trc", "bt709"]
    v = {rate: _encode(d / f"v{rate}.mp4", rate, N_SRC, extra_out=bt709 if rate == "50" else ())
         for rate in RATES}
    # full-range (yuvj420p) video with an AAC audio stream and a tmcd data stream, like a GoPro file
    v["full"] = _encode(d / "full.mp4", "59.94", 200, pix_fmt="yuvj420p",
                        extra_in=["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=4"],
                        extra_out=["-map", "0:v", "-map", "1:a", "-c:a", "aac", "-timecode", "00:00:00:00"])
    v["colour"] = _encode(d / "colour.mp4", "50", 25, colour=True, extra_out=bt709)
    fast = d / "faststart.mp4"  # moov first, so a truncated copy still opens
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-i", v["50"], "-c", "copy",
                    "-movflags", "+faststart", str(fast)], check=True)
    data = fast.read_bytes()
    (d / "truncated.mp4").write_bytes(data[:len(data) * 55 // 100])
    (d / "nomoov.mp4").write_bytes(open(v["50"], "rb").read()[:20000])
    (d / "garbage.mp4").write_bytes(np.random.default_rng(0).bytes(50000))
    # other containers: MPEG-TS (starts at 1.4 s, 90 kHz), Matroska shifted to 3.5 s (1 ms time
    # base), AVI with B-frames (MPEG-4 part 2: packets without pts; first decoded frame at 1/fps)
    for name, src, args in (("ts.ts", v["59.94"], ["-c", "copy"]),
                            ("offset.mkv", v["50"], ["-c", "copy", "-output_ts_offset", "3.5"]),
                            ("bframes.avi", v["29.97"], ["-c:v", "mpeg4", "-q:v", "3", "-g", "30", "-bf", "2"])):
        subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-i", src, *args, str(d / name)], check=True)
        v[name] = str(d / name)
    v.update(truncated=str(d / "truncated.mp4"), nomoov=str(d / "nomoov.mp4"), garbage=str(d / "garbage.mp4"))
    return v


# Two runs of overlapping clips (their windows are 1.2 s apart, > merge_gap_s); most starts are not multiples of
# the source frame period.
STARTS = [Fraction(s, 24) for s in (0, 1, 7, 16, 92, 93, 95)]


@pytest.fixture(scope="session")
def decoded(videos):
    cache = {}

    def get(rate, backend, merge=True):
        key = (rate, backend, merge)
        if key not in cache:
            cfg = dataclasses.replace(CFG, backend=backend)
            cache[key] = list(V.decode_clips(videos[rate], STARTS, cfg, merge=merge))
        return cache[key]

    return get


def _is_decoder(proc: psutil.Process) -> bool:
    """A child of ours that runs a decoder (ffmpeg or the decord worker); other long-lived children
    of the test process (e.g. multiprocessing's resource tracker) are not this module's business."""
    try:
        cmd = " ".join(proc.cmdline())
    except psutil.Error:
        return False
    return "ffmpeg" in cmd or "_decord_worker" in cmd or "_video_child" in cmd


def _no_children():
    left = [p for p in psutil.Process().children(recursive=True) if _is_decoder(p)]
    assert not left, f"decoder child processes left behind: {left}"


# -- pure functions ------------------------------------------------------------------------------
def test_snap_to_grid():
    assert V.snap_to_grid(7 / 24) == Fraction(7, 24)
    assert V.snap_to_grid("1.02") == Fraction(24, 24)  # 24.48 -> 24
    assert V.snap_to_grid(1.03) == Fraction(25, 24)  # 24.72 -> 25
    assert V.snap_to_grid(Fraction(1, 48)) == Fraction(1, 24)  # ties round up
    assert V.snap_to_grid(2.0, out_fps=30) == Fraction(2)


@pytest.mark.parametrize("fps", list(RATES.values()) + [Fraction(12)])
@pytest.mark.parametrize("s", [0, 1, 7, 31, 1001, 86399])
def test_clip_source_indices_exact(fps, s):
    start = Fraction(s, 24)
    got = V.clip_source_indices(start, fps)
    want = [int((start + Fraction(k, 24)) * fps // 1) for k in range(48)]
    assert got.dtype == np.int64 and got.shape == (48,) and got.tolist() == want


def test_clip_source_indices_boundaries():
    # S + k/24 lands exactly on a 50 fps frame boundary every 12 frames: the new frame is on screen
    assert V.clip_source_indices(Fraction(0), 50)[[11, 12, 13]].tolist() == [22, 25, 27]
    assert V.clip_source_indices(Fraction(0), Fraction(30000, 1001), 3).tolist() == [0, 1, 2]
    assert V.clip_source_indices(Fraction(1, 3), 60, 2, out_fps=Fraction(24)).tolist() == [20, 22]
    with pytest.raises(TypeError, match="snap_to_grid"):
        V.clip_source_indices(7 / 24, 50)


def test_plan_runs():
    ix = [np.arange(10, 20), np.arange(0, 5), np.arange(15, 30), np.arange(40, 50), np.arange(31, 35),
          np.arange(60, 61)]
    runs = V.plan_runs(ix, max_gap_frames=0)
    assert [(r.first, r.last, r.clips) for r in runs] == [
        (0, 4, (1,)), (10, 29, (0, 2)), (31, 34, (4,)), (40, 49, (3,)), (60, 60, (5,))]
    runs = V.plan_runs(ix, max_gap_frames=1)  # one unneeded frame (30) between 29 and 31
    assert [(r.first, r.last, r.clips) for r in runs][1] == (10, 34, (0, 2, 4))
    assert len(V.plan_runs(ix, max_gap_frames=100)) == 1
    assert V.plan_runs([], 5) == []
    touching = V.plan_runs([np.arange(0, 5), np.arange(5, 9)], 0)
    assert [(r.first, r.last) for r in touching] == [(0, 8)]


@pytest.mark.parametrize("fps", list(RATES.values()) + [Fraction(12), Fraction(25)])
def test_select_terms_match_rule(fps):
    # the integer membership test behind ffmpeg's select expression, evaluated here in exact
    # arithmetic, passes exactly the union of the clips' source indices
    starts = [Fraction(s, 24) for s in (0, 1, 7, 8, 31, 200)] + [Fraction(1, 100), Fraction(7, 3) + Fraction(1, 7)]
    want = sorted({i for s in starts for i in V.clip_source_indices(s, fps).tolist()})
    merged = child.select_terms([child.clip_term(s, fps, Fraction(24), 48) for s in starts])
    assert len(merged) < len(starts)  # overlapping clips of one family share a term

    def hit(i):
        return any(max(-((a0 - i * bl) // bb), lo) <= min(-((a0 - (i + 1) * bl) // bb) - 1, hi)
                   for bb, bl, a0, lo, hi in merged)

    assert [i for i in range(want[-1] + 5) if hit(i)] == want


def test_resize_geometry():
    assert V.resize_geometry(1920, 1080, 256) == (455, 256, 99, 0)
    assert V.resize_geometry(160, 96, 64) == (107, 64, 21, 0)
    assert V.resize_geometry(96, 160, 64, 48) == (64, 107, 8, 29)
    assert V.resize_geometry(64, 64, 64) == (64, 64, 0, 0)


def test_config():
    cfg = V.VideoConfig()
    g = cfg.geometry
    assert (g.fps, g.frames, g.frame_size, cfg.resize_short_side, cfg.backend, cfg.threads) == (
        24, 48, 256, 256, "ffmpeg", 1)
    assert json.loads(json.dumps(cfg.to_dict())) == cfg.to_dict()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.threads = 3
    for bad in ({"backend": "pyav"}, {"short_side": 200}, {"timeout_s": 0}, {"threads": 0}):
        with pytest.raises(ValueError):
            V.VideoConfig(**bad)
    src = inspect.getsource(V.VideoConfig).splitlines()
    fields = [ln for ln in src if ln.startswith("    ") and ": " in ln and " = " in ln and "def " not in ln]
    assert len(fields) == len(dataclasses.fields(V.VideoConfig))
    assert all("# paper" in ln or "# ours" in ln for ln in fields)


def test_errors_pickle():
    e = pickle.loads(pickle.dumps(V.ClipError("a.mp4", "why", 3, Fraction(7, 24))))
    assert (e.path, e.reason, e.clip, e.start_s) == ("a.mp4", "why", 3, Fraction(7, 24))
    assert isinstance(e, V.VideoError) and "clip 3" in str(e)
    e = pickle.loads(pickle.dumps(V.VideoError("b.mp4", "gone")))
    assert str(e) == "b.mp4: gone"


# -- probing -------------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", list(RATES))
def test_probe_exact(videos, rate):
    info = V.probe_video(videos[rate])
    assert type(info.fps) is Fraction and info.fps == RATES[rate]
    assert (info.n_frames, info.width, info.height, info.codec) == (N_SRC, W, H, "h264")
    assert (info.pix_fmt, info.full_range, info.has_audio, info.truncated) == ("yuv420p", False, False, False)
    assert info.duration_s == pytest.approx(float(N_SRC / RATES[rate]))
    assert json.loads(json.dumps(info.to_dict()))["fps"] == str(RATES[rate])


def test_probe_full_range_audio_data(videos):
    info = V.probe_video(videos["full"])
    assert info.fps == Fraction(60000, 1001) and info.n_frames == 200
    assert info.full_range and info.pix_fmt == "yuvj420p" and info.has_audio and not info.truncated


def test_probe_errors(videos, tmp_path):
    with pytest.raises(V.VideoError, match="no such file"):
        V.probe_video(tmp_path / "missing.mp4")
    for name in ("garbage", "nomoov"):  # not a video; truncated without its index (moov at the end)
        with pytest.raises(V.VideoError, match="cannot read"):
            V.probe_video(videos[name])
    audio = tmp_path / "audio.m4a"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", "sine=duration=0.5",
                    "-c:a", "aac", str(audio)], check=True)
    with pytest.raises(V.VideoError, match="no video stream"):
        V.probe_video(audio)


def test_probe_reports_rotation_metadata(videos, tmp_path, rotate_video):
    """The display rotation (counter-clockwise degrees in (-180, 180]) of a display matrix; 0 without one."""
    assert V.probe_video(videos["50"]).rotation_deg == 0.0
    for degrees in (180, 90, -90):
        info = V.probe_video(rotate_video(videos["50"], tmp_path / f"rot{degrees}.mp4", degrees))
        assert info.rotation_deg == degrees and (info.width, info.height, info.n_frames) == (W, H, N_SRC)
    # older ffmpeg's dumps: a rotate tag (clockwise) and lower-case side data; the display matrix wins
    assert V._rotation(["    Metadata:", "      rotate          : 90", "    Side data:",
                        "      displaymatrix: rotation of -90.00 degrees"]) == -90.0
    assert V._rotation(["      rotate          : 270"]) == 90.0 and V._rotation(["      rotate          : 0"]) == 0.0
    assert V._rotation(["      Display Matrix: rotation of -180.00 degrees"]) == 180.0


# -- decoding ------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", V.BACKENDS)
@pytest.mark.parametrize("rate", list(RATES))
def test_decode_indices(decoded, rate, backend):
    out = decoded(rate, backend)
    assert [pos for pos, _ in out] == list(range(len(STARTS)))
    for pos, frames in out:
        assert frames.shape == (48, 64, 64, 3) and frames.dtype == np.uint8
        want = V.clip_source_indices(STARTS[pos], RATES[rate]).tolist()
        assert [read_index(f) for f in frames] == want, f"clip at {STARTS[pos]} s"


@pytest.mark.parametrize("rate", list(RATES))
def test_backends_agree(decoded, rate):
    for (_, a), (_, b) in zip(decoded(rate, "ffmpeg"), decoded(rate, "decord")):
        diff = np.abs(a.astype(np.int16) - b)
        assert diff.mean() < 2 and np.percentile(diff, 99) <= 8


@pytest.mark.parametrize("backend", V.BACKENDS)
def test_merged_equals_per_clip(decoded, videos, backend):
    merged = decoded("59.94", backend)
    per_clip = list(V.decode_clips_per_clip(videos["59.94"], STARTS, dataclasses.replace(CFG, backend=backend)))
    assert [p for p, _ in merged] == [p for p, _ in per_clip]
    for (_, a), (_, b) in zip(merged, per_clip):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("backend", V.BACKENDS)
def test_full_range_with_audio(videos, backend):
    cfg = dataclasses.replace(CFG, backend=backend)
    starts = [Fraction(5, 24), Fraction(20, 24)]
    for pos, frames in V.decode_clips(videos["full"], starts, cfg):
        assert [read_index(f) for f in frames] == V.clip_source_indices(starts[pos], RATES["59.94"]).tolist()
        for f in frames:
            white = f[f.mean(axis=2) > 128]
            black = f[f.mean(axis=2) <= 128]
            assert np.median(white) >= 250 and np.median(black) <= 5  # full range kept, not squeezed


@pytest.mark.parametrize("backend", V.BACKENDS)
def test_colours(videos, backend):
    cfg = short(2, backend=backend)
    (_, frames), = V.decode_clips(videos["colour"], [Fraction(3, 24)], cfg)
    for q, colour in enumerate(COLOURS):
        r, k = divmod(q, 2)
        patch = frames[:, r * 32 + 8:r * 32 + 24, k * 32 + 8:k * 32 + 24].reshape(-1, 3).mean(axis=0)
        assert np.abs(patch - colour).max() < 8, (colour, patch)  # bt709 matrix honoured


@pytest.mark.parametrize("name, fps, start, decord_ok", [
    ("ts.ts", RATES["59.94"], None, False),
    ("offset.mkv", RATES["50"], Fraction(7, 2), True),
    ("bframes.avi", RATES["29.97"], Fraction(1001, 30000), False),
])
def test_other_containers(videos, name, fps, start, decord_ok):
    info = V.probe_video(videos[name])
    assert (info.fps, info.n_frames, info.decord_safe) == (fps, N_SRC, decord_ok)
    assert info.start_s == start if start is not None else info.start_s > 1
    last = max(s for s in range(500) if V.clip_source_indices(Fraction(s, 24), fps)[-1] < N_SRC)
    starts = [Fraction(7, 24), Fraction(last - 40, 24), Fraction(last, 24)]  # the last clip ends on the last frame
    for backend in V.BACKENDS:
        cfg = dataclasses.replace(CFG, backend=backend)
        for pos, frames in V.decode_clips(videos[name], starts, cfg, info, on_error="yield"):
            if backend == "decord" and not decord_ok:  # decord would silently return wrong frames
                assert isinstance(frames, V.ClipError) and "backend='ffmpeg'" in frames.reason
            else:
                assert [read_index(f) for f in frames] == V.clip_source_indices(starts[pos], fps).tolist()


def test_crop_and_order(videos, decoded):
    starts = [Fraction(16, 24), Fraction(7, 24), Fraction(7, 24), Fraction(0)]
    cfg = dataclasses.replace(CFG, geometry=ClipGeometry(frame_size=48), short_side=64)
    out = list(V.decode_clips(videos["59.94"], starts, cfg))
    assert [p for p, _ in out] == [3, 1, 2, 0]  # by start, ties by position
    ref = dict(decoded("59.94", "ffmpeg"))
    for pos, frames in out:  # the 48² crop is the centre of the 64² one
        assert frames.shape == (48, 48, 48, 3)
        np.testing.assert_array_equal(frames, ref[STARTS.index(starts[pos])][:, 8:56, 8:56])


def test_select_expression_split(videos):
    # 60 two-frame clips with one unused output frame between them, all in one merged run: the
    # select expression would need 60 terms, so the run is split across ffmpeg processes.
    starts = [Fraction(3 * j, 24) for j in range(60)]
    fps = RATES["29.97"]
    terms = [child.clip_term(s, fps, Fraction(24), 2) for s in starts]
    assert len(child.select_terms(terms)) == 60 > child.MAX_SELECT_TERMS
    cfg = short(2, merge_gap_s=100.0)
    out = list(V.decode_clips(videos["29.97"], starts, cfg))
    assert [p for p, _ in out] == list(range(60))
    for pos, frames in out:
        assert [read_index(f) for f in frames] == V.clip_source_indices(starts[pos], fps, 2).tolist()


@pytest.mark.parametrize("backend", V.BACKENDS)
def test_off_grid_starts(videos, backend):
    # starts off the 1/24 grid (the rule is exact for any rational start): two arithmetic families
    # of indices in one merged run, i.e. a select expression with several terms
    starts = [Fraction(1, 100), Fraction(7, 24) + Fraction(1, 7), Fraction(1, 3)]
    cfg = dataclasses.replace(CFG, backend=backend)
    for pos, frames in V.decode_clips(videos["59.94"], starts, cfg):
        assert [read_index(f) for f in frames] == V.clip_source_indices(starts[pos], RATES["59.94"]).tolist()


@pytest.mark.parametrize("backend", V.BACKENDS)
def test_out_of_range_clips(videos, backend):
    info = V.probe_video(videos["50"])
    cfg = short(4, backend=backend, merge_gap_s=0)
    s = max(s for s in range(400) if V.clip_source_indices(Fraction(s, 24), 50, 4)[-1] < N_SRC)
    starts = [Fraction(-1, 24), Fraction(s, 24), Fraction(1), Fraction(s + 1, 24)]
    out = list(V.decode_clips(videos["50"], starts, cfg, info, on_error="yield"))
    assert [p for p, _ in out] == [0, 2, 1, 3]
    assert isinstance(out[0][1], V.ClipError) and "before the first frame" in out[0][1].reason
    assert [read_index(f) for f in out[2][1]] == V.clip_source_indices(starts[1], 50, 4).tolist()
    assert isinstance(out[3][1], V.ClipError) and out[3][1].clip == 3 and "decodable" in out[3][1].reason
    with pytest.raises(V.ClipError, match="clip 0"):
        list(V.decode_clips(videos["50"], starts, cfg, info))


def test_truncated_ffmpeg(videos):
    info = V.probe_video(videos["truncated"])
    assert info.truncated and 30 < info.n_frames < N_SRC and info.fps == 50
    starts = [Fraction(s, 24) for s in range(0, 110, 12)]
    out = list(V.decode_clips(videos["truncated"], starts, CFG, info, on_error="yield"))
    assert [p for p, _ in out] == list(range(len(starts)))
    for pos, item in out:
        ix = V.clip_source_indices(starts[pos], 50)
        if ix[-1] < info.n_frames:
            assert [read_index(f) for f in item] == ix.tolist()
        else:
            assert isinstance(item, V.ClipError) and "truncated" in item.reason
    assert any(isinstance(i, np.ndarray) for _, i in out) and isinstance(out[-1][1], V.ClipError)
    got = []
    with pytest.raises(V.ClipError):
        for pos, _ in V.decode_clips(videos["truncated"], starts, CFG, info):
            got.append(pos)
    assert got and got == [p for p, i in out if isinstance(i, np.ndarray)]


@pytest.mark.parametrize("backend", V.BACKENDS)
def test_decoder_stops_mid_run(videos, backend):
    # pretend the truncated file is whole: the decoder runs dry inside a run; the clips completed
    # before that are yielded intact, the others become ClipErrors naming the shortfall
    info = dataclasses.replace(V.probe_video(videos["truncated"]), n_frames=N_SRC, truncated=False)
    starts = [Fraction(s, 24) for s in range(0, 100, 6)]
    cfg = dataclasses.replace(CFG, backend=backend)
    out = list(V.decode_clips(videos["truncated"], starts, cfg, info, on_error="yield"))
    assert [p for p, _ in out] == list(range(len(starts)))
    ok = [p for p, i in out if isinstance(i, np.ndarray)]
    assert ok == list(range(len(ok))) and len(ok) < len(starts)
    for pos in ok:
        assert [read_index(f) for f in out[pos][1]] == V.clip_source_indices(starts[pos], 50).tolist()
    if backend == "ffmpeg":
        assert ok and "decoder stopped after" in out[-1][1].reason
    _no_children()


def test_truncated_decord(videos):
    # decord indexes the whole file on open and fails on the partial packet: every clip is recorded
    # as failed (the ffmpeg backend decodes the intact part), nothing crashes, no child is left.
    cfg = dataclasses.replace(CFG, backend="decord")
    starts = [Fraction(s, 24) for s in (0, 12, 24)]
    out = list(V.decode_clips(videos["truncated"], starts, cfg, on_error="yield"))
    assert [p for p, _ in out] == [0, 1, 2]
    for _, item in out:
        assert isinstance(item, np.ndarray) or "decord" in str(item)
    _no_children()


@pytest.mark.parametrize("backend", V.BACKENDS)
def test_crash_becomes_error(videos, backend):
    info = dataclasses.replace(V.probe_video(videos["50"]), path=videos["garbage"])
    cfg = dataclasses.replace(CFG, backend=backend)
    out = list(V.decode_clips(videos["garbage"], [Fraction(0), Fraction(96, 24)], cfg, info, on_error="yield"))
    assert [p for p, _ in out] == [0, 1] and all(isinstance(e, V.ClipError) for _, e in out)
    assert "decode failed" in out[0][1].reason and "exit status" in out[0][1].reason
    _no_children()


@pytest.mark.parametrize("backend", V.BACKENDS)
def test_timeout_kills_hung_decoder(videos, tmp_path, backend):
    fifo = tmp_path / "never.mp4"
    os.mkfifo(fifo)  # opening it for reading blocks forever: a decoder that never delivers data
    info = dataclasses.replace(V.probe_video(videos["50"]), path=str(fifo))
    cfg = dataclasses.replace(CFG, backend=backend, timeout_s=1.0)
    t = time.monotonic()
    out = list(V.decode_clips(fifo, [Fraction(0), Fraction(96, 24)], cfg, info, on_error="yield"))
    assert time.monotonic() - t < 10
    assert "no output for 1 s" in out[0][1].reason and "not attempted" in out[1][1].reason
    with pytest.raises(V.ClipError, match="hung"):
        next(V.decode_clips(fifo, [Fraction(0)], cfg, info))
    _no_children()


def test_closing_early_kills_child(videos):
    for backend in V.BACKENDS:
        gen = V.decode_clips(videos["50"], STARTS, dataclasses.replace(CFG, backend=backend))
        next(gen)
        assert psutil.Process().children()
        gen.close()
        _no_children()


GOPRO = Path(__file__).resolve().parents[3] / "shared" / "data" / "gopro" / "karma.mp4"


@pytest.mark.parametrize("geometry", [ClipGeometry(), ClipGeometry(fps=16, frame_size=128)], ids=["paper", "16fps"])
def test_real_gopro_file_decodes_at_the_geometry(geometry):
    """The real GoPro HERO5 file (854x480, 30000/1001 fps, full-range, AAC + three data streams) decodes at any
    consistent geometry: frames x frame_size² per clip, the frames the frame rule names, both backends alike."""
    assert GOPRO.is_file(), f"reference file missing: {GOPRO}"
    info = V.probe_video(GOPRO)
    assert info.fps == Fraction(30000, 1001) and (info.width, info.height) == (854, 480)
    starts = [Fraction(0), Fraction(5)]
    out = {}
    for backend in V.BACKENDS:
        cfg = V.VideoConfig(geometry=geometry, backend=backend)
        out[backend] = dict(V.decode_clips(GOPRO, starts, cfg, info))
        for frames in out[backend].values():
            assert frames.shape == (geometry.frames, geometry.frame_size, geometry.frame_size, 3)
    for pos in range(len(starts)):
        idx = V.clip_source_indices(starts[pos], info.fps, geometry.frames, geometry.fps)
        assert idx[-1] < info.n_frames and len(set(idx.tolist())) == geometry.frames
        diff = np.abs(out["ffmpeg"][pos].astype(int) - out["decord"][pos].astype(int))
        assert diff.mean() < 2.0, diff.mean()  # same frames and scaler; rounding differs by a level at most
