"""resolve_inside / source_path / to_relative: relative paths stay inside their root; links out of it are refused
for build outputs and followed for a dataset's source files."""

from __future__ import annotations

from pathlib import Path

import pytest

from egoimu.manifests.paths import PathEscapeError, link_target, resolve_inside, source_path, to_relative


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    (tmp_path / "root" / "shards" / "train").mkdir(parents=True)
    (tmp_path / "root" / "shards" / "train" / "shard-00000.h5").write_bytes(b"x")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.h5").write_bytes(b"y")
    return tmp_path / "root"


def test_resolves_inside(root: Path) -> None:
    got = resolve_inside(root, "shards/train/shard-00000.h5")
    assert got == (root / "shards" / "train" / "shard-00000.h5").resolve() and got.is_file()
    assert resolve_inside(root, "shards/train/not-yet.h5").parent == (root / "shards" / "train").resolve()
    assert resolve_inside(root, "./shards") == (root / "shards").resolve()


@pytest.mark.parametrize("rel, reason", [
    ("/etc/passwd", "absolute"), ("C:/data/x.h5", "absolute"), ("..", "'..'"), ("../outside/secret.h5", "'..'"),
    ("shards/../../outside/secret.h5", "'..'"), ("shards/../shards/x.h5", "'..'"), ("shards\\x.h5", "backslash"),
    ("", "empty"), (".", "empty"),
])
def test_refuses_malformed_paths(root: Path, rel: str, reason: str) -> None:
    for resolve in (resolve_inside, source_path, link_target):  # a source path from a manifest is confined too
        with pytest.raises(PathEscapeError, match=reason) as err:
            resolve(root, rel)
        assert str(root) in str(err.value) and err.value.rel == rel


def test_refuses_symlink_out_of_root(root: Path) -> None:
    (root / "shards" / "link.h5").symlink_to(root.parent / "outside" / "secret.h5")
    (root / "elsewhere").symlink_to(root.parent / "outside", target_is_directory=True)
    for rel in ("shards/link.h5", "elsewhere/secret.h5", "elsewhere"):
        with pytest.raises(PathEscapeError, match="outside the root"):
            resolve_inside(root, rel)


def test_source_paths_follow_links_out_of_the_root(root: Path) -> None:
    """A dataset's source file may be a link (or lie in a linked folder) to another disk: followed, the path
    kept as the link's own (lexically inside the root), the target known for the log."""
    secret = (root.parent / "outside" / "secret.h5").resolve()
    (root / "shards" / "link.h5").symlink_to(secret)
    (root / "elsewhere").symlink_to(root.parent / "outside", target_is_directory=True)
    for rel in ("shards/link.h5", "elsewhere/secret.h5"):
        path = source_path(root, rel)
        assert path == root / rel and path.read_bytes() == b"y" and link_target(root, rel) == secret
    assert source_path(root, "shards/train/shard-00000.h5") == root / "shards" / "train" / "shard-00000.h5"
    assert link_target(root, "shards/train/shard-00000.h5") is None
    assert link_target(root, "shards/train/not-yet.h5") is None


def test_links_inside_and_a_linked_root_are_fine(root: Path) -> None:
    (root / "alias").symlink_to(root / "shards", target_is_directory=True)
    target = (root / "shards" / "train" / "shard-00000.h5").resolve()
    assert resolve_inside(root, "alias/train/shard-00000.h5") == target
    linked_root = root.parent / "root-link"
    linked_root.symlink_to(root, target_is_directory=True)
    assert resolve_inside(linked_root, "shards/train/shard-00000.h5") == target
    assert link_target(linked_root, "shards/train/shard-00000.h5") is None  # the root itself may be a link


def test_to_relative(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert to_relative(root, root / "shards" / "train" / "shard-00000.h5") == "shards/train/shard-00000.h5"
    monkeypatch.chdir(root)
    assert to_relative(Path("."), Path("shards/train")) == "shards/train"
    with pytest.raises(PathEscapeError, match="outside"):
        to_relative(root, root.parent / "outside" / "secret.h5")
    (root / "out-link").symlink_to(root.parent / "outside", target_is_directory=True)
    with pytest.raises(PathEscapeError, match="outside the root"):
        to_relative(root, root / "out-link" / "secret.h5")
