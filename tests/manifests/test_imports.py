"""manifests imports neither pipeline nor train, nor torch, dask, decord or a JPEG codec."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = ("pipeline", "train", "torch", "dask", "distributed", "decord", "simplejpeg", "PIL", "cv2", "scipy")


def test_manifests_imports_only_the_ground_floor() -> None:
    code = ("import json, sys; import egoimu.manifests.schema, egoimu.manifests.shardfmt, egoimu.manifests.paths, "
            "egoimu.manifests.split_plan; print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert not loaded & set(FORBIDDEN), loaded & set(FORBIDDEN)

