"""Loop devices standing in for the stack's EBS data volumes on the testbed.

Each volume id the stack exports gets a sparse file in the rehearsal's state directory,
attached as a loop device; playbooks/rehearsal.yml links it where udev links an EBS
volume (named after the volume id), and the data_volume role then finds, formats and
mounts it exactly as on AWS. The files stay, so a second run finds its volumes (and
their data) again; `recstack testbed down` detaches the devices and removes the files.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from recstack import environments

# Enough for the rehearsal's data; sparse, so only what is written takes space.
SIZE_BYTES = 2 * 1024**3


def _directory(environment: environments.Environment) -> Path:
    return environment.state_dir / "volumes"


def attach(environment: environments.Environment, volume_ids: list[str]) -> dict[str, str]:
    """volume id -> the loop device backed by the rehearsal's <volume id>.img."""
    directory = _directory(environment)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    devices = {}
    for volume_id in volume_ids:
        image = directory / f"{volume_id}.img"
        if not image.exists():
            with image.open("wb") as handle:
                handle.truncate(SIZE_BYTES)
        devices[volume_id] = _device_of(image) or _losetup("--find", "--show", str(image))
    return devices


def release() -> list[str]:
    """Detach every loop device backed by a rehearsal's volume file and remove the files,
    as the hosts that used them are gone; the devices it detached. A device still mounted
    somewhere is freed when that mount goes."""
    detached = []
    rehearsals = [environments.rehearsal(stack) for stack in environments.cloud_stacks()]
    for image in sorted(i for env in rehearsals for i in _directory(env).glob("*.img")):
        device = _device_of(image)
        if device:
            _losetup("--detach", device)
            detached.append(device)
        image.unlink()
    return detached


def _device_of(image: Path) -> str:
    # `losetup -j FILE` prints "/dev/loopN: []: (FILE)" for each device backed by FILE.
    listing = _losetup("--associated", str(image))
    return listing.split(":", 1)[0] if listing else ""


def _losetup(*arguments: str) -> str:
    result = subprocess.run(
        ["losetup", *arguments], capture_output=True, text=True, check=False, timeout=30
    )
    if result.returncode != 0:
        raise RuntimeError(f"losetup {' '.join(arguments)} failed: {result.stderr.strip()}")
    return result.stdout.strip()
