"""egoimu.train.data: exactly-once evaluation, equal-batch training partitions over ranks x workers, seeded order
with a rotating left-out tail, exact resume, Fletcher32 damage, manifest/shard checks, consistent flips.

The data are handmade: tiny shards (48 frames of 16 x 16, the paper's imu/spec shapes; spec computed from
imu with the pipeline's spectrogram) and a valid manifest written through ``egoimu.manifests.schema``. The train
split is raw, validation lossless, test JPEG; clips.csv lists clips in an order different from the shards'.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import simplejpeg
import torch

from egoimu.manifests import schema
from egoimu.manifests import shardfmt as sf
from egoimu.manifests.geometry import ClipGeometry
from egoimu.pipeline.spectrogram import spectrogram
from egoimu.train.augment import FLIP_NEGATE, flip_decisions
from egoimu.train.data import ClipStream, DataConfig, DataError, SplitIndex, make_loader, video_to_float

REPO = Path(__file__).resolve().parents[2]
GEOMETRY = ClipGeometry(frame_size=16)  # the paper's geometry but 16² frames: small shards
CONFIG = {"test": "egoimu.train.data", "geometry": GEOMETRY.to_dict()}
CFG_SHA = schema.config_sha256(CONFIG)
SIZES = {"train": 23, "validation": 5, "test": 4}
PARTICIPANTS = {"train": ("P01", "P02"), "validation": ("P03",), "test": ("P04",)}
ENCODING = {"train": "raw", "validation": "lossless", "test": "jpeg"}
PER_SHARD = 8


def _record(k: int, encoding: str) -> dict:
    rng = np.random.default_rng(1000 + k)
    t = np.arange(396)[:, None] / 198.0
    imu = (np.array([9.81, 0.3, -0.2, 0.0, 0.0, 0.0]) + rng.normal(0, 0.4, (396, 6))
           + np.sin(2 * np.pi * rng.uniform(0.5, 8, 6) * t)).astype(np.float32)
    # smooth frames (JPEG-friendly), different per clip and frame, asymmetric left-right
    yy, xx = np.mgrid[0:16, 0:16]
    video = np.stack([np.stack([(xx * 13 + yy * 3 + f * 5 + k * 17 + c * 60) % 256 for c in range(3)], -1)
                      for f in range(48)]).astype(np.uint8)
    rec = {"imu": imu, "spec": spectrogram(imu), "video": video}
    if encoding == "jpeg":
        rec["video_jpeg_frames"] = [simplejpeg.encode_jpeg(np.ascontiguousarray(fr), quality=90) for fr in video]
        rec["video"] = np.stack([simplejpeg.decode_jpeg(j, colorspace="RGB") for j in rec["video_jpeg_frames"]])
    return rec


def make_dataset(root: Path, sizes: dict[str, int]) -> dict[str, dict]:
    """Write shards + manifest into ``root``; returns {clip_id: record (what the loader must give back)}."""
    clip_rows, shard_rows, records, k = [], [], {}, 0
    for split, n in sizes.items():
        parts = PARTICIPANTS[split]
        ids = [f"{parts[i * len(parts) // n]}_101_{i:03d}" for i in range(n)]
        # shard slots in reverse order, so manifest order != shard order
        slots = [(f"shards/{split}/shard-{s:05d}.h5", r) for s in range(-(-n // PER_SHARD))
                 for r in range(min(PER_SHARD, n - s * PER_SHARD))][::-1]
        for i, (cid, (shard, row)) in enumerate(zip(ids, slots)):
            records[cid] = dict(_record(k, ENCODING[split]), shard=shard, row=row, verb_class=(k % 4) - 1)
            k += 1
            p = cid[:3]
            clip_rows.append(dict(clip_id=cid, narration_id=cid, participant_id=p, video_id=f"{p}_101",
                                  kind="segment", split=split, seg_start_s=float(i), seg_stop_s=i + 1.5,
                                  start_s=float(i), end_s=i + 2.0, verb="v", verb_class=records[cid]["verb_class"],
                                  noun_class=-1, status="written", reason="", shard=shard, row=row))
        for shard in sorted({s for s, _ in slots}):
            mine = sorted(((r, c) for c, rec in records.items() if rec["shard"] == shard for r in [rec["row"]]))
            path = root / shard
            path.parent.mkdir(parents=True, exist_ok=True)
            enc = ENCODING[split]
            jlen = max(sum(len(b) for b in records[c]["video_jpeg_frames"]) for _, c in mine) if enc == "jpeg" else 0
            layout = sf.ShardLayout(encoding=enc, geometry=GEOMETRY, jpeg_len=jlen)
            with sf.new_shard_file(path) as f:
                sf.create_shard(f, layout, len(mine), {"config_sha256": CFG_SHA, "split": split,
                                                       "shard_index": int(shard[-8:-3]), "egoimu_version": "0.1.0"})
                for r, c in mine:
                    rec = records[c]
                    sf.write_clip(f, r, {**rec, "verb_class": rec["verb_class"], "noun_class": -1, "clip_id": c,
                                         "narration_id": c, "participant_id": c[:3], "video_id": f"{c[:3]}_101",
                                         "start_s": 0.0, "end_s": 2.0}, layout)
            data = path.read_bytes()
            shard_rows.append(dict(shard=shard, split=split, n_clips=len(mine), participants=";".join(parts),
                                   bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), config_sha256=CFG_SHA))
    clip_rows.append(dict(clip_rows[0], clip_id="P01_101_rej", split="", start_s=math.nan, end_s=math.nan,
                          status="rejected", reason="segment_outside_video", shard="", row=-1))
    clips = pd.DataFrame(clip_rows, columns=schema.columns("clips"))
    rec_rows = [dict(video_id=f"{p}_101", participant_id=p, split=s, video_path=f"{p}/videos/{p}_101.MP4",
                     accl_path=f"{p}/meta_data/{p}_101-accl.csv", gyro_path=f"{p}/meta_data/{p}_101-gyro.csv",
                     video_sha256=CFG_SHA, accl_sha256=CFG_SHA, gyro_sha256=CFG_SHA, fps_num=50, fps_den=1,
                     n_frames=500, duration_s=10.0, width=1920, height=1080, accl_rate_hz=199.7,
                     gyro_rate_hz=199.7, imu_rate_correction=1.0, imu_offset_s=0.0, decoder="decord",
                     status="ok", reason="", accl_time_convention="epic-payload",
                     gyro_time_convention="epic-payload", sync_mode="assumed", sync_offset_ms=float("nan"),
                     sync_scale=float("nan"), sync_peak_r=float("nan"), sync_confidence=float("nan"),
                     sync_fallback="") for s, ps in PARTICIPANTS.items() for p in ps]
    splits = pd.DataFrame([(p, s) for s, ps in PARTICIPANTS.items() for p in ps], columns=["participant_id", "split"])
    train_specs = np.stack([r["spec"] for c, r in records.items() if r["shard"].startswith("shards/train")])
    counts = {}
    for split in SIZES:
        mine = clips[(clips.split == split) & (clips.status == "written")]
        counts[split] = {"clips": len(mine), "participants": int(mine.participant_id.nunique()),
                         "verbs": {str(v): int(c) for v, c in mine.verb_class.value_counts().sort_index().items()}}
    summary = {
        "schema_version": schema.MANIFEST_SCHEMA_VERSION, "egoimu_version": "0.1.0", "config": CONFIG,
        "config_sha256": CFG_SHA, "split": {"mode": "planned", "ratio": [8, 1, 1], "seed": 0}, "counts": counts,
        "normalisation": {"imu": {"mean": [0.0] * 6, "std": [1.0] * 6},
                          "spec": {"mean": train_specs.mean(axis=(0, 2, 3)).tolist(),
                                   "std": train_specs.std(axis=(0, 2, 3)).tolist()}},
        "accounting": {"input": len(clips), "written": len(clips) - 1,
                       "rejected_by_reason": {"segment_outside_video": 1}},
    }
    schema.Manifest(root=root, clips=clips, shards=pd.DataFrame(shard_rows), recordings=pd.DataFrame(rec_rows),
                    splits=splits, summary=summary).write()
    return records


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, dict[str, dict]]:
    root = tmp_path_factory.mktemp("data") / "out"
    return root, make_dataset(root, SIZES)


@pytest.fixture
def scratch(dataset, tmp_path) -> tuple[Path, dict[str, dict]]:
    """A private copy of the dataset, for tests that damage it."""
    root, records = dataset
    shutil.copytree(root, tmp_path / "out")
    return tmp_path / "out", records


def stream_of(root: Path, split: str, *, train: bool, rank: int = 0, world: int = 1, epoch: int = 0,
              position: int = 0, **cfg) -> tuple[ClipStream, DataConfig]:
    config = DataConfig(**cfg)
    stream = ClipStream(SplitIndex.open(root, split), config, train=train, rank=rank, world_size=world)
    stream.set_epoch(epoch)
    stream.set_position(position)
    return stream, config


def load(root: Path, split: str, **kw) -> list[dict]:
    stream, cfg = stream_of(root, split, **kw)
    it = iter(make_loader(stream, cfg))
    try:
        return list(it)
    finally:  # a worker's re-raised error keeps the iterator in a reference cycle; torch's shutdown at
        if hasattr(it, "_shutdown_workers"):  # gc time then waits 5 s per worker, so shut down now
            it._shutdown_workers()


def assert_same_batches(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for key in x:
            if isinstance(x[key], torch.Tensor):
                assert x[key].dtype == y[key].dtype and torch.equal(x[key], y[key]), key
            else:
                assert x[key] == y[key], key


def test_evaluation_epoch_covers_every_clip_once_over_ranks_and_workers(dataset) -> None:
    root, records = dataset
    index = SplitIndex.open(root, "train")
    mean = np.asarray(index.norm["spec"]["mean"], np.float32)[:, None, None]
    std = np.asarray(index.norm["spec"]["std"], np.float32)[:, None, None]
    seen = []
    for rank in range(2):
        stream, _ = stream_of(root, "train", train=False, rank=rank, world=2, batch_size=3, num_workers=2, hflip=1.0)
        batches = load(root, "train", train=False, rank=rank, world=2, batch_size=3, num_workers=2, hflip=1.0)
        assert [b["batch"] for b in batches] == list(range(stream.batches_per_epoch())) == list(range(4))
        for b in batches:
            idx = b["index"].tolist()
            assert idx == list(range(idx[0], idx[0] + len(idx)))  # manifest order, no shuffle
            assert len(idx) == 3 or idx[-1] == 22  # only the split's last batch is short
            assert b["clip_id"] == index.clips.clip_id.iloc[idx].tolist() and not b["flipped"].any()
            assert b["video"].dtype == torch.uint8 and b["video"].shape == (len(idx), 48, 16, 16, 3)
            assert b["spec"].dtype == torch.float32 and b["imu"].shape == (len(idx), 396, 6)
            assert b["verb_class"].dtype == torch.int64 and b["index"].dtype == torch.int64
            for j, cid in enumerate(b["clip_id"]):
                rec = records[cid]
                np.testing.assert_array_equal(b["video"][j].numpy(), rec["video"])
                np.testing.assert_array_equal(b["imu"][j].numpy(), rec["imu"])
                np.testing.assert_array_equal(b["spec"][j].numpy(), (rec["spec"] - mean) / std)
                assert b["verb_class"][j] == rec["verb_class"]
            seen += idx
    assert sorted(seen) == list(range(23))


@pytest.mark.parametrize("split", ["validation", "test"])
def test_lossless_and_jpeg_shards_decode(dataset, split: str) -> None:
    root, records = dataset
    batches = load(root, split, train=False, batch_size=2, num_workers=0, spec_norm=False)
    assert sum(len(b["clip_id"]) for b in batches) == SIZES[split]
    for b in batches:
        for j, cid in enumerate(b["clip_id"]):
            np.testing.assert_array_equal(b["video"][j].numpy(), records[cid]["video"])  # jpeg: the decoded frames
            np.testing.assert_array_equal(b["spec"][j].numpy(), records[cid]["spec"])


@pytest.mark.filterwarnings("ignore:This DataLoader will create 3 worker processes")
def test_training_partition_equal_batches_at_most_once(dataset) -> None:
    root, _ = dataset
    per_rank = []
    for rank in range(2):
        batches = load(root, "train", train=True, rank=rank, world=2, batch_size=2, num_workers=2, hflip=0.5, epoch=3)
        assert [b["batch"] for b in batches] == list(range(5))  # 23 // (2 x 2)
        assert all(len(b["clip_id"]) == 2 and b["epoch"] == 3 for b in batches)
        per_rank.append(batches)
    seen = np.concatenate([b["index"].numpy() for batches in per_rank for b in batches])
    stream, _ = stream_of(root, "train", train=True, world=2, batch_size=2, epoch=3)
    assert len(seen) == len(set(seen.tolist())) == 20
    assert sorted(seen.tolist() + stream.dropped().tolist()) == list(range(23))
    # global batch g = rank 0's share then rank 1's: the same global batches as 1 rank x batch 4
    single, _ = stream_of(root, "train", train=True, world=1, batch_size=4, epoch=3)
    for g, whole in enumerate(single.batch_indices()):
        np.testing.assert_array_equal(np.concatenate([per_rank[r][g]["index"].numpy() for r in range(2)]), whole)
    # the same batches, bit for bit, whatever the number of workers
    for workers in (0, 3):
        assert_same_batches(load(root, "train", train=True, rank=1, world=2, batch_size=2, num_workers=workers,
                                 hflip=0.5, epoch=3), per_rank[1])


def test_order_follows_seed_and_epoch_and_the_left_out_tail_rotates(dataset) -> None:
    root, _ = dataset

    index = SplitIndex.open(root, "train")

    def plan(seed: int, epoch: int) -> list[list[int]]:
        stream = ClipStream(index, DataConfig(batch_size=4, seed=seed), train=True)
        stream.set_epoch(epoch)
        return [b.tolist() for b in stream.batch_indices()]

    assert plan(0, 0) == plan(0, 0)
    assert plan(0, 1) != plan(0, 0) and plan(1, 0) != plan(0, 0)
    stream = ClipStream(index, DataConfig(batch_size=4), train=True)
    dropped = [set(stream.dropped(e).tolist()) for e in range(8)]  # N 23, G 4: 3 left out per epoch
    assert all(len(d) == 3 for d in dropped)
    for e in range(8):
        kept = sorted(i for b in stream.batch_indices(e) for i in b.tolist())
        assert kept == sorted(set(range(23)) - dropped[e])
    first7 = set().union(*dropped[:7])
    assert len(first7) == 21  # floor(23 / 3) = 7 consecutive epochs leave out disjoint sets
    assert set().union(*dropped) == set(range(23))  # within ceil(23 / 3) = 8 epochs every clip took its turn


def test_resume_gives_the_rest_of_the_epoch_bit_for_bit(dataset) -> None:
    root, _ = dataset
    kw = dict(train=True, batch_size=2, num_workers=2, hflip=0.5, epoch=1)
    full = load(root, "train", **kw)
    assert len(full) == 11 and any(b["flipped"].any() for b in full)
    for k in (3, 4):  # odd and even k with 2 workers
        assert_same_batches(load(root, "train", position=k, **kw), full[k:])
    stream, cfg = stream_of(root, "train", position=5, **kw)
    assert len(make_loader(stream, cfg)) == 6
    stream.set_epoch(2)  # a new epoch starts at its first batch
    assert stream.position == 0
    with pytest.raises(ValueError, match="position"):
        stream.set_position(12)


def _damage(path: Path, dataset: str, row: int) -> None:
    with h5py.File(path, "r") as f:
        dset = f[dataset]
        info = dset.id.get_chunk_info_by_coord((row,) + (0,) * (dset.ndim - 1))
    data = bytearray(path.read_bytes())
    data[info.byte_offset + info.size // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("dataset_name,workers", [("imu", 2), ("video", 0)])
def test_fletcher32_damage_names_shard_and_clip(scratch, dataset_name: str, workers: int) -> None:
    root, records = scratch
    cid = "P01_101_005"
    shard, row = records[cid]["shard"], records[cid]["row"]
    _damage(root / shard, dataset_name, row)
    SplitIndex.open(root, "train")  # same size: only reading finds it
    with pytest.raises(DataError) as err:  # from a worker: re-raised here as a DataError (message only)
        load(root, "train", train=False, batch_size=4, num_workers=workers)
    assert shard in str(err.value) and cid in str(err.value) and "checksum" in str(err.value)
    assert f"dataset {dataset_name!r}" in str(err.value)
    if workers == 0:
        assert (err.value.file, err.value.clip_id, err.value.split) == (str(root / shard), cid, "train")
        return
    with pytest.warns(RuntimeWarning, match=cid):
        batches = load(root, "train", train=False, batch_size=4, num_workers=0, on_error="skip")
    ids = [c for b in batches for c in b["clip_id"]]
    assert len(ids) == 22 and cid not in ids


@pytest.mark.parametrize("fault", ["missing", "size", "version", "unknown_split"])
def test_bad_manifest_or_shards_fail_before_iterating(scratch, fault: str) -> None:
    root, records = scratch
    shard = root / records["P02_101_020"]["shard"]
    expect = [str(shard)]
    if fault == "missing":
        shard.unlink()
        expect.append("missing")
    elif fault == "size":
        shard.write_bytes(shard.read_bytes() + b"\0")
        expect.append("shards.csv says")
    elif fault == "version":
        summary = json.loads((root / "manifest.json").read_text())
        newer = schema.MANIFEST_SCHEMA_VERSION + 1
        (root / "manifest.json").write_text(json.dumps(dict(summary, schema_version=newer)))
        expect = [str(root / "manifest.json"), "schema version mismatch"]
    else:
        expect = ["unknown split 'val'"]
    with pytest.raises(DataError) as err:
        SplitIndex.open(root, "val" if fault == "unknown_split" else "train")
    assert all(e in str(err.value) for e in expect), str(err.value)


def test_empty_split_and_too_small_split(tmp_path) -> None:
    make_dataset(tmp_path, dict(SIZES, validation=0))
    with pytest.raises(DataError, match="'validation' has no written clips"):
        SplitIndex.open(tmp_path, "validation")
    index = SplitIndex.open(tmp_path, "test")
    assert index.n == 4 and len(index.manifest_sha256) == 64
    with pytest.raises(DataError, match="fewer than one global batch"):
        ClipStream(index, DataConfig(batch_size=3), train=True, world_size=2)
    ClipStream(index, DataConfig(batch_size=3), train=False, world_size=2)  # evaluation: any size


def test_flip_keeps_video_and_head_motion_consistent(dataset) -> None:
    root, records = dataset
    # the claim: the spectrogram (log magnitude) of the sign-flipped raw imu is the stored spectrogram
    for rec in list(records.values())[:6]:
        flipped = rec["imu"].copy()
        flipped[:, list(FLIP_NEGATE)] *= -1
        np.testing.assert_array_equal(spectrogram(flipped), rec["spec"])
    kw = dict(train=True, batch_size=4, num_workers=0, spec_norm=False, epoch=2)
    plain, mirrored = load(root, "train", hflip=0.0, **kw), load(root, "train", hflip=1.0, **kw)
    for a, b in zip(plain, mirrored):
        assert torch.equal(a["index"], b["index"]) and not a["flipped"].any() and b["flipped"].all()
        assert torch.equal(b["video"], a["video"].flip(3))  # (B, T, H, W, 3): W reversed
        assert torch.equal(b["spec"], a["spec"])
        keep = [c for c in range(6) if c not in FLIP_NEGATE]
        assert torch.equal(b["imu"][..., list(FLIP_NEGATE)], -a["imu"][..., list(FLIP_NEGATE)])
        assert torch.equal(b["imu"][..., keep], a["imu"][..., keep])
        np.testing.assert_array_equal(spectrogram(b["imu"].numpy()), b["spec"].numpy())
    half = load(root, "train", hflip=0.5, **kw)
    decide = flip_decisions(0, 2, 23, 0.5)
    flips = torch.cat([b["flipped"] for b in half])
    assert torch.equal(flips, torch.from_numpy(decide[torch.cat([b["index"] for b in half]).numpy()]))
    assert 0 < int(flips.sum()) < len(flips)


def test_video_to_float() -> None:
    video = torch.randint(0, 256, (2, 4, 5, 6, 3), dtype=torch.uint8)
    x = video_to_float(video, "cpu")
    assert x.shape == (2, 3, 4, 5, 6) and x.dtype == torch.float32 and x.is_contiguous()
    expected = (video.permute(0, 4, 1, 2, 3).double() / 255 - 0.45) / 0.225
    assert float((x.double() - expected).abs().max()) < 1e-5
    with pytest.raises(ValueError, match="uint8"):
        video_to_float(video.float(), "cpu")


def test_imports_without_pipeline_or_jpeg_codec() -> None:
    code = ("import sys, egoimu.train.data, egoimu.train.augment; "
            "bad = [m for m in ('pipeline', 'dask', 'decord', 'simplejpeg', 'scipy') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
