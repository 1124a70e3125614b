"""Visual signatures of actions for ``egoimu synth`` (drawn in the hands region of each frame).

Each verb draws a small overlay in screen space, where the hands and the held object are in
egocentric video: rows [0.6 H, H), columns [0.25 W, 0.75 W) — the upper 60 % of every frame shows
only the scene (useful for motion measurements). Colours follow the noun class (:func:`noun_color`).

``MODALITY`` documents, per verb, what the head motion and the pixels carry and how strongly
(strong / moderate / weak / none), so that video alone, head motion alone and both carry label
information, some verbs more in one modality than the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egoimu.pipeline.synth.motion import HEAD_SIGNATURE, family_of, hold_window, min_jerk
from egoimu.pipeline.synth.scene import noun_color

VISUAL_KIND = {
    "take": "appear", "scoop": "appear", "remove": "rise", "put": "disappear", "insert": "shrink",
    "open": "panel-open", "close": "panel-close", "wash": "flicker", "scrub": "flicker", "dry": "flicker",
    "cut": "stripes", "scrape": "stripes", "mix": "spin", "squeeze": "pulse", "shake": "jitter",
    "turn-on": "light-on", "turn-off": "light-off", "move": "none", "pour": "stream", "empty": "stream",
}
VISUAL_SIGNATURE = {
    "appear": "object (noun colour) fades in, in the hands region",
    "disappear": "object in the hands fades out",
    "rise": "object rises into view from the bottom edge",
    "shrink": "object shrinks away (goes into something)",
    "panel-open": "a panel slides aside uncovering a dark interior",
    "panel-close": "a panel slides over the dark interior",
    "flicker": "water-like blue noise flickering frame to frame",
    "stripes": "stripes sliding at ~4 Hz (knife strokes)",
    "spin": "a disc with spokes rotating at 1.5 Hz",
    "pulse": "object pulsing in size at 2 Hz",
    "jitter": "object shaking side to side at 5 Hz",
    "light-on": "a bright stream/indicator appears",
    "light-off": "a bright stream/indicator disappears",
    "stream": "a falling stream in the noun colour",
    "none": "nothing (only the camera motion shows it)",
}
# verb -> (head strength, video strength)
MODALITY = {
    "take": ("strong", "moderate"), "put": ("moderate", "moderate"), "wash": ("moderate", "strong"),
    "open": ("moderate", "strong"), "insert": ("moderate", "moderate"), "close": ("moderate", "strong"),
    "turn-on": ("weak", "strong"), "turn-off": ("weak", "strong"), "move": ("strong", "none"),
    "pour": ("moderate", "moderate"), "cut": ("moderate", "moderate"), "remove": ("strong", "moderate"),
    "mix": ("moderate", "strong"), "scrub": ("moderate", "strong"), "squeeze": ("weak", "moderate"),
    "scrape": ("moderate", "moderate"), "shake": ("strong", "moderate"), "dry": ("moderate", "moderate"),
    "empty": ("moderate", "moderate"), "scoop": ("strong", "moderate"),
}


def modality_table() -> dict[str, dict[str, str]]:
    """Per verb key: head signature, video signature and their strengths (for dataset.json)."""
    out = {}
    for verb, (hs, vs) in MODALITY.items():
        kind = VISUAL_KIND[verb]
        out[verb] = {"head": HEAD_SIGNATURE[family_of(verb)], "head_strength": hs,
                     "video": VISUAL_SIGNATURE[kind], "video_strength": vs, "video_kind": kind}
    return out


@dataclass(frozen=True)
class Overlay:
    """One action's overlay: time span (s), kind, centre (column, row px), size (px), colour (3,)."""

    start_s: float
    stop_s: float
    kind: str
    cx: float
    cy: float
    r: float
    color: tuple[float, float, float]

    @classmethod
    def for_action(cls, rng: np.random.Generator, start_s: float, stop_s: float, verb_key: str,
                   noun_class: int, width: int, height: int) -> Overlay:
        kind = VISUAL_KIND.get(verb_key, "appear")
        return cls(start_s=start_s, stop_s=stop_s, kind=kind,
                   cx=float(rng.uniform(0.35, 0.65) * width), cy=float(rng.uniform(0.75, 0.88) * height),
                   r=float(0.09 * min(width, height) * rng.uniform(0.8, 1.2)),
                   color=tuple(float(c) for c in noun_color(noun_class)))


def draw(frame: np.ndarray, ov: Overlay, t_s: float, frame_index: int, seed: int) -> None:
    """Draw ``ov`` at video time ``t_s`` into ``frame`` (H, W, 3) uint8, in place."""
    if ov.kind == "none" or not ov.start_s <= t_s < ov.stop_s:
        return
    h, w = frame.shape[:2]
    x = (t_s - ov.start_s) / max(ov.stop_s - ov.start_s, 1e-3)
    tau = t_s - ov.start_s
    r, cx, cy = ov.r, ov.cx, ov.cy
    if ov.kind == "rise":
        cy = cy + (1 - float(min_jerk(np.array(x)))) * 2 * r
    elif ov.kind == "jitter":
        cx = cx + 0.3 * r * np.sin(2 * np.pi * 5 * tau)
    scale = {"shrink": 1 - 0.9 * x, "pulse": 1 + 0.25 * np.sin(2 * np.pi * 2 * tau)}.get(ov.kind, 1.0)
    rr = r * scale
    # box around the overlay: (left, right, up, down) extents in units of r
    ext = {"panel-open": (1.2, 1.2, 1.0, 1.0), "panel-close": (1.2, 1.2, 1.0, 1.0),
           "flicker": (1.3, 1.3, 1.0, 1.0), "light-on": (0.2, 0.2, 2.5, 0.3),
           "light-off": (0.2, 0.2, 2.5, 0.3), "stripes": (1.1, 1.1, 0.6, 0.6), "spin": (1, 1, 1, 1),
           "stream": (0.3, 0.3, 2.5, 0.2)}.get(ov.kind, (1.3 * scale, 1.3 * scale, scale, scale))
    y0, y1 = max(int(0.6 * h), int(cy - ext[2] * r) - 1), min(h, int(cy + ext[3] * r) + 2)
    x0, x1 = max(0, int(cx - ext[0] * r) - 1), min(w, int(cx + ext[1] * r) + 2)
    if y1 <= y0 or x1 <= x0:
        return
    dy = np.arange(y0, y1, dtype=np.float32)[:, None] - cy
    dx = np.arange(x0, x1, dtype=np.float32)[None, :] - cx
    box = frame[y0:y1, x0:x1].astype(np.float32)
    color = np.array(ov.color, np.float32)
    alpha = np.zeros(box.shape[:2], np.float32)
    paint = np.broadcast_to(color, box.shape).copy()
    disc = (dx / rr) ** 2 + (dy / (0.7 * rr)) ** 2 < 1
    if ov.kind in ("appear", "disappear", "rise", "shrink", "pulse", "jitter"):
        a = {"appear": min_jerk(np.array(x)), "disappear": 1 - min_jerk(np.array(x))}.get(ov.kind, 1.0)
        alpha[disc] = float(a)
        paint[(dx / rr) ** 2 + (dy / (0.7 * rr)) ** 2 < 0.4] *= 0.75
    elif ov.kind in ("panel-open", "panel-close"):
        o = float(min_jerk(np.array(x)))
        o = o if ov.kind == "panel-open" else 1 - o
        rect = (np.abs(dx) < 1.2 * r) & (np.abs(dy) < r)
        alpha[rect] = 1.0
        interior = rect & (dx < -1.2 * r + o * 2.4 * r)
        paint[rect & ~interior] = 0.6 * color + 90
        paint[interior] = 25
        paint[rect & (np.abs(dx - (-1.2 * r + o * 2.4 * r)) < 2)] = 10
    elif ov.kind == "flicker":
        noise = np.random.default_rng([seed, frame_index]).normal(0.0, 45.0, box.shape).astype(np.float32)
        paint = np.array([70, 130, 210], np.float32) + noise
        alpha[(dx / (1.3 * r)) ** 2 + (dy / r) ** 2 < 1] = 0.75 * float(hold_window(np.array(x)))
    elif ov.kind in ("light-on", "light-off"):
        b = float(min_jerk(np.array(x)))
        b = b if ov.kind == "light-on" else 1 - b
        bar = np.broadcast_to(np.abs(dx) < 0.18 * r, alpha.shape)
        paint[...] = (235, 245, 255)
        alpha[bar] = b
    elif ov.kind == "stripes":
        rect = (np.abs(dx) < 1.1 * r) & (np.abs(dy) < 0.6 * r)
        on = np.sin(2 * np.pi * (dx / 8.0 + 4 * tau)) > 0
        paint[on & rect] = 0.4 * color
        alpha[rect] = 1.0
    elif ov.kind == "spin":
        ang = np.arctan2(dy, dx) - 2 * np.pi * 1.5 * tau
        spokes = np.cos(6 * ang) > 0.3
        d = dx**2 + dy**2 < r**2
        paint[d & spokes] = 0.35 * color
        alpha[d] = 1.0
    elif ov.kind == "stream":
        bar = np.abs(dx + 0.1 * r * np.sin(dy / 6.0)) < 0.15 * r
        paint[bar & (np.sin(dy / 4.0 - 25 * tau) > 0)] *= 0.7
        alpha[bar] = float(hold_window(np.array(x)))
    if alpha.any():
        box += alpha[..., None] * (paint - box)
        frame[y0:y1, x0:x1] = np.clip(np.rint(box), 0, 255).astype(np.uint8)
