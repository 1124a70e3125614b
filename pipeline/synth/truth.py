"""Ground truth written beside a synthetic EPIC dataset: ``OUT/synth_truth/`` (outside EPIC's layout).

Contents and every key of the truth files (shape, dtype, unit): see the docstring of
:mod:`egoimu.pipeline.synth.epic`.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np

FRAME_KEYS = ("frame_t_s", "yaw_pitch_roll", "position", "omega_frames", "view_affine",
              "segment_start_s", "segment_stop_s", "segment_verb_class")
IMU_KEYS = ("accl_t_true_s", "accl_ms", "accl_true", "accl_payload_counts", "gyro_t_true_s", "gyro_ms",
            "gyro_true", "gyro_payload_counts", "clock_scale", "offset_s", "preroll_s", "rate_hz")


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez`` but byte-reproducible (fixed zip timestamps, keys in the given order)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for key, val in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(val), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def canonical_json(obj) -> str:
    """Deterministic JSON text (sorted keys, 1-space indent, final newline)."""
    return json.dumps(obj, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
