"""``egoimu extract-imu VIDEO.MP4 ... --out DIR``: the accelerometer and gyroscope of GoPro MP4s (their GPMF
track, :mod:`egoimu.pipeline.gpmf`) as EPIC-style CSVs for other tools.

Per video ``<video_id>-accl.csv`` (``Milliseconds,AcclX,AcclY,AcclZ``, m/s²) and ``<video_id>-gyro.csv``
(``Milliseconds,GyroX,GyroY,GyroZ``, rad/s), ``video_id`` the file name without its extension. The axes are
the head frame of docs/conventions.md; ``Milliseconds`` are true sample times on the MP4's timeline (the
``sensor`` time convention: ``imu.convention auto`` reads them as such). Values are written with 17
significant digits, so a reader gets back the same float64 numbers.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np

from egoimu.manifests.clihelp import HelpFormatter, OneLineParser
from egoimu.manifests.files import atomic_write_text
from egoimu.pipeline.gpmf import GpmfError, GpmfStream, read_gpmf_imu
from egoimu.pipeline.imu import HEADERS


def imu_csv_text(stream: GpmfStream) -> str:
    """The EPIC-style CSV text of one stream: header, then one ``ms,x,y,z`` row per sample."""
    buf = io.StringIO()
    buf.write(",".join(HEADERS[stream.kind]) + "\n")
    np.savetxt(buf, np.column_stack([stream.t_s * 1000.0, stream.values]), fmt="%.17g", delimiter=",")
    return buf.getvalue()


def extract(video: str | Path, out: str | Path) -> tuple[Path, Path]:
    """Write ``<out>/<video_id>-accl.csv`` and ``-gyro.csv`` for one GoPro MP4; returns their paths.
    Raises :class:`~egoimu.pipeline.gpmf.GpmfError` for a file whose IMU cannot be read."""
    video, out = Path(video), Path(out)
    imu = read_gpmf_imu(video)
    paths = []
    for stream in (imu.accl, imu.gyro):
        path = out / f"{video.stem}-{stream.kind}.csv"
        atomic_write_text(path, imu_csv_text(stream))
        paths.append(path)
    return paths[0], paths[1]


def main(argv: list[str] | None = None) -> int:
    """``egoimu extract-imu``: 0 when every video was written, 2 for bad input (one line on stderr each)."""
    ap = OneLineParser(prog="egoimu extract-imu", description=__doc__.split("\n\n")[0],
                                 formatter_class=HelpFormatter)
    ap.add_argument("videos", nargs="+", type=Path, metavar="VIDEO.MP4", help="GoPro MP4s with a GPMF track")
    ap.add_argument("--out", required=True, type=Path, help="folder for the CSVs (created if missing)")
    args = ap.parse_args(argv)
    stems = [v.stem for v in args.videos]
    twice = sorted({s for s in stems if stems.count(s) > 1})
    if twice:
        print(f"egoimu extract-imu: video id {twice[0]!r} given twice (the CSVs would overwrite each other)",
              file=sys.stderr)
        return 2
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"egoimu extract-imu: {args.out}: cannot create the output folder: {e.strerror}", file=sys.stderr)
        return 2
    status = 0
    for video in args.videos:
        try:
            accl, gyro = extract(video, args.out)
        except GpmfError as e:
            print(f"egoimu extract-imu: {e}", file=sys.stderr)
            status = 2
            continue
        except OSError as e:
            print(f"egoimu extract-imu: {e.filename or video}: cannot write: {e.strerror}", file=sys.stderr)
            status = 2
            continue
        print(f"{video}: {accl.name}, {gyro.name}")
    return status
