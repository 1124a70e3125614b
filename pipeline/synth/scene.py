"""Procedural kitchen scene and a fast camera renderer for ``egoimu synth`` (reusable).

Scene: a panorama painted on a sphere of radius ``SPHERE_RADIUS_M`` around the participant's home
spot, stored equirectangular: column x = −azimuth · p (mod W, azimuth about world z from +x, left
positive), row y = (``ELEV_TOP`` − elevation) · p, with p = pixels per radian. Bands from top to bottom:
wall cupboards, tiled wall with a window, counter with objects, sink and hob, lower cupboards, floor.
Fine noise gives texture detail for phase correlation; everything is seeded.

Renderer: a pinhole camera with focal length f = (W/2) / tan(hfov/2) pixels (pixels per radian at
the image centre). For each frame the exact sphere intersection of a 3×3 grid of pixel rays is
fitted with an affine map image -> panorama (least squares); every pixel is then sampled through that
map (nearest neighbour; the panorama is pre-smoothed, at p = f pixels per radian). So yaw and pitch shift the
view by about f pixels per radian, roll rotates it about the centre, and forward motion scales it.

Public API: :func:`make_panorama`, :func:`focal_px`, :func:`view_affines`, :class:`Renderer`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.spatial.transform import Rotation

SPHERE_RADIUS_M = 2.5
ELEV_TOP = 1.0  # rad, elevation of panorama row 0
ELEV_BOTTOM = -1.5  # rad, elevation of the last row


def focal_px(width: int, hfov_deg: float) -> float:
    """Focal length in pixels (= pixels per radian at the image centre) for a horizontal FOV."""
    return (width / 2) / np.tan(np.radians(hfov_deg) / 2)


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    i, f = int(h * 6) % 6, h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return 255 * np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i])


def noun_color(noun_class: int) -> np.ndarray:
    """A fixed, saturated RGB colour (3,) float64 in 0..255 for a noun class."""
    return _hsv((noun_class * 0.61803398875) % 1.0, 0.75, 0.9)


@dataclass(frozen=True)
class Panorama:
    """Packed RGB panorama: ``packed`` (H, W) uint32 (R | G<<8 | B<<16), ``px_per_rad`` p."""

    packed: np.ndarray
    px_per_rad: float

    @property
    def shape(self) -> tuple[int, int]:
        return self.packed.shape

    def rgb(self) -> np.ndarray:
        """(H, W, 3) uint8 copy."""
        return self.packed.view(np.uint8).reshape(*self.packed.shape, 4)[..., :3].copy()


def make_panorama(rng: np.random.Generator, px_per_rad: float) -> Panorama:
    """Draw one kitchen panorama (palette, layout, texture) at ``px_per_rad`` pixels per radian.

    Width = round(2π p) (wraps around seamlessly), height = (ELEV_TOP − ELEV_BOTTOM) p.
    """
    p = float(px_per_rad)
    w = int(round(2 * np.pi * p))
    h = int(round((ELEV_TOP - ELEV_BOTTOM) * p))
    p = w / (2 * np.pi)

    def row(elev: float) -> int:
        return int(np.clip(round((ELEV_TOP - elev) * p), 0, h))

    hue = float(rng.random())
    col = {name: _hsv((hue + dh) % 1, s, v) for name, dh, s, v in (
        ("wall", rng.uniform(0, 1), rng.uniform(0.05, 0.3), rng.uniform(0.75, 0.95)),
        ("cab", 0.0, rng.uniform(0.2, 0.6), rng.uniform(0.45, 0.8)),
        ("counter", rng.uniform(0.3, 0.7), rng.uniform(0.05, 0.4), rng.uniform(0.5, 0.85)),
        ("lower", 0.05, rng.uniform(0.2, 0.6), rng.uniform(0.35, 0.7)),
        ("floor", rng.uniform(0, 1), rng.uniform(0.1, 0.4), rng.uniform(0.3, 0.6)))}
    img = np.empty((h, w, 3), np.float32)
    bands = [(ELEV_TOP, 0.45, "cab"), (0.45, -0.3, "wall"), (-0.3, -0.95, "counter"),
             (-0.95, -1.3, "lower"), (-1.3, ELEV_BOTTOM, "floor")]
    for top, bottom, name in bands:
        img[row(top):row(bottom)] = col[name]
    # tiles: grout lines (periods dividing the width, so the seam is invisible)
    r0, r1 = row(0.45), row(-0.3)
    n_tiles = int(rng.integers(50, 90))
    xs = (np.arange(n_tiles) * w / n_tiles).astype(int)
    img[r0:r1, xs] *= 0.75
    img[r0:r1:max(2, int(w / n_tiles)), :] *= 0.75
    # wall cupboards and lower cupboards: doors with frames and handles
    for top, bottom, name in ((ELEV_TOP - 0.05, 0.5, "cab"), (-1.0, -1.28, "lower")):
        a, b = row(top), row(bottom)
        n_doors = int(rng.integers(8, 14))
        edges = (np.arange(n_doors + 1) * w / n_doors).astype(int)
        for k in range(n_doors):
            x0, x1 = edges[k] + 2, edges[k + 1] - 2
            img[a:b, x0:x1] = col[name] * rng.uniform(0.85, 1.1)
            img[a:b, x0:x0 + 3] *= 0.6
            img[a:b, x1 - 3:x1] *= 0.6
            hx = x1 - 10 if k % 2 else x0 + 6
            hy = b - (b - a) // 5 if name == "cab" else a + (b - a) // 5
            img[hy - 8:hy + 8, hx:hx + 4] = 40
    # window
    x0 = int(rng.integers(0, w - w // 8))
    img[row(0.4):row(0.0), x0:x0 + w // 10] = np.array([200, 225, 245]) * rng.uniform(0.9, 1.05)
    # counter objects: sink, hob, and assorted items (ellipses and boxes)
    c0, c1 = row(-0.35), row(-0.9)
    kinds = ["sink", "hob"] + ["item"] * int(rng.integers(25, 40)) + ["board"] * int(rng.integers(3, 7))
    for kind in kinds:
        rx = {"sink": 0.25, "hob": 0.22, "board": rng.uniform(0.1, 0.18)}.get(kind, rng.uniform(0.04, 0.13)) * p
        ry = rx * rng.uniform(0.4, 0.8)
        cx = int(rng.integers(0, w))
        cy = c0 + int(rng.uniform(0.2, 0.8) * (c1 - c0))
        dx = np.arange(-int(rx) - 1, int(rx) + 2)
        dy = np.arange(max(-int(ry) - 1, -cy), min(int(ry) + 2, h - cy))
        cols = (cx + dx) % w
        box = img[(cy + dy)[:, None], cols[None, :]]
        m = (dx[None, :] / rx) ** 2 + (dy[:, None] / ry) ** 2
        if kind == "sink":
            box[m < 1] = 0.3 * col["counter"] + 60
        elif kind == "hob":
            box[m < 1] = 30
            for ox in (-0.5, 0.5):
                for oy in (-0.4, 0.4):
                    mm = ((dx[None, :] - ox * rx) / (0.3 * rx)) ** 2 + ((dy[:, None] - oy * ry) / (0.3 * ry)) ** 2
                    box[(mm < 1) & (mm > 0.6)] = 90
        elif kind == "board":
            rect = (np.abs(dx[None, :]) < rx) & (np.abs(dy[:, None]) < ry)
            box[rect] = _hsv(rng.uniform(0.05, 0.12), rng.uniform(0.3, 0.6), rng.uniform(0.5, 0.8))
            box[rect & ((dx[None, :] + dy[:, None]) % 9 < 1)] *= 0.85
        else:
            box[m < 1] = _hsv(rng.random(), rng.uniform(0.4, 0.9), rng.uniform(0.4, 0.95))
            box[m < 0.35] *= 0.8
            box[(m < 1) & (m > 0.8)] *= 0.6
        img[(cy + dy)[:, None], cols[None, :]] = box
    # texture detail: multi-scale noise (wraps horizontally), counter speckle
    for sigma, amp in ((6.0, 14.0), (1.5, 10.0)):
        noise = gaussian_filter(rng.standard_normal((h, w)).astype(np.float32), sigma * p / 228,
                                mode=("nearest", "wrap"))
        img += (amp / max(float(noise.std()), 1e-6) * noise)[..., None]
    img[c0:c1] += rng.normal(0, 6.0, (c1 - c0, w, 1)).astype(np.float32)
    img = gaussian_filter(img, (0.6 * p / 228, 0.6 * p / 228, 0), mode=("nearest", "wrap", "nearest"))
    rgb = np.clip(np.rint(img), 0, 255).astype(np.uint32)
    packed = rgb[..., 0] | (rgb[..., 1] << 8) | (rgb[..., 2] << 16)
    return Panorama(packed=np.ascontiguousarray(packed), px_per_rad=p)


def view_affines(rot: Rotation, pos: np.ndarray, f: float, width: int, height: int,
                 px_per_rad: float, pano_width: int) -> np.ndarray:
    """Per-frame affine maps image pixel -> panorama pixel, (F, 2, 3) float64.

    ``rot`` F body->world rotations, ``pos`` (F,3) camera positions (m, world), ``f`` focal length in
    image pixels. Image coordinates are pixel indices (column j, row i); the map is
    ``[x, y] = A @ [j, i, 1]`` with x the panorama column (before wrapping) and y its row.
    """
    us, vs = np.meshgrid([-width / 4, 0.0, width / 4], [-height / 4, 0.0, height / 4])
    u, v = us.ravel(), vs.ravel()
    d = np.stack([-v, u, np.full_like(u, f)], 1)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    dw = np.einsum("fab,nb->fna", rot.as_matrix(), d)  # (F, 9, 3)
    pd = np.einsum("fa,fna->fn", pos, dw)
    lam = -pd + np.sqrt(pd**2 - (np.sum(pos**2, 1)[:, None] - SPHERE_RADIUS_M**2))
    q = pos[:, None, :] + lam[..., None] * dw
    az = np.arctan2(q[..., 1], q[..., 0])
    az_c = az[:, 4:5]
    az = az_c + (az - az_c + np.pi) % (2 * np.pi) - np.pi
    el = np.arcsin(np.clip(q[..., 2] / SPHERE_RADIUS_M, -1, 1))
    x = np.mod(-az_c, 2 * np.pi) * px_per_rad + (-(az - az_c)) * px_per_rad
    y = (ELEV_TOP - el) * px_per_rad
    j = u + (width - 1) / 2
    i = v + (height - 1) / 2
    design = np.stack([j, i, np.ones_like(j)], 1)  # (9, 3)
    pinv = np.linalg.pinv(design)  # (3, 9)
    return np.stack([x @ pinv.T, y @ pinv.T], 1)  # (F, 2, 3)


class Renderer:
    """Samples frames from a :class:`Panorama` through per-frame affine maps (nearest neighbour).

    The panorama is stored padded by half its width on both sides, so most frames need no modulo.
    """

    def __init__(self, pano: Panorama, width: int, height: int):
        self.pano = pano
        self.width, self.height = width, height
        hp, wp = pano.shape
        self._m = wp // 2
        self._padded = np.ascontiguousarray(np.concatenate(
            [pano.packed[:, wp - self._m:], pano.packed, pano.packed[:, :self._m]], axis=1)).ravel()
        self._stride = wp + 2 * self._m
        self._j = np.arange(width, dtype=np.float32)
        self._i = np.arange(height, dtype=np.float32)

    def render(self, affine: np.ndarray) -> np.ndarray:
        """One frame for an affine (2, 3) from :func:`view_affines` -> (H, W, 3) uint8 (a view)."""
        return self.render_rgb0(affine)[..., :3]

    def render_rgb0(self, affine: np.ndarray) -> np.ndarray:
        """Like :meth:`render` but (H, W, 4) uint8 RGB0 (4th byte 0), contiguous: ffmpeg's ``rgb0``."""
        hp, wp = self.pano.shape
        a = np.asarray(affine, dtype=np.float64)
        c0 = a[0, 2] % wp
        corners = [a[0, 0] * j + a[0, 1] * i for j in (0, self.width) for i in (0, self.height)]
        # +0.5 and truncation = rounding (all values are made positive first)
        x = (np.float32(a[0, 1]) * self._i)[:, None] + (np.float32(a[0, 0]) * self._j
                                                         + np.float32(c0 + self._m + 0.5))[None, :]
        if min(corners) >= -self._m + 1 and max(corners) < self._m - 1:
            xi = x.astype(np.int32)
        else:  # very oblique view: wrap explicitly
            xi = ((np.floor(x).astype(np.int64) - self._m) % wp + self._m).astype(np.int32)
        y = (np.float32(a[1, 1]) * self._i + np.float32(a[1, 2] + 0.5))[:, None] + \
            (np.float32(a[1, 0]) * self._j)[None, :]
        yi = np.clip(y, 0, hp - 1).astype(np.int32)
        yi *= self._stride
        yi += xi
        out = self._padded[yi]
        return out.view(np.uint8).reshape(self.height, self.width, 4)
