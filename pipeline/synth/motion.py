"""Head trajectories of ``egoimu synth``: verb motion primitives + participant style + idle sway.

One trajectory per video drives both the rendered frames and the IMU. It is built on a uniform
grid (``RATE_HZ`` = 1 kHz) of video time and smoothed with a 15 ms Gaussian, so velocities and
accelerations are smooth.

Frames (docs/conventions.md):

- world: x = the participant's initial facing direction (horizontal), y = left, z = up; gravity
  g_world = (0, 0, -``G``).
- camera/body (GoPro axis order): X = up, Y = right, Z = forward.
- orientation: R(t) = R0 · Rx(yaw) · Ry(pitch) · Rz(roll) (intrinsic rotations about the body axes,
  ``Rotation.from_euler("XYZ", ...)``), R0 the body->world rotation of a level camera facing +x
  (body X -> world z, Y -> -y, Z -> x). yaw > 0 turns left, pitch > 0 looks up, roll > 0 tilts the
  top of the image to the right (clockwise seen from behind). ``yaw_pitch_roll`` are these angles.
- position: the camera's optical centre in world metres, relative to the participant's home spot;
  it includes the lever arm of the camera in front of/above the neck pivot.

IMU physics: gyro = body-frame angular velocity ω_b (R^T Ṙ = [ω_b]×), rad/s; accelerometer = specific
force f_b = R^T (a_world − g_world), m/s², so a level camera at rest reads (+G, 0, 0).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.ndimage import gaussian_filter1d
from scipy.spatial.transform import Rotation

G = 9.80665  # m/s², standard gravity
RATE_HZ = 1000  # trajectory grid
SMOOTH_S = 0.015  # Gaussian smoothing of angles and positions, seconds (sigma)
R0 = Rotation.from_matrix([[0.0, 0.0, 1.0], [0.0, -1.0, 0.0], [1.0, 0.0, 0.0]])
LEVER_M = np.array([0.08, 0.0, 0.10])  # camera centre relative to the neck pivot, body axes (X up, Z fwd)

# Verb -> head-motion family (keys of EPIC verb classes). Unknown verbs use CATEGORY_FAMILY / generic.
VERB_FAMILY = {
    "take": "reach", "remove": "reach", "scoop": "reach", "put": "place", "insert": "insert",
    "open": "open", "close": "close", "wash": "wash", "scrub": "scrub", "dry": "dry", "cut": "cut",
    "mix": "mix", "scrape": "scrape", "squeeze": "squeeze", "shake": "shake", "turn-on": "turn-on",
    "turn-off": "turn-off", "move": "walk", "pour": "pour", "empty": "pour",
}
CATEGORY_FAMILY = {"retrieve": "reach", "leave": "place", "clean": "wash", "access": "open",
                   "block": "close", "merge": "mix", "split": "cut", "transition": "walk"}
# periodic families: (frequency Hz, yaw amp, roll amp, pitch amp, pitch-down base; all rad)
PERIODIC = {
    "wash": (2.5, 0.030, 0.020, 0.010, 0.25), "scrub": (3.5, 0.025, 0.015, 0.010, 0.30),
    "dry": (2.0, 0.020, 0.020, 0.015, 0.20), "cut": (4.0, 0.005, 0.005, 0.020, 0.35),
    "mix": (1.5, 0.030, 0.000, 0.030, 0.30), "scrape": (3.0, 0.020, 0.000, 0.010, 0.30),
    "squeeze": (2.0, 0.000, 0.020, 0.010, 0.15), "shake": (5.0, 0.040, 0.020, 0.020, 0.10),
}
HEAD_SIGNATURE = {
    "reach": "pitch down ~0.28 rad and back, lean forward/down, slight turn",
    "place": "quicker, smaller pitch-down bump, lean forward",
    "insert": "pitch-down bump with a small roll and a longer forward lean",
    "open": "turn ~0.35 rad to one side and lean back (door swings towards you), slight look up",
    "close": "turn ~0.3 rad and lean forward (push), slight look down",
    "turn-on": "small turn (~0.15 rad) towards the tap and a nod",
    "turn-off": "small turn (~0.15 rad) the other way and a nod",
    "walk": "gait: vertical bob at the step frequency (~1.9 Hz, ±1.8 cm), sway, up to 0.45 m displacement",
    "pour": "head roll tilt ~0.12 rad while looking down",
    "generic": "small pitch-down bump",
    **{k: f"small periodic motion at {v[0]} Hz while looking down {v[4]} rad" for k, v in PERIODIC.items()},
}


@dataclass(frozen=True)
class MotionStyle:
    """Per-participant head-motion style."""

    amplitude: float  # multiplier of verb-motion amplitudes
    tempo: float  # multiplier of periodic frequencies
    sway_rad: float  # std of the idle sway of yaw (pitch 0.7x, roll 0.4x), rad; position 0.1 m/rad x this
    base_pitch_rad: float  # resting camera pitch (GoPro looks down at the counter), rad
    base_roll_rad: float  # resting camera roll, rad
    gait_hz: float  # step frequency when walking, Hz
    gaze_rate_hz: float  # rate of gaze shifts (head turns between actions), 1/s

    @classmethod
    def sample(cls, rng: np.random.Generator) -> MotionStyle:
        return cls(amplitude=float(rng.uniform(0.7, 1.3)), tempo=float(rng.uniform(0.85, 1.15)),
                   sway_rad=float(rng.uniform(0.02, 0.05)), base_pitch_rad=float(rng.uniform(-0.45, -0.25)),
                   base_roll_rad=float(rng.normal(0.0, 0.04)), gait_hz=float(rng.uniform(1.7, 2.1)),
                   gaze_rate_hz=float(rng.uniform(0.08, 0.2)))

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Action:
    """What the motion model needs of a segment: times (s) and the verb key/category."""

    start_s: float
    stop_s: float
    verb_key: str
    category: str = ""


def family_of(verb_key: str, category: str = "") -> str:
    """Head-motion family of a verb (``VERB_FAMILY``, then by category, else ``generic``)."""
    return VERB_FAMILY.get(verb_key) or CATEGORY_FAMILY.get(category, "generic")


def min_jerk(x: np.ndarray) -> np.ndarray:
    """Minimum-jerk step 0 -> 1 on x in [0, 1] (clipped outside)."""
    x = np.clip(x, 0.0, 1.0)
    return x**3 * (10 - 15 * x + 6 * x**2)


def _bump(x: np.ndarray) -> np.ndarray:
    return np.sin(np.pi * np.clip(x, 0.0, 1.0)) ** 2


def hold_window(x: np.ndarray) -> np.ndarray:
    """Rise over the first 30 %, hold, fall over the last 30 %."""
    return min_jerk(x / 0.3) - min_jerk((x - 0.7) / 0.3)


def primitive(family: str, tau: np.ndarray, dur: float, rng: np.random.Generator, style: MotionStyle
              ) -> tuple[np.ndarray, np.ndarray]:
    """Head motion of one action. ``tau`` (n,) seconds since its start, ``dur`` its length in s.

    Returns (dypr (n,3) rad added to yaw/pitch/roll, dpos (n,3) m in the heading frame: forward,
    left, up). Amplitudes shrink for actions shorter than 1.2 s (rotations ∝ dur, translations ∝ dur²).
    Walking's persistent displacement is added by the caller.
    """
    n = tau.shape[0]
    x = tau / dur
    a = style.amplitude * rng.uniform(0.8, 1.2)
    side = 1.0 if rng.random() < 0.5 else -1.0
    dypr, dpos = np.zeros((n, 3)), np.zeros((n, 3))
    hb, bp = hold_window(x), _bump(x)
    if family == "reach":
        dypr[:, 1] = -0.28 * a * hb
        dypr[:, 0] = side * 0.08 * a * hb
        dpos[:, 0], dpos[:, 2] = 0.07 * a * hb, -0.04 * a * hb
    elif family in ("place", "insert"):
        xq = np.clip(x / 0.8, 0, 1)
        dypr[:, 1] = -0.22 * a * _bump(xq)
        dpos[:, 0], dpos[:, 2] = 0.05 * a * _bump(xq), -0.03 * a * _bump(xq)
        if family == "insert":
            dypr[:, 2] = side * 0.06 * a * bp
            dpos[:, 0] += 0.04 * a * hb
    elif family in ("open", "close"):
        dypr[:, 0] = side * (0.35 if family == "open" else 0.30) * a * hb
        dypr[:, 1] = (0.06 if family == "open" else -0.08) * a * bp
        dpos[:, 0] = (-0.08 if family == "open" else 0.07) * a * bp
    elif family in PERIODIC:
        f, ay, ar, ap, base = PERIODIC[family]
        w = 2 * np.pi * f * style.tempo * tau
        env = hb * a
        dypr[:, 0] = ay * np.sin(w) * env
        dypr[:, 2] = ar * np.sin(w + 1.1) * env
        dypr[:, 1] = -base * hb * a * min(1.0, dur / 1.2) + ap * (np.cos(w) if family == "mix" else np.sin(2 * w)) * env
    elif family in ("turn-on", "turn-off"):
        dypr[:, 0] = (1 if family == "turn-on" else -1) * 0.15 * a * bp
        dypr[:, 1] = -0.08 * a * bp
    elif family == "walk":
        w = 2 * np.pi * style.gait_hz * tau
        env = hold_window(x)
        dpos[:, 2] = 0.018 * np.sin(w) * env
        dpos[:, 1] = 0.012 * np.sin(w / 2) * env
        dypr[:, 1] = 0.015 * np.sin(w + 0.5) * env
        dypr[:, 0] = 0.02 * np.sin(w / 2 + 0.3) * env
    elif family == "pour":
        dypr[:, 2] = side * 0.12 * a * hb
        dypr[:, 1] = -0.25 * a * hb
    else:
        dypr[:, 1] = -0.1 * a * bp
        dypr[:, 0] = side * 0.05 * a * bp
    if family not in PERIODIC and family != "walk":
        # short actions move less: keeps angular rates and accelerations human (<~3 rad/s, ~m/s²)
        dypr *= min(1.0, dur / 1.2)
        dpos *= min(1.0, (dur / 1.2) ** 2)
    return dypr, dpos


def _sway(rng: np.random.Generator, n: int, std: float, sigma_s: float) -> np.ndarray:
    """Smooth noise (n,) with standard deviation ``std``: Gaussian-filtered (``sigma_s``) white noise
    drawn at 20 Hz, cubic-spline interpolated to ``RATE_HZ``."""
    step = RATE_HZ // 20
    coarse = gaussian_filter1d(rng.standard_normal(n // step + 3), sigma_s * 20, mode="wrap")
    x = CubicSpline(np.arange(coarse.size) * step, coarse)(np.arange(n))
    return x * (std / max(float(x.std()), 1e-12))


@dataclass
class Trajectory:
    """Head trajectory on a uniform grid ``t_s = t0_s + arange(N) / RATE_HZ`` (video time, s).

    ``ypr`` (N,3) rad, ``position`` (N,3) m world, ``omega`` (N,3) rad/s body-frame angular velocity,
    ``specific_force`` (N,3) m/s² body frame; all float64.
    """

    t0_s: float
    ypr: np.ndarray
    position: np.ndarray
    omega: np.ndarray
    specific_force: np.ndarray

    @property
    def t_s(self) -> np.ndarray:
        return self.t0_s + np.arange(self.ypr.shape[0]) / RATE_HZ

    def sample(self, name: str, t: np.ndarray) -> np.ndarray:
        """Linear interpolation of field ``name`` ((N,3) array) at times ``t`` (M,) -> (M,3)."""
        arr, grid = getattr(self, name), self.t_s
        return np.stack([np.interp(t, grid, arr[:, k]) for k in range(3)], axis=1)

    def rotations(self, t: np.ndarray) -> Rotation:
        """Body->world rotations at times ``t`` (from interpolated yaw/pitch/roll)."""
        return R0 * Rotation.from_euler("XYZ", self.sample("ypr", t))


def build_trajectory(actions: list[Action], duration_s: float, style: MotionStyle,
                     rng: np.random.Generator, margin_s: float = 1.5) -> Trajectory:
    """Trajectory over [-margin_s, duration_s + margin_s] from the video's actions.

    Components: base pose (style), idle sway (Gaussian-filtered noise), gaze shifts (minimum-jerk yaw
    and pitch steps at Poisson times, mean-reverting), one verb primitive per action (overlapping
    actions add), walking moves the home spot (mean-reverting), lever arm of the camera.
    """
    t0 = -margin_s
    n = int(round((duration_s + 2 * margin_s) * RATE_HZ)) + 1
    t = t0 + np.arange(n) / RATE_HZ
    ypr = np.zeros((n, 3))
    ypr[:, 0] = float(rng.uniform(-np.pi, np.pi))
    ypr[:, 1] = style.base_pitch_rad
    ypr[:, 2] = style.base_roll_rad
    for k, (scale, sig) in enumerate(((1.0, 0.35), (0.7, 0.3), (0.4, 0.5))):
        ypr[:, k] += _sway(rng, n, style.sway_rad * scale, sig)
    # gaze shifts
    n_shift = int(rng.poisson(style.gaze_rate_hz * (duration_s + 2 * margin_s)))
    acc_y = acc_p = 0.0
    for ts in np.sort(rng.uniform(t0, t[-1], n_shift)):
        dy = float(rng.normal(0.0, 0.4)) * style.amplitude - 0.3 * acc_y
        dp = float(rng.normal(0.0, 0.08)) - 0.5 * acc_p
        step = min_jerk((t - ts) / rng.uniform(0.4, 0.9))
        ypr[:, 0] += dy * step
        ypr[:, 1] += dp * step
        acc_y, acc_p = acc_y + dy, acc_p + dp
    # verb primitives (rotation first; positions need the heading)
    local = []
    for act in actions:
        i0 = max(0, int(np.floor((act.start_s - t0) * RATE_HZ)))
        i1 = min(n, int(np.ceil((act.stop_s - t0) * RATE_HZ)) + 1)
        dur = max(act.stop_s - act.start_s, 1e-3)
        fam = family_of(act.verb_key, act.category)
        dypr, dpos = primitive(fam, t[i0:i1] - act.start_s, dur, rng, style)
        ypr[i0:i1] += dypr
        local.append((i0, i1, fam, dpos, dur))
    pos = np.zeros((n, 3))
    for k in range(3):
        pos[:, k] = _sway(rng, n, 0.1 * style.sway_rad, 0.4)
    home = 0.0
    for i0, i1, fam, dpos, dur in local:
        heading = ypr[(i0 + i1) // 2, 0]
        c, s = np.cos(heading), np.sin(heading)
        if fam == "walk":
            sign = -np.sign(home) if abs(home) > 0.2 else (1.0 if rng.random() < 0.5 else -1.0)
            step = sign * min(0.45, 0.3 * dur**2)
            dpos = dpos.copy()
            dpos[:, 0] += step * min_jerk((t[i0:i1] - t[i0]) / dur)
            rest = np.array([step * c, step * s, 0.0])
            pos[i1:] += rest
            home += step
        world = np.stack([c * dpos[:, 0] - s * dpos[:, 1], s * dpos[:, 0] + c * dpos[:, 1], dpos[:, 2]], 1)
        pos[i0:i1] += world
    sig = SMOOTH_S * RATE_HZ
    ypr = gaussian_filter1d(ypr, sig, axis=0, mode="nearest")
    pos = gaussian_filter1d(pos, sig, axis=0, mode="nearest")
    rot = R0 * Rotation.from_euler("XYZ", ypr)
    pos = pos + rot.apply(LEVER_M) - R0.apply(LEVER_M)
    return Trajectory(t0_s=t0, ypr=ypr, position=pos, omega=body_rates(rot),
                      specific_force=specific_force(rot, pos))


def body_rates(rot: Rotation) -> np.ndarray:
    """Body-frame angular velocity (N,3) rad/s of rotations sampled at ``RATE_HZ`` (central differences)."""
    n = len(rot)
    om = np.empty((n, 3))
    om[1:-1] = (rot[:-2].inv() * rot[2:]).as_rotvec() * (RATE_HZ / 2)
    om[0] = (rot[0].inv() * rot[1]).as_rotvec() * RATE_HZ
    om[-1] = (rot[-2].inv() * rot[-1]).as_rotvec() * RATE_HZ
    return om


def specific_force(rot: Rotation, pos: np.ndarray) -> np.ndarray:
    """f_b = R^T (a_world − g_world) (N,3) m/s², with a_world the second derivative of ``pos``."""
    dt = 1.0 / RATE_HZ
    acc = np.gradient(np.gradient(pos, dt, axis=0), dt, axis=0)
    return rot.inv().apply(acc + np.array([0.0, 0.0, G]))
