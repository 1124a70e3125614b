"""GoPro IMU CSVs (``PXX_1YY-accl.csv``, ``-gyro.csv``): read them, streamed and checked line by line, and
clean them into :class:`~egoimu.pipeline.imu.ImuStream` (non-finite rows dropped, sorted, repeated
Milliseconds dropped; each step counted). The types, settings and errors are in :mod:`egoimu.pipeline.imu`.

A value that is finite in float64 but not in the shards' float32 (:data:`STORED_DTYPE`), such as 1e308, is
kept by cleaning; :func:`beyond_stored_range` names such rows, for the rejection ``non_finite_imu``
(:data:`NON_FINITE_IMU`) that the probe and the shard stage give when what they would store is not finite.
"""

from __future__ import annotations

import io
import os

import numpy as np
import pandas as pd

from egoimu.manifests.shardfmt import ShardLayout
from egoimu.pipeline.imu import HEADERS, KINDS, CleanReport, ImuError, ImuStream

#: Rejection: IMU values (or their spectrogram) not finite after the cast to the shards' dtype.
NON_FINITE_IMU = "non_finite_imu"
STORED_DTYPE = ShardLayout().dtypes()["imu"]  # float32: the shards' imu (and spec) dtype
_NA_TOKENS = frozenset({"", "nan", "NaN", "NAN", "-nan", "-NaN", "NA", "N/A", "null", "NULL"})


def read_imu_csv(path: str | os.PathLike[str], kind: str) -> ImuStream:
    """Read a GoPro ``PXX_1YY-accl.csv`` / ``-gyro.csv`` and clean it (:func:`clean_imu`).

    Raises :class:`ImuError` for a missing or empty file, a wrong header (line 1) or a malformed line
    (wrong field count or a non-numeric field; the first such line is named). Empty, ``nan``/``NA``
    fields are NaN: their rows are dropped and counted in ``report.n_nan``. Blank lines are skipped.
    """
    if kind not in HEADERS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    values = read_csv_table(path, HEADERS[kind])
    return clean_imu(kind, values[:, 0], values[:, 1:], path=os.fspath(path))


def read_csv_table(path: str | os.PathLike[str], header: tuple[str, ...]) -> np.ndarray:
    """A numeric CSV whose first line is exactly ``header`` -> (n, len(header)) float64, streamed.

    Empty and ``nan``/``NA``/``null`` fields are NaN; blank lines are skipped; a UTF-8 byte-order mark is
    ignored. Raises :class:`ImuError` naming the file for a missing, unreadable or empty file, a wrong header
    (line 1), a malformed line (wrong field count or a non-numeric field: the first such line is named) or
    no data rows.
    """
    p = os.fspath(path)
    try:
        with open(p, "rb") as f:
            first = f.readline()
            if first.startswith(b"\xef\xbb\xbf"):
                first = first[3:]
            if not first.strip() and not f.read(1).strip():
                raise ImuError(p, "empty file")
            try:
                found = tuple(s.strip() for s in first.decode("utf-8").strip().split(","))
            except UnicodeDecodeError as e:
                raise ImuError(p, f"cannot read the header: {e}", line=1) from None
            if found != header:
                raise ImuError(p, f"header {','.join(found)!r}, expected {','.join(header)!r}", line=1)
            values = _parse_rows(p, f, len(header))
    except FileNotFoundError:
        raise ImuError(p, "file not found") from None
    except OSError as e:
        raise ImuError(p, f"cannot read: {e}") from None
    if values.shape[0] == 0:
        raise ImuError(p, "no data rows")
    return values


_CHUNK_BYTES = 1 << 20  # bytes read at a time


def _parse_rows(path: str, f: io.BufferedReader, n_fields: int = 4) -> np.ndarray:
    """The rest of an open file -> (n, n_fields) float64, streamed in ~1 MiB blocks of whole lines.

    Memory: the result plus one block, whatever the file's length (no Python object per line).
    Field counts are checked vectorised (commas per line); values are parsed by pandas' C parser;
    only when that fails is the bad line of the block searched for, to name it.
    """
    parts, line0, carry = [], 2, b""  # line0: file line number of the block's first line
    while True:
        block = f.read(_CHUNK_BYTES)
        data = carry + block
        if not block:
            carry = b""
        else:
            cut = data.rfind(b"\n") + 1
            data, carry = data[:cut], data[cut:]
        if data:
            parts.append(_parse_block(path, data, line0, n_fields))
            line0 += data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        if not block:
            break
    parts = [x for x in parts if x.size]
    return np.concatenate(parts) if parts else np.empty((0, n_fields))


def _parse_block(path: str, body: bytes, line0: int, n_fields: int = 4) -> np.ndarray:
    """Whole lines ``body`` (first at file line ``line0``) -> (m, n_fields) float64; ImuError names a bad line."""
    buf = np.frombuffer(body, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10)
    if buf.size and buf[-1] != 10:
        ends = np.append(ends, buf.size)
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
    if ends.size:
        at = np.searchsorted(np.flatnonzero(buf == 44), np.stack([starts, ends]))  # commas before each
        commas = at[1] - at[0]
        bad = np.flatnonzero(commas != n_fields - 1)
        bad = bad[[len(body[starts[i]:ends[i]].strip()) > 0 for i in bad]] if bad.size else bad
        if bad.size:
            i = int(bad[0])
            raise ImuError(path, f"malformed line: {int(commas[i]) + 1} fields, expected {n_fields}", line=line0 + i)
    try:
        df = pd.read_csv(io.BytesIO(body), header=None, dtype=np.float64, skip_blank_lines=True,
                         keep_default_na=False, na_values=sorted(_NA_TOKENS), engine="c")
        return df.to_numpy(dtype=np.float64).reshape(-1, n_fields)
    except pd.errors.EmptyDataError:
        return np.empty((0, n_fields))
    except (ValueError, pd.errors.ParserError) as exc:
        for i, raw in enumerate(io.BytesIO(body)):
            for tok in raw.decode("utf-8", "replace").split(","):
                t = tok.strip()
                if not t or t in _NA_TOKENS:
                    continue
                try:
                    float(t)
                except ValueError:
                    raise ImuError(path, f"malformed line: non-numeric field {t!r}", line=line0 + i) from None
        raise ImuError(path, f"unparseable data: {exc}") from None


def clean_imu(kind: str, ms: np.ndarray, values: np.ndarray, path: str | None = None) -> ImuStream:
    """Drop rows with a non-finite field, sort by ``ms`` (stable), drop repeated ``ms`` (first row in
    file order kept); every step is counted in the :class:`CleanReport`. ``ms`` (n,), ``values``
    (n, 3), any float dtype."""
    ms = np.asarray(ms, dtype=np.float64).reshape(-1)
    values = np.asarray(values, dtype=np.float64).reshape(-1, 3)
    n_rows = ms.size
    finite = np.isfinite(ms) & np.isfinite(values).all(axis=1)
    ms, values = ms[finite], values[finite]
    n_nonmono = int(np.count_nonzero(np.diff(ms) < 0))
    order = np.argsort(ms, kind="stable")
    ms, values = ms[order], values[order]
    keep = np.ones(ms.size, dtype=bool)
    keep[1:] = np.diff(ms) > 0
    report = CleanReport(n_rows, int(n_rows - finite.sum()), int((~keep).sum()), n_nonmono)
    return ImuStream(kind, ms[keep], values[keep], report, path)


def beyond_stored_range(stream: ImuStream) -> str:
    """'' when every value of the cleaned ``stream`` stays finite after the cast to :data:`STORED_DTYPE`
    (float32), else which rows do not: their count and the first one's Milliseconds, channel and value."""
    with np.errstate(over="ignore"):
        bad = ~np.isfinite(stream.values.astype(STORED_DTYPE))
    rows = np.flatnonzero(bad.any(axis=1))
    if not rows.size:
        return ""
    r = int(rows[0])
    c = int(np.flatnonzero(bad[r])[0])
    more = f" (and {rows.size - 1} more row{'s' if rows.size > 2 else ''})" if rows.size > 1 else ""
    return (f"Milliseconds {stream.ms[r]:g}: {HEADERS[stream.kind][1 + c]} = {stream.values[r, c]:g} is beyond "
            f"{STORED_DTYPE.name}'s range{more}")
