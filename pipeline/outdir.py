"""What a build finds and leaves in OUT besides its outputs (pure file handling, no Dask).

- :func:`earlier_build`: OUT holds an earlier build when any file lies under ``OUT/shards`` (a finished,
  killed or running build); only ``--resume`` continues it. Manifests alone (an empty outcome writes no shard)
  are not an earlier build: a corrected build is re-run into OUT as it is.
- :func:`remove_temporaries`: egoimu's temporary files (:func:`egoimu.manifests.files.is_temp_name`) in OUT
  and under ``OUT/shards``, e.g. the half-written shard of a worker that was killed; run before the shard
  stage and after the manifests, so that no temporary file survives a finished build or a resume.
- :func:`tidy_shards`: before the shard stage, every ``*.h5`` / ``*.h5.json`` under ``OUT/shards`` is either
  this build's — its sidecar (``<shard>.h5.json``, a :class:`~egoimu.pipeline.shard_writer.ShardResult`)
  names that path and its byte size — and then kept when the plan contains it (reused or rewritten) and removed
  when not, or a file this build did not write, which is moved to ``OUT/orphaned/`` (same relative path) and
  never deleted. Every removal and move is reported.
- :func:`drop_shards`: an empty outcome removes the shards it wrote, so that OUT holds manifests only.
- :func:`remove_failed_attempt`: a successful build removes ``OUT/failed/``, the manifests an earlier ``--resume``
  that wrote nothing left beside the build it continued.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from egoimu.manifests.files import is_temp_name, remove_temp_files
from egoimu.manifests.outputs import FAILED_DIR, build_output
from egoimu.manifests.outputs import ORPHANED_DIR as ORPHANED
from egoimu.manifests.outputs import SHARDS_DIR as SHARDS
from egoimu.manifests.outputs import SIDECAR_SUFFIX as SIDECAR
from egoimu.pipeline.shard_writer import ShardResult, sidecar_path


def earlier_build(out: Path) -> bool:
    """Whether any file lies under ``out/shards`` (empty folders do not count)."""
    shards = out / SHARDS
    return shards.is_dir() and any(p.is_file() or p.is_symlink() for p in shards.rglob("*"))


def remove_failed_attempt(out: Path) -> list[str]:
    """Delete ``out/failed/``'s manifest files (an earlier ``--resume`` that wrote nothing left them) and the
    folder when that empties it; their paths relative to ``out``. Other files there are left alone."""
    folder = out / FAILED_DIR
    if not folder.is_dir():
        return []
    removed = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and build_output(path.relative_to(out).as_posix()) is not None:
            path.unlink()
            removed.append(path.relative_to(out).as_posix())
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when empty
    return removed


def remove_temporaries(out: Path) -> list[str]:
    """Delete egoimu's temporary files in ``out`` and under ``out/shards``; their paths relative to ``out``."""
    removed = remove_temp_files(out) + remove_temp_files(out / SHARDS, recursive=True)
    return [p.relative_to(out).as_posix() for p in removed]


def _sidecar_of(out: Path, rel: str) -> ShardResult | None:
    """The sidecar of shard ``rel`` (``out/<rel>.json``) if it parses as a shard result naming ``rel``, else None."""
    try:
        result = ShardResult.from_json(sidecar_path(out, rel).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    return result if result.rel_path == rel else None


def _written_by_this_build(out: Path, rel: str) -> bool:
    """Whether the shard file ``out/rel`` is this build's: its sidecar names it and its byte size."""
    result, path = _sidecar_of(out, rel), out / rel
    return result is not None and path.is_file() and not path.is_symlink() and path.stat().st_size == result.bytes


def _move_aside(out: Path, rel: str) -> str:
    """Move ``out/rel`` to ``out/orphaned/rel`` (a free name: ``.1``, ``.2``, ... appended); the new relative path."""
    target = out / ORPHANED / rel
    n = 0
    while target.exists() or target.is_symlink():
        n += 1
        target = out / ORPHANED / f"{rel}.{n}"
    target.parent.mkdir(parents=True, exist_ok=True)
    (out / rel).rename(target)
    return target.relative_to(out).as_posix()


def tidy_shards(out: Path, planned: set[str]) -> list[str]:
    """Make ``out/shards`` hold only this build's files before the shard stage; one message per action.

    ``planned``: the shard paths (relative to ``out``) of the current plan. A shard file that no sidecar of this
    build describes (planned or not: a planned one would be overwritten) and a ``.h5.json`` that is not such a
    sidecar are moved to ``out/orphaned/``; this build's shards outside the plan are removed with their
    sidecars, and so are its sidecars of unplanned shards whose file is gone. Other files are left alone (the
    audit lists them)."""
    shards = out / SHARDS
    if not shards.is_dir():
        return []
    messages = []
    for path in sorted(shards.rglob("*")):
        if not (path.is_file() or path.is_symlink()) or is_temp_name(path.name):
            continue  # gone already (a sidecar removed with its shard), a folder, or a temporary file
        rel = path.relative_to(out).as_posix()
        if rel.endswith(".h5"):
            if not _written_by_this_build(out, rel):
                messages.append(f"moved {rel} to {_move_aside(out, rel)}: no sidecar of this build describes it "
                                f"(nothing was deleted)")
            elif rel not in planned:
                path.unlink()
                sidecar_path(out, rel).unlink()
                messages.append(f"removed {rel} and its sidecar: a shard of this build that the plan no longer "
                                f"contains")
        elif rel.endswith(".h5" + SIDECAR):
            shard_rel = rel[:-len(SIDECAR)]
            if _sidecar_of(out, shard_rel) is None:
                messages.append(f"moved {rel} to {_move_aside(out, rel)}: not a sidecar of this build "
                                f"(nothing was deleted)")
            elif shard_rel not in planned and not (out / shard_rel).exists():
                path.unlink()
                messages.append(f"removed {rel}: the sidecar of a shard the plan no longer contains")
    return messages


def drop_shards(out: Path, results: list[ShardResult]) -> None:
    """Remove the shard files and sidecars of ``results`` (this build's), then empty folders under ``out/shards``."""
    for result in results:
        (out / result.rel_path).unlink(missing_ok=True)
        sidecar_path(out, result.rel_path).unlink(missing_ok=True)
    shards = out / SHARDS
    if shards.is_dir():
        for folder in sorted((p for p in shards.rglob("*") if p.is_dir()), reverse=True):
            if not any(folder.iterdir()):
                folder.rmdir()
        if not any(shards.iterdir()):
            shards.rmdir()
