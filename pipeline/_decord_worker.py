"""Child process of :mod:`egoimu.pipeline.video`'s decord backend: decode frames, stream them raw on stdout.

Run as ``python -m egoimu.pipeline._decord_worker SPEC.json`` (a subprocess, never multiprocessing: Dask's
daemonic worker processes cannot fork multiprocessing children). A crash or hang here (decord can
segfault or loop on broken files) kills only this process; the parent turns it into a VideoError.

SPEC (JSON): ``{"path": str, "width": int, "height": int, "crop": [x, y, side], "threads": int,
"runs": [[index, ...], ...]}`` with ``width``/``height`` the short-side-resized frame size. For every
index of every run, in order, stdout receives ``side*side*3`` bytes: the frame resized by decord's
own scaler (libavfilter ``scale=W:H``, i.e. swscale bilinear, the same filter the ffmpeg backend
names explicitly), centre-cropped here, RGB24, row-major. Exit status 0 on success; on any error a
message on stderr and exit status 3.
"""

from __future__ import annotations

import json
import sys

CHUNK = 16  # frames per decord get_batch call (bounds the child's memory)


def main(argv: list[str] | None = None) -> int:
    """Decode the frames listed in the spec file ``argv[0]`` to stdout; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 1:
        print("usage: python -m egoimu.pipeline._decord_worker SPEC.json", file=sys.stderr)
        return 2
    try:
        with open(argv[0], encoding="utf-8") as fh:
            spec = json.load(fh)
        import decord  # heavy import: only in the child

        vr = decord.VideoReader(spec["path"], ctx=decord.cpu(0), width=int(spec["width"]),
                                height=int(spec["height"]), num_threads=int(spec["threads"]))
        n_total = len(vr)
        x, y, side = (int(v) for v in spec["crop"])
        out = sys.stdout.buffer
        for run in spec["runs"]:
            if run and max(run) >= n_total:
                raise IndexError(f"frame {max(run)} requested, decord sees {n_total} frames")
            for j in range(0, len(run), CHUNK):
                batch = vr.get_batch(run[j:j + CHUNK]).asnumpy()
                want = (len(run[j:j + CHUNK]), int(spec["height"]), int(spec["width"]), 3)
                if batch.shape != want:
                    raise ValueError(f"decord returned shape {batch.shape}, expected {want}")
                out.write(batch[:, y:y + side, x:x + side].tobytes())
                out.flush()
    except BrokenPipeError:
        return 3
    except Exception as exc:  # everything becomes a message + exit status for the parent
        print(f"decord worker: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
