"""The source bundle is byte-identical for an unchanged tree and ignores bytecode."""

from __future__ import annotations

import tarfile
from pathlib import Path

from recstack.bundle import write_bundle


def _tree(root: Path) -> None:
    root.mkdir()
    for name in ("pyproject.toml", "constraints.txt", "README.md"):
        (root / name).write_text(name)
    for package in ("recstack", "pipelines"):
        (root / package / "__pycache__").mkdir(parents=True)
        (root / package / "__init__.py").write_text(f"# {package}\n")
        (root / package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")


def test_unchanged_tree_gives_identical_bundle(tmp_path: Path) -> None:
    _tree(tmp_path / "src")
    out = tmp_path / "bundle.tar"
    assert write_bundle(tmp_path / "src", out) is True
    first = out.read_bytes()
    # Touching files (new mtimes) must not change the bundle.
    (tmp_path / "src" / "recstack" / "__init__.py").write_text("# recstack\n")
    assert write_bundle(tmp_path / "src", out) is False
    assert out.read_bytes() == first


def test_a_changed_file_changes_the_bundle(tmp_path: Path) -> None:
    _tree(tmp_path / "src")
    out = tmp_path / "bundle.tar"
    write_bundle(tmp_path / "src", out)
    (tmp_path / "src" / "pipelines" / "__init__.py").write_text("# changed\n")
    assert write_bundle(tmp_path / "src", out) is True


def test_bytecode_is_not_shipped(tmp_path: Path) -> None:
    _tree(tmp_path / "src")
    out = tmp_path / "bundle.tar"
    write_bundle(tmp_path / "src", out)
    with tarfile.open(out) as tar:
        names = tar.getnames()
    assert "pipelines/__init__.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
