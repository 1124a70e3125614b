"""Paths inside a dataset or output root: the only place manifest paths become filesystem paths.

Manifests store paths (shards, videos, IMU files) as POSIX-style strings relative to a root, so a
dataset can move. Every such path must be lexically inside its root: no absolute paths, drive letters,
backslashes or ``..`` components (even ones that would come back inside: a manifest never needs them).
:func:`resolve_inside` (build outputs: shards) also refuses symbolic links whose target lies outside the
root; :func:`source_path` (a dataset's source files: videos, IMU CSVs) follows them wherever they lead, since
real datasets are often trees of links to other disks, and :func:`link_target` says where one leads (for the
log; manifests record the link's own path). :func:`to_relative` is the inverse, for writers.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath


class PathEscapeError(ValueError):
    """A relative manifest path is malformed or would resolve outside its root."""

    def __init__(self, root: str | Path, rel: str, reason: str) -> None:
        self.root, self.rel, self.reason = str(root), rel, reason
        super().__init__(f"path {rel!r} (relative to {self.root}): {reason}")


def check_relative(rel: str) -> None:
    """Raise :class:`PathEscapeError` unless ``rel`` is a clean POSIX relative path (no filesystem access)."""
    if not isinstance(rel, str):
        raise PathEscapeError("<root>", repr(rel), "expected a string")
    if rel in ("", ".") or "\0" in rel:
        raise PathEscapeError("<root>", rel, "empty or invalid path")
    if "\\" in rel:
        raise PathEscapeError("<root>", rel, "backslashes are not allowed; use '/' separators")
    if PurePosixPath(rel).is_absolute() or PureWindowsPath(rel).drive:
        raise PathEscapeError("<root>", rel, "absolute paths are not allowed; store paths relative to the root")
    if ".." in PurePosixPath(rel).parts:
        raise PathEscapeError("<root>", rel, "'..' components are not allowed")


def _check_under(root: str | Path, rel: str) -> None:
    """:func:`check_relative`, the error naming ``root``."""
    try:
        check_relative(rel)
    except PathEscapeError as exc:
        raise PathEscapeError(root, exc.rel, exc.reason) from None


def source_path(root: Path, rel: str) -> Path:
    """``root/rel`` for a source file of a dataset root (a video, an IMU CSV): links are followed, wherever
    they lead, when the file is opened; the path itself stays lexically inside ``root``.

    ``rel`` must be a clean relative path (:func:`check_relative`: no ``..``, not absolute), as for
    :func:`resolve_inside`; unlike it, a symbolic link out of the root (the file, or a folder on the way) is
    allowed. Returns the unresolved path; manifests record ``rel`` and the content's sha256, never the
    target, so they are the same whether the dataset holds the files or links to them.

    Raises:
        PathEscapeError: naming the root, the path and the reason.
    """
    _check_under(root, rel)
    return Path(root) / rel


def link_target(root: Path, rel: str) -> Path | None:
    """Where ``root/rel`` really lies when a symbolic link below ``root`` (the file or a folder on the way)
    leads elsewhere, else None; :class:`PathEscapeError` as :func:`source_path`."""
    real = source_path(root, rel).resolve()
    return real if real != Path(os.path.normpath(Path(root).resolve() / rel)) else None


def resolve_inside(root: Path, rel: str) -> Path:
    """The real path of ``root/rel``; refuses a path that is absolute, uses ``..`` or escapes by a link.

    Args:
        root: the dataset or output root (may itself be a symlink; it is resolved first).
        rel: a POSIX relative path as stored in a manifest (``shards/train/shard-00000.h5``).

    Returns:
        The fully resolved path (symlinks followed); it need not exist yet.

    Raises:
        PathEscapeError: naming the root, the path and the reason.
    """
    _check_under(root, rel)
    real_root = Path(root).resolve()
    real = (real_root / rel).resolve()
    if real != real_root and real_root not in real.parents:
        raise PathEscapeError(root, rel, f"resolves to {real}, outside the root (a symbolic link leads out)")
    return real


def to_relative(root: Path, path: Path) -> str:
    """The POSIX path of ``path`` relative to ``root``, for storing in a manifest.

    Compared lexically first (so a link inside the root keeps its own name), then checked with
    :func:`resolve_inside`. Raises :class:`PathEscapeError` when ``path`` does not lie inside ``root``.
    """
    target = os.path.abspath(path)
    for base in (os.path.abspath(root), str(Path(root).resolve())):
        try:
            rel = os.path.relpath(target, base)
        except ValueError:  # another drive (Windows)
            continue
        if rel != ".." and not rel.startswith(".." + os.sep):
            rel = Path(rel).as_posix()
            resolve_inside(root, rel)
            return rel
    raise PathEscapeError(root, str(path), "lies outside the root")
