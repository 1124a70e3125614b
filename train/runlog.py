"""What rank 0 of a training run records: RUN/config.json, RUN/metrics.jsonl, TensorBoard (RUN/tb), and the
throughput and memory figures of each logged window.

:class:`RunLog` is opened once per run (a context manager: the files close on every exit, error or not). On
``--resume`` it cuts metrics.jsonl back to the checkpoint's step and purges later TensorBoard events, so a
resumed run's records read as those of an uninterrupted one. Other ranks open a disabled log that writes
nothing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

from egoimu.manifests.files import atomic_write_text


def memory_mb() -> dict[str, float]:
    """Resident memory of this process (``rss_mb``) and of it with its children, the DataLoader workers
    (``rss_total_mb``), in MiB."""
    me = psutil.Process()
    own = me.memory_info().rss
    kids = 0
    for child in me.children(recursive=True):
        try:
            kids += child.memory_info().rss
        except psutil.Error:
            pass
    return {"rss_mb": own / 2**20, "rss_total_mb": (own + kids) / 2**20}


class RunLog:
    """Rank 0's run records; ``enabled=False`` (other ranks) makes every method a no-op.

    ``run``: the run directory (created); ``step``: the step training starts from (records of later steps
    are dropped from metrics.jsonl and TensorBoard); ``config_text``: RUN/config.json's text, written
    atomically."""

    def __init__(self, run: Path, step: int, config_text: str, *, enabled: bool = True):
        self.enabled = enabled
        self._metrics: Any = None
        self._writer: Any = None
        if not enabled:
            return
        run.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run / "config.json", config_text)
        path = run / "metrics.jsonl"
        if path.exists():
            kept = [line for line in path.read_text(encoding="utf-8").splitlines()
                    if line.strip() and json.loads(line).get("step", 0) <= step]
            atomic_write_text(path, "".join(k + "\n" for k in kept))
        self._metrics = open(path, "a", encoding="utf-8")
        from torch.utils.tensorboard import SummaryWriter  # slow import (tensorboard), rank 0 only

        self._writer = SummaryWriter(str(run / "tb"), purge_step=step + 1 if step else None)

    def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` (with "step") to metrics.jsonl and its numbers to TensorBoard (``val_*`` under
        val/, the rest under train/)."""
        if not self.enabled:
            return
        try:
            self._metrics.write(json.dumps(record) + "\n")
            self._metrics.flush()
        except OSError as exc:  # e.g. a full disk: name the file
            raise OSError(exc.errno, exc.strerror, self._metrics.name) from None
        for key, value in record.items():
            if key not in ("step", "epoch") and isinstance(value, (int, float)):
                self._writer.add_scalar(f"{'val' if key.startswith('val_') else 'train'}/{key}", value,
                                        record["step"])

    def close(self) -> None:
        if self._metrics is not None:
            self._metrics.close()
            self._writer.close()
            self._metrics = self._writer = None

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class Throughput:
    """Clips per second and the share of time spent waiting for data, over the window since the last
    :meth:`reset` (validation is excluded by resetting after it)."""

    def __init__(self, clips_per_step: int):
        self.clips_per_step = clips_per_step
        self.reset()

    def reset(self) -> None:
        self.start, self.wait, self.steps = time.perf_counter(), 0.0, 0

    def next_batch(self, batches: Any) -> Any:
        """``next(batches, None)``, its wait counted."""
        t0 = time.perf_counter()
        batch = next(batches, None)
        self.wait += time.perf_counter() - t0
        return batch

    def figures(self) -> dict[str, float]:
        """{"clips_per_s", "data_wait" (0-1)} of the window, then a new window starts."""
        elapsed = time.perf_counter() - self.start
        out = {"clips_per_s": self.steps * self.clips_per_step / elapsed, "data_wait": self.wait / elapsed}
        self.reset()
        return out
