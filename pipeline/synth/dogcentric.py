"""``egoimu synth dogcentric OUT``: a DogCentric-Activity-style dataset (video only, no IMU).

Layout (see /work/shared/data/README.md): one folder per activity, clips named
``<Activity>_<Dog>_<recording>_<startFrame>_<endFrame>.avi``; a clip holds frames
[startFrame, endFrame) of its recording. ``--layout public`` names the look folders ``Left``/``Right``,
``--layout raw`` names them ``Look_at_Left``/``Look_at_Right``; ``--glitches`` adds the raw release's
``Turn_Right/`` duplicate, ``Thumbs.db``, ``info.txt`` and one ``Shake__Ku_...`` file name.

Each clip is rendered from a camera on a dog's back (low viewpoint) in an outdoor, street, indoor or
car scene, and its camera motion follows the activity: Walk moves forward with a gait bob, Shake
oscillates in roll, LookLeft/LookRight yaw left/right and back, Car vibrates, Drink/Feed/Sniff pitch
down, Pet/Ball (Play) mix. Axes and signs follow docs/conventions.md: yaw left moves content right
(+u), pitch up moves content down (+v), a clockwise roll rotates content counter-clockwise.
``OUT/synth_truth.json`` holds the config, its sha256 and every clip's activity, dog and motion
parameters. Same config and seed -> byte-identical files (on one machine and ffmpeg build).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from egoimu.common import atomic_path
from egoimu.pipeline.ffmpeg_bin import ffmpeg_exe
from egoimu.pipeline.sources.dogcentric import ACTIVITIES, DOGS, HEAD_MOTION_ACTIVITIES

# Activity (= file prefix) -> folder, where the folder is named otherwise (README: DogCentric).
FOLDERS = {"public": {"LookLeft": "Left", "LookRight": "Right", "Ball": "Play"},
           "raw": {"LookLeft": "Look_at_Left", "LookRight": "Look_at_Right", "Ball": "Play"}}
SCENES = ("park", "street", "indoor", "car")


@dataclass(frozen=True)
class SynthDogConfig:
    seed: int = 0  # ours
    # ours: K clips per dog for each of the paper's four activities; each of the other six gets K in all
    clips_per_activity: int = 2
    width: int = 320  # ours (even)
    height: int = 240  # ours (even)
    fps: int = 30  # ours
    min_seconds: float = 2.0  # ours: clip length range
    max_seconds: float = 6.0  # ours
    layout: str = "public"  # ours: "public" (Left/Right folders) or "raw" (Look_at_Left/Look_at_Right)
    glitches: bool = False  # ours: the raw release's glitches (Turn_Right/, Thumbs.db, info.txt, Shake__)
    codec: str = "mpeg4"  # ours: "mpeg4" (XVID tag) or "mjpeg", in .avi
    quality: int = 4  # ours: ffmpeg -q:v
    render_scale: int = 2  # ours: frames rendered at 1/render_scale of the size; ffmpeg upscales (bicubic)
    hfov_deg: float = 90.0  # ours: horizontal field of view of the back-mounted camera
    camera_height_m: tuple[float, float] = (0.35, 0.55)  # ours: camera height above the ground, range

    def __post_init__(self) -> None:
        if self.layout not in ("public", "raw"):
            raise ValueError(f"layout must be 'public' or 'raw', not {self.layout!r}")
        if self.codec not in ("mpeg4", "mjpeg"):
            raise ValueError(f"codec must be 'mpeg4' or 'mjpeg', not {self.codec!r}")
        if self.width % 2 or self.height % 2 or min(self.width, self.height) < 16:
            raise ValueError(f"resolution must be even and at least 16x16, not {self.width}x{self.height}")
        if self.render_scale < 1 or self.width % self.render_scale or self.height % self.render_scale:
            raise ValueError(f"render_scale {self.render_scale} must divide {self.width}x{self.height}")
        if self.clips_per_activity < 1 or self.fps < 1 or not 0 < self.min_seconds <= self.max_seconds:
            raise ValueError("need clips_per_activity >= 1, fps >= 1 and 0 < min_seconds <= max_seconds")

    @property
    def focal_px(self) -> float:
        """Focal length in pixels."""
        return self.width / 2 / np.tan(np.radians(self.hfov_deg) / 2)

    def folder(self, activity: str) -> str:
        """The folder of ``activity`` (a file prefix) in this layout."""
        return FOLDERS[self.layout].get(activity, activity)


def config_sha256(cfg: SynthDogConfig) -> str:
    """sha256 of the config's canonical JSON."""
    return hashlib.sha256(json.dumps(dataclasses.asdict(cfg), sort_keys=True).encode()).hexdigest()


# ----------------------------------------------------------------------------- textures (float32 RGB 0..255)
def _noise(rng: np.random.Generator, shape: tuple[int, int], beta: float, aspect: float = 1.0) -> np.ndarray:
    """Periodic 1/f^beta noise, float32 (h, w), zero mean, unit std; ``aspect`` > 1 stretches along rows."""
    fy = np.fft.fftfreq(shape[0])[:, None] * aspect
    fx = np.fft.rfftfreq(shape[1])[None, :]
    amp = (np.hypot(fy, fx) + 1.0 / max(shape)) ** -beta
    spec = amp * (rng.standard_normal(amp.shape) + 1j * rng.standard_normal(amp.shape))
    out = np.fft.irfft2(spec, s=shape)
    return ((out - out.mean()) / (out.std() + 1e-9)).astype(np.float32)


def _mix(a, b, w) -> np.ndarray:
    """Blend colours/images ``a`` and ``b`` with weight ``w`` (h, w) in [0, 1] on ``b``."""
    w = np.clip(w, 0.0, 1.0)[..., None]
    return (np.asarray(a, np.float32) * (1 - w) + np.asarray(b, np.float32) * w).astype(np.float32)


def _boxes(img: np.ndarray, rng: np.random.Generator, n: int, wr, hr, colors, bottom: int) -> np.ndarray:
    """Paint ``n`` boxes (width in ``wr``, height in ``hr`` px) standing on row ``bottom``, in place;
    returns the painted mask (h, w) bool."""
    H, W = img.shape[:2]
    mask = np.zeros((H, W), bool)
    for _ in range(n):
        w, h = (int(rng.integers(max(1, int(lo)), max(2, int(lo) + 1, int(hi)))) for lo, hi in (wr, hr))
        x0, col = int(rng.integers(0, W)), np.asarray(colors[rng.integers(len(colors))], np.float32)
        cols = np.arange(x0, x0 + w) % W
        img[max(0, bottom - h):bottom, cols] = col * rng.uniform(0.85, 1.15)
        mask[max(0, bottom - h):bottom, cols] = True
    return mask


def _scene(kind: str, rng: np.random.Generator, f: float) -> dict:
    """Panorama above the horizon (rows: Hp-1 at the horizon, 1 px per focal-pixel; cols: 2*pi*f wrap)
    and a periodic ground texture (G x G texels of ``texel_m`` metres)."""
    Wp, Hp, G = int(round(2 * np.pi * f)), int(round(1.8 * f)), 512
    rows = np.linspace(1.0, 0.0, Hp, dtype=np.float32)[:, None] * np.ones((1, Wp), np.float32)  # 1 = top
    g1, g2 = _noise(rng, (G, G), 0.8), _noise(rng, (G, G), 2.2)
    h = max(1, int(f * 0.02))
    if kind in ("park", "street"):
        pano = _mix((205, 222, 235), (80, 140, 215), rows**0.6)
        clouds = _noise(rng, (Hp, Wp), 2.4, aspect=3.0)
        pano = _mix(pano, (245, 245, 245), (clouds - 0.6) * rows * 1.5)
    if kind == "park":
        tree = (0.08 + 0.05 * _noise(rng, (8, Wp), 2.5)[0]) * f
        foliage = _mix((35, 70, 30), (90, 125, 50), 0.5 + 0.25 * _noise(rng, (Hp, Wp), 1.2))
        r = np.arange(Hp)[:, None]
        pano = np.where((r > Hp - 1 - tree[None, :])[..., None], foliage, pano)
        _boxes(pano, rng, 12, (2, 5), (h * 2, h * 4), [(110, 80, 50), (230, 230, 225)], Hp)
        ground = _mix((65, 115, 40), (125, 150, 60), 0.5 + 0.2 * g1 + 0.15 * g2)
        ground = _mix(ground, (125, 100, 70), (g2 - 1.2) * 2)
        texel = 0.02
    elif kind == "street":
        palette = [(150, 75, 60), (170, 165, 155), (200, 190, 165), (110, 110, 120), (225, 215, 200)]
        houses = _boxes(pano, rng, 40, (f * 0.2, f * 0.8), (f * 0.3, f * 1.2), palette, Hp)
        step = max(2, h)
        win = ((np.arange(Wp) // step) % 3 == 0)[None, :] & ((np.arange(Hp) // step) % 4 == 0)[:, None]
        pano = np.where((win & houses & (rows > 0.08))[..., None], pano * 0.45, pano)
        y, x = np.mgrid[0:G, 0:G]
        joints = ((y % 25) < 1) | ((x % 25) < 1)  # 0.5 m paving slabs
        ground = _mix((170, 165, 155), (120, 118, 115), 0.4 + 0.15 * g1 + 0.2 * g2 + 0.6 * joints)
        texel = 0.02
    elif kind == "indoor":
        pano = _mix((220, 210, 190), (240, 235, 225), rows + 0.05 * _noise(rng, (Hp, Wp), 2.0))
        pano[: int(Hp * 0.25)] = (235, 235, 230)  # ceiling
        furniture = [(90, 60, 40), (60, 60, 70), (140, 40, 40), (200, 180, 140), (40, 70, 110)]
        _boxes(pano, rng, 10, (f * 0.2, f * 0.6), (f * 0.3, f * 1.0), furniture, Hp)
        _boxes(pano, rng, 8, (f * 0.1, f * 0.3), (f * 0.1, f * 0.2), furniture, int(Hp * 0.5))  # pictures
        pano[-max(2, h):] = (250, 250, 250)  # skirting board
        grain = _noise(rng, (G, G), 1.5, aspect=8.0)
        y, x = np.mgrid[0:G, 0:G]
        n_planks = G // 8  # 0.16 m wide, 1.28 m long, staggered
        tone, offset = rng.uniform(0, 1, n_planks), rng.integers(0, 64, n_planks)
        joint = (x % 8 == 0) | ((y + offset[x // 8]) % 64 == 0)
        ground = _mix((150, 100, 60), (205, 155, 100), 0.2 + 0.5 * tone[x // 8] + 0.15 * grain - 0.5 * joint)
        texel = 0.02
    else:  # car
        pano = _mix((45, 45, 50), (75, 75, 82), 0.5 + 0.2 * _noise(rng, (Hp, Wp), 1.0))
        band = (rows > 0.25) & (rows < 0.55) & (np.sin(np.arange(Wp) / f * 3)[None, :] > -0.3)
        outside = _mix((120, 160, 90), (170, 200, 230), 0.5 + 0.5 * _noise(rng, (Hp, Wp), 2.5, aspect=0.2))
        pano = np.where(band[..., None], outside, pano)
        y, x = np.mgrid[0:G, 0:G]
        weave = 0.5 + 0.25 * np.sin(x * 1.3) * np.sin(y * 1.3) + 0.2 * g1
        ground = _mix((55, 58, 68), (95, 98, 110), weave + 0.3 * ((y % 40) < 2))
        texel = 0.01
    haze = 0.5 * ground.reshape(-1, 3).mean(0) + 0.5 * pano[-1].mean(0)
    return {"pano": np.ascontiguousarray(pano, np.float32),
            "ground": np.ascontiguousarray(ground, np.float32), "texel_m": texel,
            "haze": haze.astype(np.float32), "props": []}


def _sample(tex: np.ndarray, rows: np.ndarray, cols: np.ndarray, wrap_rows: bool) -> np.ndarray:
    """Bilinear lookup of ``tex`` (h, w, 3) at float pixel ``rows``/``cols`` (N,) -> (N, 3) float32;
    columns wrap, rows wrap or clamp."""
    h, w = tex.shape[:2]
    r0, c0 = np.floor(rows), np.floor(cols)
    fr, fc = (rows - r0)[:, None].astype(np.float32), (cols - c0)[:, None].astype(np.float32)
    r0, c0 = r0.astype(np.int64), c0.astype(np.int64)
    c1, c0 = (c0 + 1) % w, c0 % w
    r1, r0 = ((r0 + 1) % h, r0 % h) if wrap_rows else (np.clip(r0 + 1, 0, h - 1), np.clip(r0, 0, h - 1))
    flat = tex.reshape(-1, 3)
    top = flat[r0 * w + c0] * (1 - fc) + flat[r0 * w + c1] * fc
    bottom = flat[r1 * w + c0] * (1 - fc) + flat[r1 * w + c1] * fc
    return top * (1 - fr) + bottom * fr


def render_frame(scene: dict, pose: dict[str, float], u: np.ndarray, v: np.ndarray, f: float) -> np.ndarray:
    """One frame, uint8 (H, W, 3) RGB, from the panorama (above the horizon) and the ground plane.

    ``u``/``v`` (H, W) float32: pixel offsets from the image centre (v down); ``f``: focal length, px;
    ``pose``: yaw/pitch/roll (rad, conventions.md signs), zoom, x/z (m, east/north), h (m).
    The panorama is sampled with a similarity transform (small-angle: yaw/pitch shift by f px/rad,
    roll rotation, zoom), the ground by casting the pixel's ray from height h (pinhole camera).
    """
    c, s, z, pitch = np.cos(pose["roll"]), np.sin(pose["roll"]), pose["zoom"], pose["pitch"]
    Xc = ((u * c - v * s) / z).ravel()  # after roll and zoom, px, to the right
    Vc = ((u * s + v * c) / z).ravel()  # px, down
    down = Vc * np.cos(pitch) - f * np.sin(pitch)  # the ray (Xc, Vc, f) turned by the pitch: down, forward
    fwd = Vc * np.sin(pitch) + f * np.cos(pitch)
    gnd = down > 1e-3 * f
    sky = ~gnd
    out = np.empty((Xc.size, 3), np.float32)
    pano = scene["pano"]
    rows, cols = Vc[sky] - pitch * f + pano.shape[0] - 1, Xc[sky] - pose["yaw"] * f
    out[sky] = _sample(pano, rows, cols, wrap_rows=False)
    t = pose["h"] / down[gnd]
    r = t * fwd[gnd]  # m ahead along the heading
    t *= np.minimum(1.0, 80.0 / (np.abs(r) + 1e-6))  # no further than 80 m
    r, lat = t * fwd[gnd], t * Xc[gnd]  # m ahead, m to the right
    sh, ch = np.sin(-pose["yaw"]), np.cos(-pose["yaw"])  # heading: azimuth clockwise from north
    gx, gz = pose["x"] + r * sh + lat * ch, pose["z"] + r * ch - lat * sh
    tex = _sample(scene["ground"], -gz / scene["texel_m"], gx / scene["texel_m"], wrap_rows=True)
    for px, pz, radius, rim, fill in scene["props"]:
        d2 = (gx - px) ** 2 + (gz - pz) ** 2
        tex[d2 < radius**2] = rim
        tex[d2 < (0.75 * radius) ** 2] = fill
    out[gnd] = tex + (scene["haze"] - tex) * (np.clip(np.abs(r) / 30.0, 0, 1) ** 0.7)[:, None]  # haze
    return np.clip(out * scene["shade"], 0, 255).astype(np.uint8).reshape(*u.shape, 3)


def _signal(head: str, head_strength: str, video: str = "nothing (only the camera motion shows it)",
            video_kind: str = "none", video_strength: str = "none") -> dict[str, str]:
    return {"head": head, "head_strength": head_strength, "video": video, "video_kind": video_kind,
            "video_strength": video_strength}


#: What each activity's clips carry (``synth_truth.json`` ``activity_signals``, copied into a build's manifest
#: as ``source.signals`` so that reports can say what the generator builds in). Keys as the EPIC generator's.
ACTIVITY_SIGNALS: dict[str, dict[str, str]] = {
    "Walk": _signal("forward walk 0.6-1.4 m/s, gait bob 1.8-3 Hz, sway", "strong",
                    "scene flows past (forward translation)", "camera motion", "moderate"),
    "Shake": _signal("roll oscillation 25-45 deg at 4-6 Hz for 1.2-2.5 s", "strong"),
    "LookLeft": _signal("yaw 35-75 deg to the left, hold, back", "strong"),
    "LookRight": _signal("yaw 35-75 deg to the right, hold, back", "strong"),
    "Car": _signal("8-15 Hz vibration and bumps", "moderate", "car interior scene", "scene", "strong"),
    "Drink": _signal("pitch down 40-60 deg, bob 3-4.5 Hz", "moderate", "blue bowl on the ground", "prop", "moderate"),
    "Feed": _signal("pitch down 40-60 deg, bob 1.2-2.2 Hz", "moderate", "brown bowl on the ground", "prop",
                    "moderate"),
    "Sniff": _signal("pitch down 25-45 deg, slow walk, sweeping yaw", "moderate"),
    "Pet": _signal("sway and pats 1-2 Hz", "weak"),
    "Ball": _signal("running, sweeping yaw, pitch and roll", "moderate", "red-yellow ball on the ground", "prop",
                    "moderate"),
}


# ----------------------------------------------------------------------------- camera motion per activity
def _ss(x: np.ndarray) -> np.ndarray:
    """Smoothstep clipped to [0, 1]."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def motion(activity: str, n: int, fps: int, rng: np.random.Generator, height: float
           ) -> tuple[dict[str, np.ndarray], dict, list[tuple]]:
    """Camera pose per frame for one clip of ``activity`` (a file prefix), its parameters and props.

    Returns ``(pose, params, props)``: pose maps yaw/pitch/roll (rad), zoom (1), x/z (m, east/north)
    and h (m) to float64 arrays (n,); params (JSON-able) holds the drawn amplitudes (deg), frequencies
    (Hz), speeds (m/s) and event times (s from the first frame); props are discs on the ground
    (x m, z m, radius m, rim RGB, fill RGB): a bowl (Drink, Feed) or a ball (Ball).
    """
    t = np.arange(n) / fps
    dur = n / fps
    rad = np.radians

    def wob(lo: float, hi: float, amp: float, k: int = 3) -> np.ndarray:
        fr, ph = rng.uniform(lo, hi, k), rng.uniform(0, 2 * np.pi, k)
        return amp * np.sin(2 * np.pi * fr[:, None] * t[None, :] + ph[:, None]).sum(0) / np.sqrt(k / 2)

    yaw0, pitch0 = rng.uniform(-np.pi, np.pi), rad(rng.uniform(-12, -4))
    yaw, pitch, roll = yaw0 + wob(0.05, 0.2, rad(2)), pitch0 + wob(0.1, 0.4, rad(1)), wob(0.1, 0.4, rad(1))
    zoom, speed, h = np.ones(n), np.zeros(n), np.full(n, height)
    p: dict = {"yaw0_deg": np.degrees(yaw0), "pitch0_deg": np.degrees(pitch0), "height_m": height}
    props: list = []
    if activity == "Walk":
        p.update(speed_mps=rng.uniform(0.6, 1.4), gait_hz=rng.uniform(1.8, 3.0),
                 bob_m=rng.uniform(0.008, 0.02))
        ph = 2 * np.pi * p["gait_hz"] * t
        speed[:] = p["speed_mps"]
        h += p["bob_m"] * np.sin(ph)
        pitch += rad(1.5) * np.sin(ph + np.pi / 2)
        roll += rad(2.5) * np.sin(ph / 2)
        yaw += wob(0.1, 0.3, rad(4))
    elif activity == "Shake":
        t0 = rng.uniform(0.1, 0.4)
        p.update(roll_amp_deg=rng.uniform(25, 45), shake_hz=rng.uniform(4.0, 6.0), t_start=t0,
                 t_end=min(dur - 0.1, t0 + rng.uniform(1.2, 2.5)))
        env = _ss((t - t0) / 0.15) * _ss((p["t_end"] - t) / 0.15)
        ph = 2 * np.pi * p["shake_hz"] * (t - t0)
        a = rad(p["roll_amp_deg"]) * env
        roll += a * np.sin(ph)
        yaw += 0.3 * a * np.sin(ph + 1.0)
        pitch += 0.15 * a * np.sin(2 * ph)
    elif activity in ("LookLeft", "LookRight"):
        sign = 1.0 if activity == "LookLeft" else -1.0  # yaw > 0 is to the left
        t0, turn, hold, back = rng.uniform(0.1, 0.4), rng.uniform(0.35, 0.7), rng.uniform(0.3, 1.0), \
            rng.uniform(0.5, 0.9)
        k = min(1.0, (dur - 0.1 - t0) / (turn + hold + back))
        turn, hold, back = turn * k, hold * k, back * k
        p.update(yaw_amp_deg=sign * rng.uniform(35, 75), t_turn_start=t0, t_turn_end=t0 + turn,
                 t_back_start=t0 + turn + hold, t_back_end=t0 + turn + hold + back)
        yaw += rad(p["yaw_amp_deg"]) * (_ss((t - t0) / turn) - _ss((t - p["t_back_start"]) / back))
        pitch += rad(rng.uniform(-5, 5)) * _ss((t - t0) / turn) * (1 - _ss((t - p["t_back_start"]) / back))
    elif activity == "Car":
        p.update(vibration_deg=rng.uniform(0.3, 0.7), vibration_hz=(8.0, 15.0),
                 bump_deg=rng.uniform(0.8, 1.6))
        for a in (yaw, pitch, roll):
            a += wob(8.0, 15.0, rad(p["vibration_deg"])) + wob(1.0, 2.5, rad(p["bump_deg"]))
        yaw += wob(0.05, 0.15, rad(6))
    elif activity in ("Drink", "Feed", "Sniff"):
        t0 = rng.uniform(0.1, 0.5)
        lo, hi = (25, 45) if activity == "Sniff" else (40, 60)
        p.update(pitch_down_deg=rng.uniform(lo, hi), t_down_start=t0, t_down_end=t0 + rng.uniform(0.4, 0.7))
        down = _ss((t - t0) / (p["t_down_end"] - t0))
        pitch -= rad(p["pitch_down_deg"]) * down
        hz, amp = {"Drink": (rng.uniform(3.0, 4.5), 2.0), "Feed": (rng.uniform(1.2, 2.2), 4.0),
                   "Sniff": (rng.uniform(5.0, 7.0), 0.6)}[activity]
        p.update(bob_hz=hz, bob_deg=amp)
        pitch += rad(amp) * np.sin(2 * np.pi * hz * t) * down
        if activity == "Sniff":
            p.update(speed_mps=rng.uniform(0.1, 0.35), sweep_deg=rng.uniform(8, 20))
            speed[:] = p["speed_mps"] * down
            yaw += wob(0.3, 0.8, rad(p["sweep_deg"]))
        else:
            yaw += wob(0.3, 0.6, rad(1.0 if activity == "Drink" else 4.0))
            d = height / np.tan(rad(p["pitch_down_deg"]) - pitch0)  # bowl where the camera ends up looking
            fill = (60, 95, 150) if activity == "Drink" else (110, 70, 40)
            props.append((d * np.sin(-yaw0), d * np.cos(-yaw0), 0.11, (160, 160, 170), fill))
    elif activity == "Pet":
        p.update(pat_hz=rng.uniform(1.0, 2.0), sway_deg=rng.uniform(4, 8))
        pitch += wob(0.3, 0.8, rad(p["sway_deg"])) - rad(2) * (1 + np.sin(2 * np.pi * p["pat_hz"] * t))
        roll += wob(0.3, 0.8, rad(p["sway_deg"]))
        yaw += wob(0.2, 0.6, rad(8))
    elif activity == "Ball":
        p.update(sweep_deg=rng.uniform(15, 30), max_speed_mps=rng.uniform(1.0, 2.5))
        speed[:] = np.clip(0.5 + wob(0.3, 1.0, 1.0), 0, p["max_speed_mps"])
        yaw += wob(0.4, 1.5, rad(p["sweep_deg"]))
        pitch += wob(0.5, 1.5, rad(7))
        roll += wob(0.5, 2.0, rad(6))
        zoom += 0.04 * wob(0.5, 1.5, 1.0)
        d = rng.uniform(0.8, 2.0)
        props.append((d * np.sin(-yaw0), d * np.cos(-yaw0), 0.05, (230, 200, 30), (220, 40, 30)))
    else:
        raise ValueError(f"unknown activity {activity!r}")
    heading = -yaw  # the optical axis' azimuth, clockwise from north
    x, z = np.cumsum(speed * np.sin(heading)) / fps, np.cumsum(speed * np.cos(heading)) / fps
    p["props_xz_radius_m"] = [list(pr[:3]) for pr in props]
    return {"yaw": yaw, "pitch": pitch, "roll": roll, "zoom": zoom, "x": x, "z": z, "h": h}, p, props


# ----------------------------------------------------------------------------- clips, encoding, dataset
def plan_clips(cfg: SynthDogConfig) -> list[dict]:
    """The clips to write, in order: activity, dog, recording, start/end frame (end exclusive), name."""
    rng = np.random.default_rng([cfg.seed, 0])
    cursor: dict[tuple[str, int], int] = {}
    clips = []
    for ai, act in enumerate(ACTIVITIES):
        K = cfg.clips_per_activity
        if act in HEAD_MOTION_ACTIVITIES:
            dogs = [d for d in DOGS for _ in range(K)]
        else:  # dogs in turn
            dogs = [DOGS[(ai + k) % len(DOGS)] for k in range(K)]
        for dog in dogs:
            n = int(round(rng.uniform(cfg.min_seconds, cfg.max_seconds) * cfg.fps))
            if cfg.min_seconds * cfg.fps <= round(n, -1) <= cfg.max_seconds * cfg.fps:
                n = int(round(n, -1))  # multiples of 10 frames, as in the real file names
            rec = int(rng.integers(1, 13))
            start = cursor.setdefault((dog, rec), int(rng.integers(0, 100)) * 10)
            start += int(rng.integers(1, 60)) * 10  # a gap after the previous clip of the recording
            cursor[(dog, rec)] = start + n
            sep = "__" if cfg.glitches and act == "Shake" and dog == "Ku" and not any(
                c["name"].startswith("Shake__") for c in clips) else "_"
            name = f"{act}{sep}{dog}_{rec}_{start}_{start + n}.avi"
            clips.append({"activity": act, "folder": cfg.folder(act), "dog": dog, "recording": rec,
                          "start_frame": start, "end_frame": start + n, "n_frames": n, "name": name,
                          "paper_subset": act in HEAD_MOTION_ACTIVITIES})
    return clips


def encode_avi(frames: Iterator[np.ndarray], path: Path, cfg: SynthDogConfig) -> None:
    """Encode uint8 (H/render_scale, W/render_scale, 3) RGB frames into ``path`` (.avi, H x W),
    bit-exact and single-threaded."""
    codec = ["-c:v", "mpeg4", "-vtag", "XVID", "-g", str(cfg.fps), "-bf", "0", "-pix_fmt", "yuv420p"] \
        if cfg.codec == "mpeg4" else ["-c:v", "mjpeg", "-pix_fmt", "yuvj420p"]
    w, h = cfg.width // cfg.render_scale, cfg.height // cfg.render_scale
    sws = "bicubic+accurate_rnd+bitexact"
    with atomic_path(path) as tmp:
        cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-threads", "1",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(cfg.fps), "-i", "pipe:0",
               "-an", "-vf", f"scale={cfg.width}:{cfg.height}:flags={sws}", "-sws_flags", sws,
               "-filter_threads", "1",
               *codec, "-q:v", str(cfg.quality), "-threads", "1",
               "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1", "-f", "avi", str(tmp)]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            with contextlib.suppress(BrokenPipeError):  # ffmpeg died: its stderr says why
                for frame in frames:
                    proc.stdin.write(frame.tobytes())
                proc.stdin.close()
            err = proc.stderr.read().decode(errors="replace")
            if proc.wait():
                raise RuntimeError(f"ffmpeg failed ({proc.returncode}) writing {path}: {err.strip()}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _render_clip(clip: dict, cfg: SynthDogConfig, index: int) -> tuple[Iterator[np.ndarray], dict]:
    """The clip's frames (lazy; uint8 (H/render_scale, W/render_scale, 3)) and its motion parameters."""
    rng = np.random.default_rng([cfg.seed, 1, index])
    kind = "car" if clip["activity"] == "Car" else str(rng.choice(SCENES[:3]))
    f = cfg.focal_px / cfg.render_scale
    W, H = cfg.width // cfg.render_scale, cfg.height // cfg.render_scale
    scene = _scene(kind, rng, f)
    height = float(rng.uniform(*cfg.camera_height_m)) * (0.6 if kind == "car" else 1.0)
    pose, params, scene["props"] = motion(clip["activity"], clip["n_frames"], cfg.fps, rng, height)
    v, u = np.mgrid[0:H, 0:W].astype(np.float32)
    u, v = u - (W - 1) / 2, v - (H - 1) / 2
    gain, tint = rng.uniform(0.85, 1.15), rng.uniform(0.93, 1.07, 3)
    vignette = 1 - 0.35 * (np.hypot(u, v) / np.hypot(W, H) * 2) ** 2
    scene["shade"] = (vignette.reshape(-1, 1) * gain * tint).astype(np.float32)
    frames = (render_frame(scene, {k: float(a[i]) for k, a in pose.items()}, u, v, f)
              for i in range(clip["n_frames"]))
    return frames, {"scene": kind, **params}


def _round(obj):
    """Floats rounded to 6 digits, numpy scalars to python, recursively (stable JSON)."""
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_round(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return round(float(obj), 6)
    return obj.item() if isinstance(obj, np.generic) else obj


THUMBS_DB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)  # an OLE header, as Windows writes


def _write_clip(job: tuple[Path, SynthDogConfig, int, dict]) -> dict:
    """Render and encode one clip; returns its truth record (worker entry point)."""
    out, cfg, index, clip = job
    (out / clip["folder"]).mkdir(exist_ok=True)
    frames, params = _render_clip(clip, cfg, index)
    encode_avi(frames, out / clip["folder"] / clip["name"], cfg)
    return {"path": f"{clip['folder']}/{clip['name']}", **clip, "motion": params}


def generate_dogcentric(out: Path, cfg: SynthDogConfig, workers: int = 1, progress: bool = False) -> dict:
    """Write the dataset into ``out`` (created; existing files of the same names are replaced).

    ``workers`` > 1 renders clips in that many processes; the bytes written do not depend on it.
    Returns a summary: out, clips, files, frames, bytes (of the clips), seconds (wall), config_sha256.
    """
    t_start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(out, cfg, i, clip) for i, clip in enumerate(plan_clips(cfg))]
    records = []
    with contextlib.ExitStack() as stack:
        if workers > 1:
            ctx = multiprocessing.get_context("spawn")  # no fork: callers may hold threads
            pool = stack.enter_context(ProcessPoolExecutor(max_workers=workers, mp_context=ctx))
            results = pool.map(_write_clip, jobs)
        else:
            results = map(_write_clip, jobs)
        for rec in results:
            records.append(rec)
            if progress:
                print(f"[synth dogcentric] {len(records)}/{len(jobs)} {rec['path']}", file=sys.stderr)
    n_bytes = sum((out / r["path"]).stat().st_size for r in records)
    glitches: list[str] = []
    if cfg.glitches:
        right = cfg.folder("LookRight")
        shutil.rmtree(out / "Turn_Right", ignore_errors=True)
        (out / "Turn_Right").mkdir()
        for rec in records:
            if rec["activity"] == "LookRight":
                shutil.copyfile(out / rec["path"], out / "Turn_Right" / rec["name"])
                glitches.append(f"Turn_Right/{rec['name']}")
        for rel in (f"{right}/Thumbs.db", "Walk/Thumbs.db"):
            (out / rel).write_bytes(THUMBS_DB)
            glitches.append(rel)
        (out / "info.txt").write_text("DogCentric Activity Dataset (synthetic copy written by egoimu).\n"
                                      "Four dogs: Hime, Ku, Ringo, Ryu. Ten activities.\n")
        glitches.append("info.txt")
    truth = {"dataset": "dogcentric-synthetic", "generator": "egoimu synth dogcentric",
             "activity_signals": {a: ACTIVITY_SIGNALS[a] for a in ACTIVITIES}, "config": dataclasses.asdict(cfg),
             "config_sha256": config_sha256(cfg), "seed": cfg.seed, "focal_px": cfg.focal_px,
             "dogs": list(DOGS), "folders": {a: cfg.folder(a) for a in ACTIVITIES},
             "clips": records, "glitch_files": glitches}
    (out / "synth_truth.json").write_text(json.dumps(_round(truth), indent=1) + "\n")
    return {"out": str(out), "clips": len(records), "files": len(records) + len(glitches) + 1,
            "frames": sum(c["n_frames"] for c in records), "bytes": n_bytes,
            "seconds": round(time.perf_counter() - t_start, 2), "config_sha256": truth["config_sha256"]}


def main(argv: list[str] | None = None) -> int:
    """``egoimu synth dogcentric OUT [options]``; returns the exit status."""
    ap = argparse.ArgumentParser(prog="egoimu synth dogcentric", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d = SynthDogConfig()
    ap.add_argument("out", type=Path, help="output folder (the dataset root)")
    ap.add_argument("--clips-per-activity", type=int, default=d.clips_per_activity,
                    help="clips per dog for Walk, Shake, LookLeft, LookRight; each other activity gets "
                         "this many in all")
    ap.add_argument("--seed", type=int, default=d.seed, help="random seed; same seed, same bytes")
    ap.add_argument("--resolution", default=f"{d.width}x{d.height}", help="WxH, even")
    ap.add_argument("--fps", type=int, default=d.fps, help="frames per second")
    ap.add_argument("--seconds", type=float, nargs=2, default=(d.min_seconds, d.max_seconds),
                    metavar=("MIN", "MAX"), help="clip length range")
    ap.add_argument("--glitches", action="store_true", help="add the raw release's glitches")
    ap.add_argument("--layout", choices=("public", "raw"), default=d.layout,
                    help="look folders named Left/Right (public) or Look_at_Left/Look_at_Right (raw)")
    ap.add_argument("--codec", choices=("mpeg4", "mjpeg"), default=d.codec, help="video codec in the .avi")
    ap.add_argument("--render-scale", type=int, default=d.render_scale,
                    help="render at 1/N of the resolution, ffmpeg upscales (1: full detail, slower)")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="rendering processes")
    ap.add_argument("--quiet", action="store_true", help="no per-clip progress on stderr")
    args = ap.parse_args(argv)
    try:
        w, h = (int(x) for x in args.resolution.lower().split("x"))
        cfg = SynthDogConfig(seed=args.seed, clips_per_activity=args.clips_per_activity, width=w, height=h,
                             fps=args.fps, min_seconds=args.seconds[0], max_seconds=args.seconds[1],
                             layout=args.layout, glitches=args.glitches, codec=args.codec,
                             render_scale=args.render_scale)
    except ValueError as exc:
        ap.error(str(exc))
    summary = generate_dogcentric(args.out, cfg, workers=args.workers, progress=not args.quiet)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
