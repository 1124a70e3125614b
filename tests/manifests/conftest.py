"""The audit tests' tools: private copies of the shared build to damage, the audit run in-process, and the edits
that plant a fault while re-recording what the older checks would see (tests cannot import conftest under
--import-mode=importlib, hence the ``kit`` fixture)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple

import pandas as pd
import pytest

from egoimu.manifests import audit
from egoimu.manifests.outputs import SHARD_TASKS_KEY, sidecar_rel_path
from egoimu.manifests.schema import read_table


@pytest.fixture
def out(built_epic, tmp_path) -> Path:
    """A private copy of the shared build, free to damage."""
    dst = tmp_path / "out"
    shutil.copytree(built_epic[1], dst)
    return dst


def _link_or_copy(src: str, dst: str) -> None:
    """Shards are hard links (no 200 MB copy): a test that edits one first makes it its own (``kit.own``)."""
    if src.endswith(".h5"):
        try:
            os.link(src, dst)
            return
        except OSError:  # another file system
            pass
    shutil.copy2(src, dst)


@pytest.fixture
def linked_out(built_epic, tmp_path) -> Path:
    """A private copy of the shared build whose shards are hard links to the shared ones: add files freely; call
    ``kit.own(path)`` before changing a shard in place."""
    dst = tmp_path / "out"
    shutil.copytree(built_epic[1], dst, copy_function=_link_or_copy)
    return dst


class AuditRun(NamedTuple):
    """``egoimu audit``'s exit status, its JSON report and its printed text."""

    rc: int
    data: dict[str, Any]
    text: str

    def findings(self, check: str) -> list[dict[str, str]]:
        return next(c["findings"] for c in self.data["checks"] if c["check"] == check)

    def found(self, check: str) -> list[tuple[str, str]]:
        """(file, detail) of each finding of ``check``."""
        return [(f["file"], f["detail"]) for f in self.findings(check)]


@pytest.fixture
def run_audit(tmp_path, capsys):
    """``run_audit(OUT, *flags)``: ``egoimu audit OUT [flags] --json FILE --quiet`` in-process, an :class:`AuditRun`."""

    def run(out: Path, *flags: str) -> AuditRun:
        report = tmp_path / f"audit-{len(list(tmp_path.glob('audit-*.json')))}.json"
        rc = audit.main([str(out), *flags, "--json", str(report), "--quiet"])
        return AuditRun(rc, json.loads(report.read_text()), capsys.readouterr().out)

    return run


def edit_csv(path: Path, rows, column: str, value: str) -> None:
    """Set ``column`` of the data rows selected by ``rows(df)`` (a mask or labels) to ``value``, keeping every
    other cell's text; ``rows=None`` appends a copy of data row ``value`` instead."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    if rows is None:
        df.loc[len(df)] = df.loc[int(value)]
    else:
        df.loc[rows(df), column] = value
    df.to_csv(path, index=False, lineterminator="\n")


def flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)[0]
        fh.seek(offset)
        fh.write(bytes([byte ^ 0x5A]))


def first_shard(out: Path, split: str = "train") -> str:
    shards = read_table(out / "shards.csv", "shards")
    return str(shards.shard[shards.split == split].iloc[0])


def size(path: Path) -> int:
    return path.stat().st_size


def own(path: Path) -> Path:
    """Replace a hard-linked file by a copy of its own (so that editing it leaves the shared build alone)."""
    tmp = path.with_name(path.name + ".own")
    shutil.copyfile(path, tmp)
    os.replace(tmp, path)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def edit_sidecar(out: Path, rel: str, **values: Any) -> None:
    """Set keys of shard ``rel``'s sidecar (JSON as the shard writer writes it: sorted keys, one line)."""
    side = out / sidecar_rel_path(rel)
    data = {**json.loads(side.read_text()), **values}
    side.write_text(json.dumps(data, sort_keys=True))


def rerecord(out: Path, rel: str, sidecar: bool = True) -> None:
    """After shard ``rel`` was changed: its sha256 and size in shards.csv and, with ``sidecar``, in its sidecar, whose
    new sha256 goes into manifest.json's record, so that only a check of the contents can see the change."""
    edit_csv(out / "shards.csv", lambda df: df.shard == rel, "sha256", sha256(out / rel))
    edit_csv(out / "shards.csv", lambda df: df.shard == rel, "bytes", str(size(out / rel)))
    if sidecar:
        edit_sidecar(out, rel, sha256=sha256(out / rel), bytes=size(out / rel))
        summary = json.loads((out / "manifest.json").read_text())
        summary[SHARD_TASKS_KEY][rel]["sidecar_sha256"] = sha256(out / sidecar_rel_path(rel))
        (out / "manifest.json").write_text(json.dumps(summary, sort_keys=True, indent=2, ensure_ascii=False) + "\n")


@pytest.fixture(scope="session")
def kit() -> SimpleNamespace:
    """The editing helpers of this module."""
    return SimpleNamespace(edit_csv=edit_csv, flip=flip, first_shard=first_shard, size=size, own=own, sha256=sha256,
                           edit_sidecar=edit_sidecar, rerecord=rerecord)
