"""GoPro camera files: the accelerometer and gyroscope of an MP4's GPMF telemetry track (``gpmd``), scaled to
SI units, mapped to the head frame of docs/conventions.md and timed on the MP4's own timeline.

Reading is done by py-gpmf-parser (bindings of GoPro's own C parser, gopro/gpmf-parser). Per payload (one per
~1.001 s of video) this module takes the first ``ACCL`` / ``GYRO`` of the payload, its samples scaled by the
payload's ``SCAL`` (``GPMF_ScaledData``), and checks the payload's ``SIUN`` (``m/s²``, ``rad/s``).

Timing (GoPro's README, "GPMF Timing and Clocks"): samples carry no times; the MP4 index places each payload
on the video's timeline ([in, out) per payload) and the sensor's clock is off by up to ±1 %. Each sensor gets
one measured rate and one start: the cumulative sample count at each payload's end is fitted by least
squares against the payload's out time (GoPro's own ``GPMF_SAMPLE_RATE_PRECISE`` method), over every payload
but the last (whose out time is the end of the track, not a flush time; all payloads when there are fewer
than three); sample i is at ``first + i / rate`` with ``first = -intercept / rate - TIMO`` (TIMO: the stream's
stated delay, 0 when absent). Not used: spacing each payload's samples evenly within [in, out) (py-gpmf-parser's
``extract_data``), which turns the payload flush jitter into a saw-tooth and steps the rate at every payload
boundary; and ``GetGPMFSampleRate`` as bound by py-gpmf-parser (its fast path divides the total count by the
track's duration, last, partly filled payload included: 192.5 Hz for the 198.6 Hz accelerometer of
../shared/data/gopro/karma.mp4).

Axes. GoPro's IMU frame (README, "IMU Orientation Uses These Axis Labels"): X left, Y backward (out of the
rear screen), Z up, right-handed; each model stores the channels in its own order. The ``ORIN`` tag, where a
stream has one, names each channel's axis (upper case +, lower case −); without it the order comes from
:func:`axis_order_for_firmware`, keyed by the model prefix of the MP4's ``udta/FIRM`` firmware: HERO5 Black
``HD5``: ``Z,X,Y``, "Gyroscope (z,x,y)" in the file itself, verified on karma.mp4; HERO6 and later (``Y,-X,Z``),
MAX and Fusion from GoPro's documentation only (:data:`AXIS_ORDER_DOCUMENTED`). The head frame is X up = +Z,
Y right = −X, Z forward = −Y (a rotation, so gyroscope and accelerometer map alike).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

import numpy as np
import py_gpmf_parser as pg

#: Channel order of ACCL/GYRO in GoPro's IMU frame for streams without an ORIN tag, by the model prefix of the
#: firmware in the MP4's udta/FIRM box: verified on a real file. HERO5 Black and Session (``HD5.02``, ``HD5.03``):
#: Z,X,Y (karma.mp4: gravity on Z when level; GoPro's README, "HERO5 Black and Session").
AXIS_ORDER_BY_FIRMWARE: dict[str, str] = {"HD5": "ZXY"}
#: The same, from GoPro's documentation, not verified on a real file: gopro/gpmf-parser README's per-model tables
#: (HERO6 Black: "Data order Y,-X,Z" for ACCL and GYRO; HERO7 Black "otherwise supports all HERO6 metadata",
#: HERO8 all HERO7's, MAX all HERO7's, HERO9 all HERO8's, HERO10-13 each all of the one before; Fusion:
#: -Y,X,Z). The firmware model ids (``HD6.01`` = HERO6 Black, ...) are not in GoPro's README; they are those of
#: public firmware lists (e.g. nitrxgen/gopro-firmware). The README does not say which models write ORIN (an
#: ORIN tag, where present, wins over this table).
AXIS_ORDER_DOCUMENTED: dict[str, str] = {
    "HD6.01": "YxZ",  # HERO6 Black
    "HD7.01": "YxZ",  # HERO7 Black
    "HD8.01": "YxZ",  # HERO8 Black
    "HD9.01": "YxZ",  # HERO9 Black
    "H21.01": "YxZ",  # HERO10 Black
    "H22.01": "YxZ",  # HERO11 Black
    "H23.01": "YxZ",  # HERO12 Black
    "H24.01": "YxZ",  # HERO13 Black
    "H19.03": "YxZ",  # MAX
    "FS1.04": "yXZ",  # Fusion
}
#: GoPro IMU axis -> (head-frame axis index, sign): X left -> -Y right, Y backward -> -Z forward, Z up -> +X up.
_GOPRO_TO_HEAD: dict[str, tuple[int, float]] = {"X": (1, -1.0), "Y": (2, -1.0), "Z": (0, 1.0)}
#: The stream of each kind: (FourCC, the SIUN it must carry).
SENSORS: dict[str, tuple[str, str]] = {"accl": ("ACCL", "m/s\u00b2"), "gyro": ("GYRO", "rad/s")}


class GpmfError(ValueError):
    """A GoPro file whose IMU cannot be read: ``path`` and ``reason`` (``str()`` is ``'<path>: <reason>'``)."""

    def __init__(self, path: str | os.PathLike[str], reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):  # picklable across Dask workers despite the custom __init__
        return (type(self), (self.path, self.reason))


@dataclass(frozen=True)
class GpmfStream:
    """One sensor of a GPMF track. ``t_s`` (n,) float64 seconds on the MP4 timeline, strictly increasing;
    ``values`` (n, 3) float64 in the head frame (m/s² or rad/s); ``rate_hz`` the measured rate; ``timo_s``
    the stream's TIMO; ``payload_counts`` samples per payload; ``residual_ms`` the largest distance of a
    payload's last sample from the fitted line's count at the payload's out time, in ms."""

    kind: str
    t_s: np.ndarray
    values: np.ndarray
    rate_hz: float
    timo_s: float
    payload_counts: tuple[int, ...]
    residual_ms: float


@dataclass(frozen=True)
class GpmfImu:
    """The IMU of one GoPro MP4: ``accl`` and ``gyro`` streams, the firmware string (``''`` if the file has
    none), the channel order used (e.g. ``'ZXY'``) and where it came from (``'ORIN'``, ``'firmware'`` or
    ``'firmware-documented'``: :func:`axis_order_for_firmware`),
    and the GPMF track's payload times ``payload_in_s`` / ``payload_out_s``."""

    path: str
    firmware: str
    axis_order: str
    axis_source: str
    accl: GpmfStream
    gyro: GpmfStream
    payload_in_s: tuple[float, ...]
    payload_out_s: tuple[float, ...]


def read_gpmf_imu(path: str | os.PathLike[str]) -> GpmfImu:
    """Read ACCL and GYRO of ``path``'s GPMF track (module docstring: units, axes, timing).

    Raises :class:`GpmfError` for a missing, unreadable, truncated or non-MP4 file, an MP4 without a GPMF
    track, a damaged payload, a stream missing or in other units, or an unknown channel order."""
    p = os.fspath(path)
    firmware = _check_mp4(p)
    handle = pg.OpenMP4Source(p, pg.MOV_GPMF_TRAK_TYPE, pg.MOV_GPMF_TRAK_SUBTYPE, 0)
    if not handle:
        raise GpmfError(p, "no GPMF telemetry track (gpmd) in this MP4")
    try:
        n_payloads = pg.GetNumberPayloads(handle)
        if n_payloads < 1:
            raise GpmfError(p, "the GPMF telemetry track (gpmd) has no payloads")
        payloads, t_in, t_out = [], [], []
        for i in range(n_payloads):
            size = pg.GetPayloadSize(handle, i)
            res = pg.GetPayloadResource(handle, 0, size)
            payloads.append((pg.GetPayload(handle, res, i, size), size))
            ret, a, b = pg.GetPayloadTime(handle, i)
            if ret != 0 or not size:
                raise GpmfError(p, f"GPMF payload {i} cannot be read (damaged file?)")
            t_in.append(float(a))
            t_out.append(float(b))
    finally:
        pg.CloseSource(handle)
    raw = {kind: _read_sensor(p, payloads, fourcc, unit) for kind, (fourcc, unit) in SENSORS.items()}
    orins = {r[3] for r in raw.values()} - {""}
    if len(orins) > 1:
        raise GpmfError(p, f"ACCL and GYRO give different ORIN tags {sorted(orins)}")
    if orins:
        order, source = orins.pop(), "ORIN"
    else:
        order, source = axis_order_for_firmware(firmware)
        if not order:
            raise GpmfError(p, f"no ORIN tag and no known axis order for firmware {firmware or '(none)'!r}")
    rot = axis_matrix(order)
    out_arr = np.asarray(t_out)
    streams = {}
    for kind, (values, counts, timo, _) in raw.items():
        t, rate, resid = fitted_sample_times(np.asarray(counts), out_arr, timo)
        if rate <= 0 or not np.all(np.diff(t) > 0):
            raise GpmfError(p, f"{SENSORS[kind][0]}: cannot time the samples (fitted rate {rate:.3f} Hz)")
        streams[kind] = GpmfStream(kind, t, values @ rot.T, rate, timo, tuple(int(c) for c in counts), resid)
    return GpmfImu(p, firmware, order, source, streams["accl"], streams["gyro"], tuple(t_in), tuple(t_out))


def fitted_sample_times(counts: np.ndarray, t_out: np.ndarray, timo_s: float = 0.0) -> tuple[np.ndarray, float, float]:
    """Times of a sensor's samples from its per-payload ``counts`` (k,) and the payloads' ``t_out`` (k,) s.

    Returns ``t_s`` (sum(counts),) float64 = ``first + i / rate``, the fitted ``rate`` (Hz) and the
    largest residual of the fit in ms (module docstring)."""
    counts = np.asarray(counts, dtype=np.float64)
    cum = np.cumsum(counts)
    use = slice(None) if counts.size < 3 else slice(0, counts.size - 1)
    x, y = np.asarray(t_out, dtype=np.float64)[use], cum[use]
    if x.size >= 2 and np.ptp(x) > 0:
        rate, intercept = np.polyfit(x, y, 1)
    else:  # one payload: its samples spread over its span
        span = float(t_out[0]) if t_out.size else 0.0
        rate = counts[0] / span if span > 0 else 0.0
        intercept = cum[0] - rate * float(t_out[0]) if t_out.size else 0.0
    if rate <= 0:
        return np.empty(0), float(rate), float("nan")
    resid_ms = float(np.max(np.abs(y - (rate * x + intercept))) / rate * 1000.0)
    first = -intercept / rate - timo_s
    return first + np.arange(int(cum[-1])) / rate, float(rate), resid_ms


def axis_order_for_firmware(firmware: str) -> tuple[str, str]:
    """``(channel order, source)`` of a firmware string such as ``'HD6.01.02.01.00'``: from
    :data:`AXIS_ORDER_BY_FIRMWARE` (``'firmware'``: verified on a real file), else :data:`AXIS_ORDER_DOCUMENTED`
    (``'firmware-documented'``: GoPro's documentation, not verified); ``('', '')`` for an unknown model."""
    if firmware[:3] in AXIS_ORDER_BY_FIRMWARE:
        return AXIS_ORDER_BY_FIRMWARE[firmware[:3]], "firmware"
    if firmware[:6] in AXIS_ORDER_DOCUMENTED:
        return AXIS_ORDER_DOCUMENTED[firmware[:6]], "firmware-documented"
    return "", ""


def axis_matrix(order: str) -> np.ndarray:
    """(3, 3) matrix R with ``head = R @ channels`` for a channel order such as ``'ZXY'`` or ``'YxZ'`` (each
    channel's GoPro axis, lower case = negative). Raises ValueError for anything but a permutation of XYZ."""
    if len(order) != 3 or sorted(order.upper()) != ["X", "Y", "Z"]:
        raise ValueError(f"axis order must be a permutation of XYZ (lower case = negative), got {order!r}")
    rot = np.zeros((3, 3))
    for ch, letter in enumerate(order):
        row, sign = _GOPRO_TO_HEAD[letter.upper()]
        rot[row, ch] = sign * (1.0 if letter.isupper() else -1.0)
    return rot


def _read_sensor(path: str, payloads: list, fourcc: str, unit: str) -> tuple[np.ndarray, list[int], float, str]:
    """One sensor over all payloads: (values (n, 3) scaled, samples per payload, TIMO s, ORIN or '')."""
    key = pg.Str2FourCC(fourcc)
    values, counts, timo, orin = [], [], 0.0, ""
    for i, (data, size) in enumerate(payloads):
        ret, stream = pg.GPMF_Init(data, size)
        if ret != pg.GPMF_OK:
            raise GpmfError(path, f"GPMF payload {i} is damaged (parser error {int(ret)})")
        if pg.GPMF_FindNext(stream, key, pg.GPMF_RECURSE_LEVELS) != pg.GPMF_OK:
            counts.append(0)
            continue
        n, elements = pg.GPMF_Repeat(stream), pg.GPMF_ElementsInStruct(stream)
        if elements != 3:
            raise GpmfError(path, f"{fourcc} in payload {i} has {elements} elements a sample, expected 3")
        siun = _property(data, size, key, "SIUN")
        if siun is not None and siun.rstrip(b"\x00").decode("latin-1") != unit:
            raise GpmfError(path, f"{fourcc} in payload {i} is in {siun.decode('latin-1')!r}, expected {unit!r}")
        timo_raw = _property(data, size, key, "TIMO")
        if timo_raw is not None:
            timo = struct.unpack(">f", timo_raw[:4])[0]
        orin_raw = _property(data, size, key, "ORIN")
        if orin_raw is not None:
            orin = orin_raw.rstrip(b"\x00").decode("ascii", "replace")
        ret, flat = pg.GPMF_ScaledData(stream, n * 3 * 8, 0, n, pg.GPMF_SampleType.DOUBLE)
        if ret != pg.GPMF_OK:
            raise GpmfError(path, f"{fourcc} in payload {i} cannot be scaled (parser error {int(ret)})")
        values.append(np.asarray(flat[: n * 3], dtype=np.float64).reshape(n, 3))
        counts.append(n)
    if not values or sum(counts) < 2:
        raise GpmfError(path, f"no {fourcc} samples in the GPMF track")
    return np.concatenate(values), counts, float(timo), orin


def _property(data: list[int], size: int, key: int, name: str) -> bytes | None:
    """The raw value of property ``name`` (SIUN, TIMO, ORIN) in the stream of the payload's first ``key``,
    or None (searched on a fresh parser state, so the caller's stays at the key)."""
    ret, probe = pg.GPMF_Init(data, size)
    if (ret == pg.GPMF_OK and pg.GPMF_FindNext(probe, key, pg.GPMF_RECURSE_LEVELS) == pg.GPMF_OK
            and pg.GPMF_FindPrev(probe, pg.Str2FourCC(name), pg.GPMF_CURRENT_LEVEL) == pg.GPMF_OK):
        return pg.GPMF_RawData(probe)
    return None


def _check_mp4(path: str) -> str:
    """Walk the MP4's top-level boxes: a clear error for a missing, non-MP4 or truncated file; returns the
    firmware string of ``moov/udta/FIRM`` ('' if none)."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            pos, moov = 0, None
            while pos < size:
                f.seek(pos)
                head = f.read(16)
                if len(head) < 8:
                    raise GpmfError(path, f"truncated MP4: {size - pos} stray bytes at offset {pos}")
                box_size, box_type = struct.unpack(">I4s", head[:8])
                if box_size == 1 and len(head) == 16:
                    box_size = struct.unpack(">Q", head[8:16])[0]
                elif box_size == 0:
                    box_size = size - pos
                if pos == 0 and box_type != b"ftyp":
                    raise GpmfError(path, "not an MP4 file (no 'ftyp' box at the start)")
                if box_size < 8 or pos + box_size > size:
                    raise GpmfError(path, f"truncated or damaged MP4: box {box_type.decode('latin-1')!r} at offset "
                                          f"{pos} needs {box_size} bytes, the file ends {size - pos} bytes later")
                if box_type == b"moov":
                    f.seek(pos)
                    moov = f.read(box_size)
                pos += box_size
    except FileNotFoundError:
        raise GpmfError(path, "file not found") from None
    except OSError as e:
        raise GpmfError(path, f"cannot read: {e}") from None
    if moov is None:
        raise GpmfError(path, "damaged MP4: no 'moov' box (index)")
    at = moov.find(b"FIRM")
    if at < 4:
        return ""
    n = struct.unpack(">I", moov[at - 4:at])[0]
    return moov[at + 4:at - 4 + n].rstrip(b"\x00").decode("ascii", "replace")
