"""Which time convention an IMU file's ``Milliseconds`` column follows (``auto``), and the times of the
``sensor`` convention. The conventions are described in :mod:`egoimu.pipeline.imu`; the ``epic-payload``
re-timing is :func:`egoimu.pipeline.imu_timing.retime`.

The ``auto`` rule (:func:`detect_convention`). EPIC-KITCHENS' extraction tool gives payload k exactly
``[1000 k, 1000 (k+1))`` ms and spaces its n_k samples ``1000 / n_k`` ms apart, so in such a file the rows
of every 1000 ms bin ``floor(ms / 1000)`` lie on the *payload lattice* ``1000 k + j · 1000 / n``
(j = 0 .. n - 1, n = round(1000 / the bin's smallest step)), and n changes from payload to payload (sample
counts vary with the payload boundaries: 195..205 at 200 Hz, a first payload of 228, a partial last one).
True sample times do not do this: a uniform or jittered clock at a rate that is not exactly 1000/n Hz drifts
off any such lattice within a bin (at 198.7 Hz by 1.5 ms a bin), and GoPro's own parser gives each payload its
real span (~1001 ms at 29.97 fps), which puts the payload starts ~1 ms further into each bin every second and
stretches the spacing by 0.1 %. A bin with at least :data:`MIN_ROWS` rows is *payload-spaced* when every row
lies within :data:`LATTICE_TOL` of a spacing of its lattice and its rows fill at least 1 /
:data:`MAX_LATTICE_PER_ROW` of the lattice (the union of two payloads of n1 and n2 samples, say, lies exactly
on the lattice of n1 · n2: too fine to say anything). The file is ``epic-payload`` when

- at least half of its bins with :data:`MIN_ROWS` rows are payload-spaced (rows removed by NaN cleaning or a
  gap leave the rest on the lattice; a re-stamped payload spoils one or two bins), and
- the payload-spaced bins show at least two different spacings (the jump between payloads);

otherwise ``sensor``. A file sampled at exactly 1000/n Hz in phase with whole seconds (0, 5, 10, ... ms)
satisfies the first condition but not the second and is read as ``sensor``; both readings agree there to
within half a sample period. A file whose payloads really last 1000 ms (as at 25 or 50 fps) has EPIC's
structure and is ``epic-payload``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egoimu.pipeline.imu import AUTO, EPIC_PAYLOAD, SENSOR, ImuError

MIN_ROWS = 3  # rows a 1000 ms bin needs to be tested
LATTICE_TOL = 0.05  # a row is on the payload lattice within this fraction of the lattice spacing
MIN_LATTICE_FRAC = 0.5  # this fraction of the tested bins must be payload-spaced
MAX_LATTICE_PER_ROW = 4  # a payload-spaced bin fills at least 1/4 of its lattice's points


@dataclass(frozen=True)
class LatticeEvidence:
    """What :func:`payload_lattice` measured on one file: ``n_tested`` bins of ``payload_ms`` holding at
    least :data:`MIN_ROWS` rows, ``n_spaced`` of them payload-spaced, showing ``n_spacings`` different
    spacings."""

    n_tested: int
    n_spaced: int
    n_spacings: int

    @property
    def convention(self) -> str:
        """The rule of the module docstring: ``epic-payload`` or ``sensor``."""
        epic = (self.n_tested > 0 and self.n_spaced >= MIN_LATTICE_FRAC * self.n_tested
                and self.n_spacings >= 2)
        return EPIC_PAYLOAD if epic else SENSOR


def payload_lattice(ms: np.ndarray, payload_ms: float = 1000.0) -> LatticeEvidence:
    """Test every ``payload_ms`` bin of ``ms`` ((n,) strictly increasing Milliseconds of a cleaned file)
    for EPIC's payload lattice (module docstring). Vectorised; O(n log n)."""
    ms = np.asarray(ms, dtype=np.float64).reshape(-1)
    if ms.size < MIN_ROWS:
        return LatticeEvidence(0, 0, 0)
    k = np.floor(ms / payload_ms + 1e-9)  # the bins retime() groups rows by
    _, first, cnt = np.unique(k, return_index=True, return_counts=True)
    g = np.repeat(np.arange(cnt.size), cnt)  # bin of every row
    step = np.full(ms.size, np.inf)
    step[:-1] = np.where(k[1:] == k[:-1], np.diff(ms), np.inf)
    dmin = np.minimum.reduceat(step, first)
    tested = (cnt >= MIN_ROWS) & np.isfinite(dmin) & (dmin > 0)
    n_lat = np.where(tested, np.maximum(np.rint(payload_ms / np.where(tested, dmin, 1.0)), 1.0), 1.0)
    spacing = payload_ms / n_lat
    off = ms - k * payload_ms
    j = np.rint(off / spacing[g])
    on = (np.abs(off - j * spacing[g]) <= LATTICE_TOL * spacing[g]) & (j >= 0) & (j < n_lat[g])
    filled = n_lat <= MAX_LATTICE_PER_ROW * cnt  # a far finer lattice (two payloads interleaved) says nothing
    spaced = tested & filled & (np.bincount(g, weights=~on, minlength=cnt.size) == 0)
    return LatticeEvidence(int(tested.sum()), int(spaced.sum()), int(np.unique(n_lat[spaced]).size))


def detect_convention(ms: np.ndarray, convention: str = AUTO, payload_ms: float = 1000.0) -> str:
    """The convention to time ``ms`` with: ``convention`` itself unless it is ``auto``, else the rule of the
    module docstring (:func:`payload_lattice`)."""
    if convention != AUTO:
        return convention
    return payload_lattice(ms, payload_ms).convention


def sensor_times(ms: np.ndarray) -> tuple[np.ndarray, float]:
    """The ``sensor`` convention: ``t_s = ms / 1000`` (n,) float64 seconds, every row kept, and
    ``rate_hz`` = 1 / the median step (robust to jitter, holes and per-payload spacing changes). ``ms``:
    (n,) strictly increasing. Raises :class:`ImuError` for fewer than 2 rows."""
    ms = np.asarray(ms, dtype=np.float64).reshape(-1)
    if ms.size < 2 or not np.all(np.diff(ms) > 0):
        raise ImuError(None, "sensor times need >= 2 strictly increasing Milliseconds values")
    return ms / 1000.0, 1000.0 / float(np.median(np.diff(ms)))
