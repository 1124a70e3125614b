"""Scenes and the frame renderer of ``egoimu synth dogcentric``: a panorama above the horizon and a textured
ground plane seen from a camera on a dog's back (float32 RGB textures, 0..255).

Four scene kinds (:data:`SCENES`): park, street, indoor, car. :func:`make_scene` draws one (seeded);
:func:`render_frame` renders one frame for a camera pose. Axes and signs follow docs/conventions.md.
This is a different camera model from the EPIC generator's (:mod:`egoimu.pipeline.synth.scene`, a sphere
panorama sampled through per-frame affine maps): here the ground is ray-cast from the camera's height, the
panorama sampled bilinearly.
"""

from __future__ import annotations

import numpy as np

SCENES = ("park", "street", "indoor", "car")


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


def make_scene(kind: str, rng: np.random.Generator, f: float) -> dict:
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
