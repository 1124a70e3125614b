"""The plots of ``egoimu view`` as PNG bytes (matplotlib's Agg canvas, no pyplot, the default style, no
``Software`` metadata: the same data give the same bytes).

Each plot returns a :class:`Plot`: the PNG and, for plots with a time axis that the page's animation follows,
where that axis lies in the image (fractions of its width and height) and the times at its ends.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

ACCL_COLOURS = ("#d62728", "#2ca02c", "#1f77b4")  # X red, Y green, Z blue (gyro the same, lighter lines)
MOTION_COLOUR, GYRO_COLOUR = "#1f77b4", "#ff7f0e"


@dataclass(frozen=True)
class Plot:
    """A PNG and its time axis: ``axis`` = (x0, x1, y0, y1) fractions of the image (y from the bottom) spanned by
    the axes, ``t0``/``t1`` the times (s) at x0 and x1 (None for a plot the animation does not follow)."""

    png: bytes
    axis: tuple[float, float, float, float] | None = None
    t0: float = 0.0
    t1: float = 0.0


def _figure(width: float, height: float) -> Any:
    """A matplotlib Figure on an Agg canvas in the default style."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _style() -> Any:
    """matplotlib's default style (a user's matplotlibrc does not change the page)."""
    import matplotlib.style

    return matplotlib.style.context("default")


def imu_plot(imu: np.ndarray, rate_hz: float, channels: tuple[str, ...]) -> Plot:
    """The six IMU channels of a clip against clip time: accelerometer (m/s²) above, gyroscope (rad/s) below."""
    with _style():
        fig = _figure(6.2, 4.0)
        t = np.arange(imu.shape[0]) / rate_hz
        axes = fig.subplots(2, 1, sharex=True)
        for ax, first, unit in ((axes[0], 0, "m/s²"), (axes[1], 3, "rad/s")):
            for c in range(3):
                ax.plot(t, imu[:, first + c], color=ACCL_COLOURS[c], lw=1.2, label=channels[first + c])
            ax.set_ylabel(unit)
            ax.grid(alpha=0.3)
            ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, ncol=3, frameon=False)
        axes[0].set_title("accelerometer", fontsize=10, loc="left")
        axes[1].set_title("gyroscope", fontsize=10, loc="left")
        axes[1].set_xlabel("clip time (s)")
        axes[1].set_xlim(0.0, imu.shape[0] / rate_hz)
        fig.tight_layout()
        top, bottom = axes[0].get_position(), axes[1].get_position()
        t0, t1 = axes[1].get_xlim()
        return Plot(_png(fig), (bottom.x0, bottom.x1, bottom.y0, top.y1), float(t0), float(t1))


def spec_plot(spec: np.ndarray, rate_hz: float, nfft: int, hop: int, channels: tuple[str, ...]) -> Plot:
    """The six log-magnitude spectrograms (frequency 0..rate/2 Hz against clip time), one colour scale each."""
    with _style():
        fig = _figure(9.2, 4.2)
        axes = fig.subplots(2, 3, sharex=True, sharey=True)
        extent = (0.0, spec.shape[2] * hop / rate_hz, 0.0, rate_hz / 2)
        for c, ax in enumerate(axes.ravel()):
            im = ax.imshow(spec[c], origin="lower", aspect="auto", extent=extent, cmap="magma",
                           interpolation="nearest")
            ax.set_title(channels[c], fontsize=9)
            fig.colorbar(im, ax=ax, fraction=0.08, pad=0.02).ax.tick_params(labelsize=7)
            ax.tick_params(labelsize=8)
        for ax in axes[:, 0]:
            ax.set_ylabel("Hz", fontsize=8)
        for ax in axes[1]:
            ax.set_xlabel("clip time (s)", fontsize=8)
        fig.suptitle(f"log(|STFT|), nfft {nfft}, hop {hop}", fontsize=9)
        fig.tight_layout()
        return Plot(_png(fig))


def motion_plot(times: list[np.ndarray], velocity: list[np.ndarray], gyro: list[np.ndarray],
                pairing: dict[str, str], windows: list[tuple[float, float]]) -> Plot:
    """Image velocity (px/s) of each image axis against the video timeline, with its paired gyro axis (as
    written, lag 0) mapped to px/s by a least-squares line (scale and offset: a gyro bias shows as the offset);
    the clips' windows shaded.

    ``times`` per clip: the mid-instant of each frame pair on the video timeline; ``velocity`` (n, 2) px/s;
    ``gyro`` (n, 2): the paired gyro axis' mean rate over each pair's interval, signed as ``pairing`` says.
    """
    with _style():
        fig = _figure(9.0, 4.2)
        axes = fig.subplots(2, 1, sharex=True)
        v, g = np.concatenate(velocity), np.concatenate(gyro)
        for k, (ax, name) in enumerate(zip(axes, ("dx", "dy"))):
            ok = np.isfinite(v[:, k]) & np.isfinite(g[:, k])
            gc = g[ok, k] - g[ok, k].mean()
            den = float(np.sum(gc ** 2))
            scale = float(np.sum(v[ok, k] * gc) / den) if den > 0 else 0.0
            shift = float(v[ok, k].mean() - scale * g[ok, k].mean())
            for start, end in windows:
                ax.axvspan(start, end, color="#000000", alpha=0.05, lw=0)
            for i, (t, vi, gi) in enumerate(zip(times, velocity, gyro)):
                ax.plot(t, vi[:, k], color=MOTION_COLOUR, lw=1.3, label=f"image {name} (px/s)" if i == 0 else None)
                ax.plot(t, scale * gi[:, k] + shift, color=GYRO_COLOUR, lw=1.1, ls="--",
                        label=f"{pairing[name]} × {scale:.0f} px/rad {shift:+.1f} px/s" if i == 0 else None)
            ax.set_ylabel(f"{name} (px/s)")
            ax.grid(alpha=0.3)
            ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, ncol=2, frameon=False)
        axes[1].set_xlabel("video time (s); shaded: the written clips' windows")
        fig.tight_layout()
        return Plot(_png(fig))


def lag_plot(lags_s: np.ndarray, r: np.ndarray, lag_s: float, frame_s: float) -> Plot:
    """The correlation of image motion with the gyroscope (mean of the two paired |r|) against the trial lag, the
    measured lag marked, the audit's pass band (±1 output frame around 0) shaded."""
    with _style():
        fig = _figure(9.0, 2.6)
        ax = fig.subplots()
        ax.axvspan(-1000 * frame_s, 1000 * frame_s, color="#2ca02c", alpha=0.12, lw=0, label="±1 output frame")
        ax.plot(1000 * lags_s, r, color="#333333", lw=1.2)
        ax.axvline(0.0, color="#888888", lw=0.8, ls=":")
        ax.axvline(1000 * lag_s, color="#d62728", lw=1.4, label=f"measured lag {1000 * lag_s:+.1f} ms")
        ax.set_xlabel("lag (ms); positive: the IMU rows are written that much too early")
        ax.set_ylabel("r")
        ax.set_ylim(0.0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
        fig.tight_layout()
        return Plot(_png(fig))
