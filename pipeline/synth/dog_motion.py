"""Camera motion per activity for ``egoimu synth dogcentric`` (:func:`motion`), and what each activity's
clips carry (:data:`ACTIVITY_SIGNALS`). Axes and signs follow docs/conventions.md (yaw > 0 is to the left).
"""

from __future__ import annotations

import numpy as np


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
