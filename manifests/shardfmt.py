"""The HDF5 shard layout: the one place where the writer (pipeline) and the reader (train) agree.

A shard holds ``N`` clips; row ``r`` of every dataset belongs to clip ``r``. Every dataset is chunked
with **one chunk per clip** (``chunks = (1, *row_shape)``) and carries the **Fletcher32** checksum
filter, so every chunk is checksummed and a corrupt byte is reported for its dataset and row. Ids are
fixed-length byte strings because variable-length data cannot be checksummed.

======================  ====================  ========  ===============================================
dataset                 shape                 dtype     meaning
======================  ====================  ========  ===============================================
``video``               (N, 48, 256, 256, 3)  uint8     RGB frames at 24 fps; encodings ``raw``/``lossless``
``video_jpeg``          (N, L)                uint8     encoding ``jpeg``: a clip's 48 JPEG files end to
                                                        end, zero-padded; L = longest clip in the shard
``video_jpeg_offsets``  (N, 49)               int64     frame k = ``video_jpeg[r, off[k]:off[k+1]]``
``imu``                 (N, 396, 6)           float32   AcclX,AcclY,AcclZ (m/s²), GyroX,GyroY,GyroZ (rad/s)
                                                        at 198 Hz (2 s)
``spec``                (N, 6, 33, 50)        float32   ``log(|STFT| + 1e-6)`` per IMU channel: nfft 64,
                                                        hop 8, Hann, centre frames (reflect pad 32)
``verb_class``          (N,)                  int32     EPIC-100 verb class, -1 = unlabelled
``noun_class``          (N,)                  int32     EPIC-100 noun class, -1 = unlabelled
``clip_id``             (N,)                  S64       clips.csv ``clip_id`` (UTF-8, NUL-padded)
``narration_id``        (N,)                  S32       EPIC ``narration_id`` ('' for windows)
``participant_id``      (N,)                  S16       EPIC ``participant_id``
``video_id``            (N,)                  S32       EPIC ``video_id``
``start_s``, ``end_s``  (N,)                  float64   the clip window, seconds on the video timeline
======================  ====================  ========  ===============================================

Video encodings: ``raw`` (no compression), ``lossless`` (deflate/gzip level 1 — the filter every HDF5
build has; no shuffle, which is a no-op on 1-byte elements), ``jpeg`` (JPEG files made by the
pipeline; decoding them is the reader's business — this module needs no JPEG codec).

File attributes (``ATTRS``): schema_version, config_sha256, split, shard_index, video_encoding,
out_fps, n_frames, frame_size, imu_rate_hz, imu_channels, nfft, hop, spec_window, spec_padding,
spec_eps, egoimu_version — and never an absolute path.

Determinism: :func:`new_shard_file` fixes the HDF5 format bounds (``LIBVER``), datasets are created with
``track_times=False``, and the file has no raw-data chunk cache (``rdcc_nbytes=0``), so every chunk gets
its file space at the moment it is written. With HDF5's default 1 MiB chunk cache the small per-row chunks
(ids, times) were placed when the cache flushed them, i.e. when h5py happened to close a dataset handle,
which varied between runs: about one build in twenty placed one row's small chunks in another order
(identical contents, different bytes). Now the same content written in the same order (rows in increasing
order) gives a byte-identical file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

SCHEMA_VERSION: int = 1
#: HDF5 format bounds of every shard (v1 B-tree chunk indexes: readable by HDF5 1.8 and later).
LIBVER: tuple[str, str] = ("earliest", "v108")
ENCODINGS: tuple[str, ...] = ("raw", "lossless", "jpeg")
SPLITS: tuple[str, ...] = ("train", "validation", "test")  # the one list of split names (shards, manifests, CLI)
IMU_CHANNELS: tuple[str, ...] = ("AcclX", "AcclY", "AcclZ", "GyroX", "GyroY", "GyroZ")
#: Fixed widths (bytes, UTF-8) of the id datasets.
ID_WIDTHS: dict[str, int] = {"clip_id": 64, "narration_id": 32, "participant_id": 16, "video_id": 32}
LABELS: tuple[str, ...] = ("verb_class", "noun_class")
TIMES: tuple[str, ...] = ("start_s", "end_s")
LOSSLESS_GZIP_LEVEL: int = 1
#: Attributes the caller of :func:`create_shard` supplies; the rest come from the :class:`ShardLayout`.
CALLER_ATTRS: tuple[str, ...] = ("config_sha256", "split", "shard_index", "egoimu_version")
ATTRS: tuple[str, ...] = (
    "schema_version", "config_sha256", "split", "shard_index", "video_encoding", "out_fps", "n_frames",
    "frame_size", "imu_rate_hz", "imu_channels", "nfft", "hop", "spec_window", "spec_padding",
    "spec_eps", "egoimu_version",
)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ABSOLUTE = re.compile(r"^(/|\\|[A-Za-z]:[\\/])")


class ShardFormatError(ValueError):
    """A shard does not follow this layout, or a chunk failed its checksum.

    Attributes name where: ``path`` (the file), and when known ``dataset``, ``row`` and ``attribute``.
    """

    def __init__(self, path: str | Path, reason: str, *, dataset: str | None = None,
                 row: int | None = None, attribute: str | None = None) -> None:
        self.path, self.reason = str(path), reason
        self.dataset, self.row, self.attribute = dataset, row, attribute
        where = [f"attribute {attribute!r}"] if attribute is not None else []
        where += [f"dataset {dataset!r}"] if dataset is not None else []
        where += [f"row {row}"] if row is not None else []
        super().__init__(f"{self.path}: {', '.join(where) + ': ' if where else ''}{reason}")


@dataclass(frozen=True)
class ShardLayout:
    """Geometry and encoding of one shard; the paper's values are the defaults.

    ``jpeg_len`` (L, bytes) is the longest clip's JPEG payload in the shard; required (> 0) for the
    ``jpeg`` encoding and 0 otherwise.
    """

    encoding: str = "raw"  # ours: raw | lossless | jpeg
    frames: int = 48  # paper: 2 s at 24 fps
    size: int = 256  # paper: 256 x 256 frames
    out_fps: int = 24  # paper
    imu_len: int = 396  # paper: 2 s at 198 Hz
    imu_rate_hz: int = 198  # paper
    nfft: int = 64  # paper
    hop: int = 8  # ours
    spec_window: str = "hann"  # ours
    spec_padding: str = "reflect"  # ours: centre frames, nfft/2 reflected samples at both edges
    spec_eps: float = 1e-6  # ours: log(|X| + eps)
    jpeg_len: int = 0  # ours: L for the jpeg encoding

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ValueError(f"unknown video encoding {self.encoding!r}; choose from {ENCODINGS}")
        for name in ("frames", "size", "out_fps", "imu_len", "imu_rate_hz", "nfft", "hop"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"ShardLayout.{name} must be positive, got {getattr(self, name)!r}")
        if not self.spec_eps > 0:
            raise ValueError(f"ShardLayout.spec_eps must be positive, got {self.spec_eps!r}")
        if (self.encoding == "jpeg") != (self.jpeg_len > 0):
            raise ValueError("ShardLayout.jpeg_len must be > 0 for the jpeg encoding and 0 otherwise, "
                             f"got {self.jpeg_len} with encoding {self.encoding!r}")

    @property
    def spec_bins(self) -> int:
        """Frequency bins of the spectrogram: nfft // 2 + 1 (33)."""
        return self.nfft // 2 + 1

    @property
    def spec_frames(self) -> int:
        """Time frames of the centred STFT: 1 + imu_len // hop (50)."""
        return 1 + self.imu_len // self.hop

    @property
    def video_datasets(self) -> tuple[str, ...]:
        return ("video_jpeg", "video_jpeg_offsets") if self.encoding == "jpeg" else ("video",)

    def row_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of one row (one clip) of every dataset, in creation order."""
        shapes: dict[str, tuple[int, ...]]
        if self.encoding == "jpeg":
            shapes = {"video_jpeg": (self.jpeg_len,), "video_jpeg_offsets": (self.frames + 1,)}
        else:
            shapes = {"video": (self.frames, self.size, self.size, 3)}
        shapes["imu"] = (self.imu_len, len(IMU_CHANNELS))
        shapes["spec"] = (len(IMU_CHANNELS), self.spec_bins, self.spec_frames)
        shapes.update({name: () for name in (*LABELS, *ID_WIDTHS, *TIMES)})
        return shapes

    def dtypes(self) -> dict[str, np.dtype]:
        """Dtype of every dataset."""
        out = {"video": np.dtype(np.uint8), "video_jpeg": np.dtype(np.uint8),
               "video_jpeg_offsets": np.dtype(np.int64), "imu": np.dtype(np.float32),
               "spec": np.dtype(np.float32)}
        out.update({name: np.dtype(np.int32) for name in LABELS})
        out.update({name: np.dtype(f"S{width}") for name, width in ID_WIDTHS.items()})
        out.update({name: np.dtype(np.float64) for name in TIMES})
        return {name: out[name] for name in self.row_shapes()}

    def shapes(self, n: int) -> dict[str, tuple[int, ...]]:
        """Full shape of every dataset for a shard of ``n`` clips."""
        return {name: (n, *shape) for name, shape in self.row_shapes().items()}

    def layout_attrs(self) -> dict[str, Any]:
        """The file attributes that follow from the layout (all but :data:`CALLER_ATTRS`)."""
        return {
            "schema_version": np.int64(SCHEMA_VERSION), "video_encoding": self.encoding,
            "out_fps": np.int64(self.out_fps), "n_frames": np.int64(self.frames),
            "frame_size": np.array([self.size, self.size], dtype=np.int64),
            "imu_rate_hz": np.int64(self.imu_rate_hz), "imu_channels": list(IMU_CHANNELS),
            "nfft": np.int64(self.nfft), "hop": np.int64(self.hop), "spec_window": self.spec_window,
            "spec_padding": self.spec_padding, "spec_eps": np.float64(self.spec_eps),
        }


def new_shard_file(path: str | Path) -> h5py.File:
    """Open ``path`` for writing a new shard (truncating it): format bounds ``LIBVER``, no chunk cache (every
    chunk is placed in the file when it is written, in write order: deterministic bytes)."""
    return h5py.File(path, "w", libver=LIBVER, track_order=False, rdcc_nbytes=0)


def jpeg_payload(frames: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate encoded frames: returns (data uint8 (sum of lengths,), offsets int64 (len+1,))."""
    lengths = [len(f) for f in frames]
    offsets = np.zeros(len(frames) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = np.frombuffer(b"".join(bytes(f) for f in frames), dtype=np.uint8)
    return data, offsets


def split_jpeg_frames(data: np.ndarray, offsets: np.ndarray) -> list[bytes]:
    """Inverse of :func:`jpeg_payload`: the encoded frames as ``bytes`` (no decoding)."""
    return [data[offsets[k]:offsets[k + 1]].tobytes() for k in range(len(offsets) - 1)]


def create_shard(h5file: h5py.File, layout: ShardLayout, n: int, attrs: Mapping[str, Any]) -> None:
    """Create every dataset of a shard of ``n`` clips (empty) and write the file attributes.

    Args:
        h5file: a file from :func:`new_shard_file` (its format bounds must be ``LIBVER``).
        layout: geometry and video encoding.
        n: number of clips, >= 1.
        attrs: exactly :data:`CALLER_ATTRS` — ``config_sha256`` (64 hex), ``split`` (train |
            validation | test), ``shard_index`` (int >= 0), ``egoimu_version`` (str).
    """
    where = h5file.filename
    if tuple(h5file.libver) != LIBVER:
        raise ShardFormatError(where, f"open the file with new_shard_file() (libver {LIBVER}), "
                                      f"not {tuple(h5file.libver)}")
    if int(n) < 1:
        raise ValueError(f"a shard holds at least one clip, got n={n}")
    if set(attrs) != set(CALLER_ATTRS):
        raise ValueError(f"create_shard attrs must be exactly {CALLER_ATTRS}; missing "
                         f"{sorted(set(CALLER_ATTRS) - set(attrs))}, unknown {sorted(set(attrs) - set(CALLER_ATTRS))}")
    all_attrs = {**layout.layout_attrs(), "config_sha256": str(attrs["config_sha256"]),
                 "split": str(attrs["split"]), "shard_index": np.int64(attrs["shard_index"]),
                 "egoimu_version": str(attrs["egoimu_version"])}
    for name in ATTRS:
        _check_attr(where, name, all_attrs[name])
        h5file.attrs[name] = all_attrs[name]
    dtypes = layout.dtypes()
    for name, shape in layout.shapes(int(n)).items():
        kwargs: dict[str, Any] = {}
        if name == "video" and layout.encoding == "lossless":
            kwargs = {"compression": "gzip", "compression_opts": LOSSLESS_GZIP_LEVEL}
        h5file.create_dataset(name, shape=shape, dtype=dtypes[name], chunks=(1, *shape[1:]),
                              fletcher32=True, track_times=False, **kwargs)


def write_clip(h5file: h5py.File, row: int, record: Mapping[str, Any],
               layout: ShardLayout | None = None) -> None:
    """Write clip ``row`` of a shard made by :func:`create_shard`.

    ``record`` keys: ``video`` uint8 (48, 256, 256, 3) RGB — or, for the jpeg encoding,
    ``video_jpeg_frames``: 48 JPEG files as ``bytes``; ``imu`` (396, 6) and ``spec`` (6, 33, 50) finite
    floats (stored as float32); ``verb_class``, ``noun_class`` ints (-1 = unlabelled); ``clip_id``,
    ``narration_id``, ``participant_id``, ``video_id`` str; ``start_s``, ``end_s`` float seconds.
    ``layout`` (from :func:`validate_shard_attrs`) skips re-reading the attributes on every row.
    """
    where = h5file.filename
    layout = layout or validate_shard_attrs(h5file, where)
    video_keys = ("video_jpeg_frames",) if layout.encoding == "jpeg" else ("video",)
    missing = [k for k in (*video_keys, "imu", "spec", *LABELS, *ID_WIDTHS, *TIMES) if k not in record]
    if missing:
        raise ValueError(f"{where}: row {row}: record lacks {missing} (video encoding {layout.encoding!r})")
    n = h5file["imu"].shape[0]
    if not 0 <= row < n:
        raise IndexError(f"{where}: row {row} outside 0..{n - 1}")
    shapes, dtypes = layout.row_shapes(), layout.dtypes()
    values: dict[str, Any] = {}
    if layout.encoding == "jpeg":
        frames = record["video_jpeg_frames"]
        if len(frames) != layout.frames:
            raise ValueError(f"{where}: row {row}: {len(frames)} JPEG frames, expected {layout.frames}")
        data, offsets = jpeg_payload(frames)
        if data.size > layout.jpeg_len:
            raise ValueError(f"{where}: row {row}: JPEG payload {data.size} B exceeds L={layout.jpeg_len}")
        padded = np.zeros(layout.jpeg_len, dtype=np.uint8)
        padded[:data.size] = data
        values.update(video_jpeg=padded, video_jpeg_offsets=offsets)
    else:
        video = np.asarray(record["video"])
        if video.dtype != np.uint8 or video.shape != shapes["video"]:
            raise ValueError(f"{where}: row {row}: video must be uint8 {shapes['video']}, "
                             f"got {video.dtype} {video.shape}")
        values["video"] = video
    for name in ("imu", "spec"):
        arr = np.asarray(record[name])
        if arr.shape != shapes[name] or arr.dtype.kind != "f" or not np.isfinite(arr).all():
            raise ValueError(f"{where}: row {row}: {name} must be finite floats {shapes[name]}, "
                             f"got {arr.dtype} {arr.shape}")
        values[name] = arr.astype(np.float32)
    for name in LABELS:
        label = int(record[name])
        if label < -1:
            raise ValueError(f"{where}: row {row}: {name} {label} < -1")
        values[name] = np.int32(label)
    for name, width in ID_WIDTHS.items():
        values[name] = encode_id(str(record[name]), width, name)
    for name in TIMES:
        values[name] = np.float64(record[name])
    if not values["start_s"] < values["end_s"]:
        raise ValueError(f"{where}: row {row}: start_s {values['start_s']} >= end_s {values['end_s']}")
    for name in shapes:
        h5file[name][row] = np.asarray(values[name], dtype=dtypes[name])


def encode_id(value: str, width: int, name: str = "id") -> bytes:
    """UTF-8 bytes of an id that must fit a fixed-length field of ``width`` bytes (no NUL)."""
    raw = value.encode("utf-8")
    if len(raw) > width or b"\0" in raw:
        raise ValueError(f"{name} {value!r} does not fit the {width}-byte field (UTF-8, no NUL)")
    return raw


def read_clip(h5file: h5py.File, row: int, layout: ShardLayout | None = None) -> dict[str, Any]:
    """Read clip ``row``; a failed checksum or read raises :class:`ShardFormatError` (path, dataset, row).

    Returns ``video`` (uint8 (48, 256, 256, 3)) or, for jpeg, ``video_jpeg`` (uint8, the clip's
    ``off[-1]`` bytes, padding dropped) and ``video_jpeg_offsets`` (int64 (49,)); ``imu`` float32
    (396, 6); ``spec`` float32 (6, 33, 50); labels as int; ids as str; ``start_s``/``end_s`` float.
    ``layout`` (from :func:`validate_shard_attrs`) skips re-reading the attributes on every row.
    """
    where = h5file.filename
    layout = layout or validate_shard_attrs(h5file, where)
    out: dict[str, Any] = {}
    for name in layout.row_shapes():
        dset = h5file[name]
        if not 0 <= row < dset.shape[0]:
            raise IndexError(f"{where}: row {row} outside 0..{dset.shape[0] - 1}")
        try:
            value = dset[row]
        except OSError as exc:  # Fletcher32 mismatch: "Can't ... read data (filter returned failure ...)"
            raise ShardFormatError(where, f"cannot read the chunk (checksum mismatch or I/O error: {exc})",
                                   dataset=name, row=row) from exc
        if name in ID_WIDTHS:
            value = bytes(value).decode("utf-8")
        elif name in LABELS:
            value = int(value)
        elif name in TIMES:
            value = float(value)
        out[name] = value
    if layout.encoding == "jpeg":
        offsets = out["video_jpeg_offsets"]
        if offsets[0] != 0 or np.any(np.diff(offsets) < 0) or offsets[-1] > layout.jpeg_len:
            raise ShardFormatError(where, "offsets not increasing within L", dataset="video_jpeg_offsets",
                                   row=row)
        out["video_jpeg"] = out["video_jpeg"][: offsets[-1]]
    return out


def _check_attr(path: str | Path, name: str, value: Any) -> None:
    """Value checks of one attribute (types, ranges, no absolute paths)."""
    def bad(reason: str) -> ShardFormatError:
        return ShardFormatError(path, f"{reason}, got {value!r}", attribute=name)

    if isinstance(value, (str, bytes)) and _ABSOLUTE.match(value if isinstance(value, str) else value.decode()):
        raise bad("absolute paths must not be stored in a shard")
    if name == "schema_version" and int(value) != SCHEMA_VERSION:
        raise bad(f"schema version mismatch: this egoimu reads shard schema {SCHEMA_VERSION}")
    if name == "config_sha256" and not (isinstance(value, str) and _SHA256.match(value)):
        raise bad("expected 64 lowercase hex digits")
    if name == "split" and value not in SPLITS:
        raise bad(f"expected one of {SPLITS}")
    if name == "video_encoding" and value not in ENCODINGS:
        raise bad(f"expected one of {ENCODINGS}")
    if name == "shard_index" and int(value) < 0:
        raise bad("expected an integer >= 0")
    if name == "imu_channels" and [str(c) for c in value] != list(IMU_CHANNELS):
        raise bad(f"expected {list(IMU_CHANNELS)}")
    if name == "egoimu_version" and not (isinstance(value, str) and value):
        raise bad("expected a non-empty string")


def validate_shard_attrs(h5file: h5py.File, path: str | Path) -> ShardLayout:
    """Check the file attributes (presence, schema version, values) and return the shard's layout.

    Raises :class:`ShardFormatError` naming ``path`` and the attribute. For jpeg shards the layout's
    ``jpeg_len`` comes from the ``video_jpeg`` dataset.
    """
    attrs = h5file.attrs
    for name in ATTRS:
        if name not in attrs:
            raise ShardFormatError(path, "missing attribute (not an egoimu shard, or an older one)",
                                   attribute=name)
        value = attrs[name]
        _check_attr(path, name, value.decode() if isinstance(value, bytes) else value)
    extra = sorted(set(attrs) - set(ATTRS))
    if extra:
        raise ShardFormatError(path, f"unknown attribute(s) {extra}", attribute=extra[0])
    frame_size = [int(x) for x in np.ravel(attrs["frame_size"])]
    if len(frame_size) != 2 or frame_size[0] != frame_size[1]:
        raise ShardFormatError(path, f"expected [size, size], got {frame_size}", attribute="frame_size")
    encoding = str(attrs["video_encoding"])
    jpeg_len = int(h5file["video_jpeg"].shape[1]) if encoding == "jpeg" and "video_jpeg" in h5file else 0
    try:
        return ShardLayout(encoding=encoding, frames=int(attrs["n_frames"]), size=frame_size[0],
                           out_fps=int(attrs["out_fps"]), imu_len=_imu_len(h5file),
                           imu_rate_hz=int(attrs["imu_rate_hz"]), nfft=int(attrs["nfft"]),
                           hop=int(attrs["hop"]), spec_window=str(attrs["spec_window"]),
                           spec_padding=str(attrs["spec_padding"]), spec_eps=float(attrs["spec_eps"]),
                           jpeg_len=jpeg_len if encoding == "jpeg" else 0)
    except ValueError as exc:
        raise ShardFormatError(path, str(exc)) from exc


def _imu_len(h5file: h5py.File) -> int:
    return int(h5file["imu"].shape[1]) if "imu" in h5file and h5file["imu"].ndim == 3 else 1


def validate_shard(h5file: h5py.File, path: str | Path) -> tuple[ShardLayout, int]:
    """Attributes plus datasets: names, shapes, dtypes, one chunk per clip, Fletcher32 everywhere.

    Returns ``(layout, n_clips)``; raises :class:`ShardFormatError` naming the file and dataset.
    """
    layout = validate_shard_attrs(h5file, path)
    if "imu" not in h5file:
        raise ShardFormatError(path, "missing dataset", dataset="imu")
    n = int(h5file["imu"].shape[0])
    expected_shapes, dtypes = layout.shapes(n), layout.dtypes()
    names = set(h5file.keys())
    extra = sorted(names - set(expected_shapes))
    if extra:
        raise ShardFormatError(path, "unexpected dataset", dataset=extra[0])
    for name, shape in expected_shapes.items():
        if name not in names:
            raise ShardFormatError(path, "missing dataset", dataset=name)
        dset = h5file[name]
        if dset.shape != shape or dset.dtype != dtypes[name]:
            raise ShardFormatError(path, f"expected {dtypes[name]} {shape}, got {dset.dtype} {dset.shape}",
                                   dataset=name)
        if dset.chunks != (1, *shape[1:]) or not dset.fletcher32:
            raise ShardFormatError(path, f"expected chunks {(1, *shape[1:])} with Fletcher32, got chunks "
                                         f"{dset.chunks}, fletcher32={dset.fletcher32}", dataset=name)
    return layout, n
