"""Load figures: the training data loader against bare h5py reads and against decoding the MP4s.

The first three read the train split of the build group's raw shards in the order of one training epoch
(``ClipStream.batch_indices``), batch by batch, in this one process (DataLoader ``num_workers=0``, no
worker processes on either side), after one warm-up pass so the page cache holds the files for all.
Every side hands its batches to the same consumer loop, which holds a batch until the next one arrives
(as a training loop does). The shards have the default 64 clips each.

``loader_clips_per_s_per_core_raw`` / ``_jpeg`` are capacities, not ratios and not goals (absent from
``GOALS``): clips/s that ONE DataLoader worker process delivers through ClipStream + make_loader
(``num_workers=1``, batches of ``Sizes.batch_size`` 48x256x256 clips) from the raw shards and from JPEG shards
of the same source (JPEG decoded in the worker), after a warm-up epoch; over several epochs, each timed from
its first batch's arrival to its last (the worker's start and first batch, reported as ``startup_s``, left
out). Cores a GPU needs for its input = the GPU's clips/s ÷ this (README, "Performance").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from egoimu.bench.common import Sizes, cached_build, interleaved, timing_detail
from egoimu.bench.fig_build import build_source


def load_build(cache: Path, size: Sizes) -> tuple[Path, Path]:
    """(source root, output) of the cached raw build with default settings (64 clips a shard)."""
    root = build_source(cache, size)
    return root, cached_build(root, cache / f"{size.name}-load-raw")


def _stream(out: Path, size: Sizes):
    """(SplitIndex, ClipStream, DataConfig, batches) over the train split, single-process, no flips."""
    from egoimu.train.data import ClipStream, DataConfig, SplitIndex

    index = SplitIndex.open(out, "train")
    cfg = DataConfig(batch_size=min(size.batch_size, index.n), num_workers=0, hflip=0.0)
    stream = ClipStream(index, cfg, train=True)
    return index, stream, cfg, stream.batch_indices()


def consume(batches: Iterable[dict], n_batches: int) -> int:
    """Take ``n_batches`` batches the way a training loop does (each one held until the next arrives);
    returns the clips they held."""
    clips = 0
    for k, batch in enumerate(batches):
        clips += len(batch["video"])
        if k + 1 == n_batches:
            break
    return clips


def loader_pass(stream, cfg, n_batches: int) -> int:
    """Clips delivered by ``make_loader(stream)`` (epoch 0) in its first ``n_batches`` batches."""
    from egoimu.train.data import make_loader

    stream.set_epoch(0)
    return consume(make_loader(stream, cfg), n_batches)


def h5py_batches(index, batches: list[np.ndarray]) -> Iterator[dict[str, np.ndarray]]:
    """The bare baseline: per batch, new arrays filled by one ``read_direct`` per dataset and clip."""
    import h5py

    paths, rows = index.clips.path.to_numpy(), index.clips.row.to_numpy()
    files: dict[str, h5py.File] = {}
    try:
        for batch in batches:
            arrays: dict[str, np.ndarray] = {}
            for j, i in enumerate(batch):
                f = files.get(paths[i])
                if f is None:
                    f = files[paths[i]] = h5py.File(paths[i], "r", rdcc_nbytes=0)
                for name in ("video", "imu", "spec"):
                    if name not in arrays:
                        arrays[name] = np.empty((len(batch), *f[name].shape[1:]), f[name].dtype)
                    f[name].read_direct(arrays[name], np.s_[int(rows[i])], np.s_[j])
            yield arrays
    finally:
        for f in files.values():
            f.close()


def bench_loader_vs_raw_h5py(cache: Path, size: Sizes) -> dict:
    """``loader_vs_raw_h5py``: clips/s of ClipStream + make_loader ÷ bare h5py chunk reads, one process."""
    _, out = load_build(cache, size)
    index, stream, cfg, batches = _stream(out, size)
    consume(h5py_batches(index, batches), len(batches))  # warm-up: page cache
    res = interleaved({"loader": lambda _: loader_pass(stream, cfg, len(batches)),
                       "h5py": lambda _: consume(h5py_batches(index, batches), len(batches))},
                      repeats=size.repeats + 2)
    return {"loader_vs_raw_h5py": res["loader"]["rate"] / res["h5py"]["rate"],
            "loader_h5py": {"clips": res["loader"]["units"], "batch_size": cfg.batch_size, "processes": 1,
                            "encoding": "raw", **timing_detail(res)}}


class Mp4Clips:
    """The on-the-fly baseline: decord ``VideoReader.get_batch`` on each clip's source frame indices,
    resized by decord to the short side, centre-cropped (one reader per video, opened once)."""

    def __init__(self, root: Path, index) -> None:
        from egoimu.pipeline.sources.epic import find_recording
        from egoimu.pipeline.video import VideoConfig, probe_video, resize_geometry

        self.cfg = VideoConfig()
        self.clips = index.clips
        self.videos, self.readers = {}, {}
        for vid in sorted(set(self.clips.video_id)):
            info = probe_video(root / find_recording(root, vid).video)
            self.videos[vid] = (info, resize_geometry(info.width, info.height, self.cfg.resize_short_side,
                                                             self.cfg.geometry.frame_size))

    def reader(self, vid: str):
        if vid not in self.readers:
            import decord

            info, (rw, rh, _, _) = self.videos[vid]
            self.readers[vid] = decord.VideoReader(info.path, ctx=decord.cpu(0), width=rw, height=rh, num_threads=1)
        return self.readers[vid]

    def clip(self, i: int) -> np.ndarray:
        """Frames (48, S, S, 3) uint8 of global clip ``i``."""
        from egoimu.pipeline.video import clip_source_indices, snap_to_grid

        row = self.clips.iloc[int(i)]
        info, (_, _, cx, cy) = self.videos[row.video_id]
        start = snap_to_grid(Fraction(float(row.start_s)), self.cfg.geometry.fps)
        idx = clip_source_indices(start, info.fps, self.cfg.geometry.frames, self.cfg.geometry.fps)
        side = self.cfg.geometry.frame_size
        return self.reader(row.video_id).get_batch(idx.tolist()).asnumpy()[:, cy:cy + side, cx:cx + side]

    def batches(self, batches: list[np.ndarray]) -> Iterator[dict[str, np.ndarray]]:
        """``{"video": (B, 48, S, S, 3) uint8}`` per batch of global clip indices."""
        for batch in batches:
            g = self.cfg.geometry
            video = np.empty((len(batch), g.frames, g.frame_size, g.frame_size, 3), np.uint8)
            for j, i in enumerate(batch):
                video[j] = self.clip(i)
            yield {"video": video}


def bench_loader_vs_mp4_decode(cache: Path, size: Sizes) -> dict:
    """``loader_vs_mp4_decode``: clips/s of the loader ÷ decoding the same clips from the MP4s (decord)."""
    root, out = load_build(cache, size)
    index, stream, cfg, batches = _stream(out, size)
    n_batches = max(1, min(len(batches), -(-size.mp4_clips // cfg.batch_size)))
    batches = batches[:n_batches]
    mp4 = Mp4Clips(root, index)
    for vid in mp4.videos:  # readers opened (decord indexes each file) before the timing
        mp4.reader(vid)
    loader_pass(stream, cfg, n_batches)
    res = interleaved({"loader": lambda _: loader_pass(stream, cfg, n_batches),
                       "mp4_decode": lambda _: consume(mp4.batches(batches), n_batches)}, repeats=size.repeats)
    info = next(iter(mp4.videos.values()))[0]
    return {"loader_vs_mp4_decode": res["loader"]["rate"] / res["mp4_decode"]["rate"],
            "loader_mp4": {"clips": res["loader"]["units"], "batch_size": cfg.batch_size, "processes": 1,
                           "source": f"{info.width}x{info.height} {info.fps} fps H.264", "decoder": "decord 1 thread",
                           **timing_detail(res)}}


def worker_epoch(stream, cfg, epoch: int) -> tuple[int, float, float]:
    """One training epoch through ``make_loader(stream, cfg)``: (clips after the first batch, seconds from the
    first batch's arrival to the last's, seconds from ``iter`` to the first batch)."""
    import time

    from egoimu.train.data import make_loader

    stream.set_epoch(epoch)
    t0 = time.perf_counter()
    first = last = t0
    clips = -1
    for k, batch in enumerate(make_loader(stream, cfg)):
        last = time.perf_counter()
        if k == 0:
            first, clips = last, 0
        else:
            clips += len(batch["video"])
    return clips, last - first, first - t0


def per_core(out: Path, size: Sizes, epochs: int) -> dict:
    """Clips/s that one DataLoader worker delivers from the build ``out``'s train split (:func:`worker_epoch`
    over ``epochs`` epochs after a warm-up one; at least two batches an epoch)."""
    from egoimu.train.data import ClipStream, DataConfig, SplitIndex

    index = SplitIndex.open(out, "train")
    cfg = DataConfig(batch_size=max(1, min(size.batch_size, index.n // 2)), num_workers=1, hflip=0.0)
    stream = ClipStream(index, cfg, train=True)
    worker_epoch(stream, cfg, 0)  # warm-up: page cache
    runs = [worker_epoch(stream, cfg, e) for e in range(1, epochs + 1)]
    clips, seconds = sum(r[0] for r in runs), sum(r[1] for r in runs)
    if clips <= 0 or seconds <= 0:
        raise RuntimeError(f"{out}: split 'train' has {index.n} clips, too few for two batches an epoch")
    return {"clips_per_s": clips / seconds, "clips": clips, "seconds": seconds, "epochs": epochs,
            "batch_size": cfg.batch_size, "batches_per_epoch": stream.batches_per_epoch(), "workers": 1,
            "startup_s": [round(r[2], 3) for r in runs], "epoch_s": [round(r[1], 3) for r in runs]}


def bench_loader_per_core(cache: Path, size: Sizes) -> dict:
    """``loader_clips_per_s_per_core_raw`` / ``_jpeg``: one DataLoader worker's clips/s from raw and JPEG shards
    of the same source (capacities, not goals)."""
    root, raw = load_build(cache, size)
    jpeg = cached_build(root, cache / f"{size.name}-load-jpeg", "--encoding", "jpeg")
    res = {enc: per_core(out, size, size.repeats + 3) for enc, out in (("raw", raw), ("jpeg", jpeg))}
    return {"loader_clips_per_s_per_core_raw": res["raw"]["clips_per_s"],
            "loader_clips_per_s_per_core_jpeg": res["jpeg"]["clips_per_s"], "loader_per_core": res}
