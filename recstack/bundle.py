"""A deterministic tarball of the project's installable source, shipped to hosts.

Hosts that run the pipelines install the project from this bundle. Its bytes depend only
on the source files (sorted names, zeroed times and owners, no bytecode), so an unchanged
tree gives an identical bundle and Ansible's copy reports nothing changed.

Usage: python -m recstack.bundle <project root> <output .tar>
Prints {"changed": bool, "path": ...} as JSON.
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path

TOP_LEVEL_FILES = ("pyproject.toml", "constraints.txt", "README.md")
PACKAGES = ("recstack", "recstack_contract", "recstack_config", "pipelines")


def bundle_bytes(root: Path) -> bytes:
    paths = [root / name for name in TOP_LEVEL_FILES]
    for package in PACKAGES:
        paths += [
            p
            for p in (root / package).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        ]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(paths):
            data = path.read_bytes()
            info = tarfile.TarInfo(str(path.relative_to(root)))
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_bundle(root: Path, out: Path) -> bool:
    """Write the bundle to `out`; False when `out` already holds exactly these bytes."""
    data = bundle_bytes(root)
    if out.exists() and out.read_bytes() == data:
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(out)
    return True


if __name__ == "__main__":
    root, out = Path(sys.argv[1]), Path(sys.argv[2])
    print(json.dumps({"changed": write_bundle(root, out), "path": str(out)}))
