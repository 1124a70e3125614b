"""Synthetic shards for ``egoimu bench gpu``'s data wait, written with numpy, h5py and egoimu.manifests only.

A machine lent for a GPU measurement may lack the pipeline's dependencies (ffmpeg, decord, dask) and receives
only a few tens of MB, so the bench writes its own shards there with the shard writer
(:mod:`egoimu.manifests.shardfmt`) and opens them through an in-memory :class:`egoimu.train.data.SplitIndex`
(no manifest files: the loader reads the shards exactly as in training). Frames are smooth moving gradients
with mild noise (JPEG-friendly, like video; pure noise would make JPEG unrealistically large and slow).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from egoimu.manifests import shardfmt as sf
from egoimu.manifests.geometry import ClipGeometry
from egoimu.manifests.schema import config_sha256

PER_SHARD = 16  # clips per synthetic shard


def jpeg_encoder() -> object | None:
    """A function uint8 (H, W, 3) RGB -> JPEG bytes (quality 90, 4:4:4: the pipeline's settings), from simplejpeg
    or else torchvision; None when neither imports (the JPEG measurements are then left out)."""
    try:
        import simplejpeg

        return lambda frame: simplejpeg.encode_jpeg(np.ascontiguousarray(frame), quality=90, colorsubsampling="444")
    except ImportError:
        pass
    from egoimu.train.jpeg_device import torchvision_io

    tvio = torchvision_io()
    if tvio is None:
        return None
    import torch

    return lambda frame: bytes(tvio.encode_jpeg(torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1),
                                                quality=90).numpy())


def synthetic_clip(k: int, geometry: ClipGeometry) -> dict[str, np.ndarray]:
    """Clip ``k``: video uint8 (T, H, W, 3), imu float32 (L, 6), spec float32 (6, F, S); deterministic in k."""
    rng = np.random.default_rng(k)
    n = geometry.frame_size
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    phase = rng.uniform(0, 256, 3).astype(np.float32)
    frames = [(xx[..., None] * 0.7 + yy[..., None] * 0.3 + phase + f * 3.0) % 256 for f in range(geometry.frames)]
    video = np.stack(frames) + rng.normal(0, 4, (geometry.frames, n, n, 3)).astype(np.float32)
    return {"video": np.clip(video, 0, 255).astype(np.uint8),
            "imu": rng.normal(0, 1, (geometry.imu_len, 6)).astype(np.float32),
            "spec": rng.normal(0, 1, (6, geometry.spec_bins, geometry.spec_frames)).astype(np.float32)}


def write_split(root: Path, encoding: str, n_clips: int, geometry: ClipGeometry) -> object:
    """Write ``n_clips`` synthetic clips as ``encoding`` (raw or jpeg) shards under ``root`` and return a
    :class:`egoimu.train.data.SplitIndex` of them (split "train"). Raises RuntimeError for jpeg without an
    encoder (:func:`jpeg_encoder`)."""
    from egoimu.train.data import INDEX_COLUMNS, SplitIndex

    encode = jpeg_encoder() if encoding == "jpeg" else None
    if encoding == "jpeg" and encode is None:
        raise RuntimeError("no JPEG encoder (simplejpeg or torchvision) for the JPEG shards")
    config = {"bench": "gpu", "geometry": geometry.to_dict()}
    sha = config_sha256(config)
    clips, shards = [], []
    root.mkdir(parents=True, exist_ok=True)
    for s in range(-(-n_clips // PER_SHARD)):
        rows = range(s * PER_SHARD, min(n_clips, (s + 1) * PER_SHARD))
        records = []
        for k in rows:
            rec = synthetic_clip(k, geometry)
            if encode is not None:
                rec["video_jpeg_frames"] = [encode(frame) for frame in rec["video"]]
            records.append(rec)
        jlen = max(sum(map(len, r["video_jpeg_frames"])) for r in records) if encode is not None else 0
        layout = sf.ShardLayout(encoding=encoding, geometry=geometry, jpeg_len=jlen)
        rel = f"shards/train/shard-{s:05d}.h5"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with sf.new_shard_file(path) as f:
            sf.create_shard(f, layout, len(records), {"config_sha256": sha, "split": "train", "shard_index": s,
                                                      "egoimu_version": "0.1.0"})
            for row, (k, rec) in enumerate(zip(rows, records)):
                cid = f"P01_101_{k:05d}"
                sf.write_clip(f, row, {**rec, "verb_class": k % 4, "noun_class": -1, "clip_id": cid,
                                       "narration_id": cid, "participant_id": "P01", "video_id": "P01_101",
                                       "start_s": float(k), "end_s": k + 2.0}, layout)
                clips.append(dict(clip_id=cid, shard=rel, path=str(path), row=row, verb_class=k % 4,
                                  participant_id="P01", video_id="P01_101", start_s=float(k), end_s=k + 2.0))
        shards.append(dict(shard=rel, path=str(path), n_clips=len(records), bytes=path.stat().st_size))
    summary = {"config": config, "config_sha256": sha,
               "normalisation": {"imu": {"mean": [0.0] * 6, "std": [1.0] * 6},
                                 "spec": {"mean": [0.0] * 6, "std": [1.0] * 6}}}
    return SplitIndex(root, "train", pd.DataFrame(clips)[list(INDEX_COLUMNS)], pd.DataFrame(shards), summary,
                      hashlib.sha256(repr(sorted(summary)).encode()).hexdigest())
