"""The data_volume role, run by ansible-playbook against this machine, with loop devices
standing in for EBS volumes and a by-id directory of links named as udev names them on
Nitro instances. Mount points and the fstab live in the test's own directory."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
LINK_PREFIX = "nvme-Amazon_Elastic_Block_Store_"
TOOLS = ("blkid", "findmnt", "mkfs.ext4", "mkfs.ext2", "mount", "umount")
OPTIONS = "defaults,nofail,noatime"
IMAGE_BYTES = 32 * 1024 * 1024
# What an fstab may hold besides the role's lines; the role must keep it.
FSTAB_HEADER = "# an operator's line\n"

pytestmark = [
    pytest.mark.skipif(
        os.geteuid() != 0, reason="needs root: attaches loop devices and mounts filesystems"
    ),
    pytest.mark.skipif(shutil.which("losetup") is None, reason="losetup is not installed"),
    pytest.mark.skipif(
        any(shutil.which(tool) is None for tool in TOOLS),
        reason=f"needs util-linux and e2fsprogs: {', '.join(TOOLS)}",
    ),
]

PLAY = """\
- name: Prepare the data volumes
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - data_volume
"""


@dataclasses.dataclass
class Run:
    returncode: int
    output: str

    @property
    def changed(self) -> int:
        recap = re.search(r"^localhost\s*:\s*ok=\d+\s+changed=(\d+)", self.output, re.M)
        assert recap, self.output
        return int(recap.group(1))


def _sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip()


def _uuid(device: str) -> str:
    return _sh("blkid", "--probe", "--match-tag", "UUID", "--output", "value", device)


def _mounted(mount_point: Path) -> tuple[str, ...] | None:
    """(source, fstype) of what is mounted at mount_point, if anything."""
    found = subprocess.run(
        [
            "findmnt",
            "--kernel",
            "--noheadings",
            "--output",
            "SOURCE,FSTYPE",
            "--mountpoint",
            str(mount_point),
        ],
        capture_output=True,
        text=True,
    )
    return tuple(found.stdout.split()) if found.returncode == 0 else None


def _digest(device: str) -> str:
    with open(device, "rb") as raw:
        return hashlib.file_digest(raw, "sha256").hexdigest()


class Host:
    """Loop devices with by-id links, and the role run against them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.by_id = root / "by-id"
        self.by_id.mkdir()
        self.fstab = root / "fstab"
        self.fstab.write_text(FSTAB_HEADER)
        self.devices: list[str] = []

    def attach(self, volume_id: str) -> str:
        """A sparse image as a loop device, linked under by-id as the volume's NVMe disk."""
        image = self.root / f"{volume_id}.img"
        with image.open("wb") as sparse:
            sparse.truncate(IMAGE_BYTES)
        device = _sh("losetup", "--find", "--show", str(image))
        self.devices.append(device)
        (self.by_id / f"{LINK_PREFIX}{volume_id.replace('-', '')}").symlink_to(device)
        return device

    def mount_point(self, volume_id: str) -> Path:
        return self.root / "mnt" / volume_id

    def run(self, *volumes: dict[str, str]) -> Run:
        extra = {
            "ansible_python_interpreter": sys.executable,
            "data_volume_by_id_dir": str(self.by_id),
            "data_volume_fstab": str(self.fstab),
            "data_volume_volumes": list(volumes),
        }
        (self.root / "vars.json").write_text(json.dumps(extra))
        (self.root / "play.yml").write_text(PLAY)
        done = subprocess.run(
            [
                str(ANSIBLE_PLAYBOOK),
                "-i",
                "localhost,",
                "-e",
                f"@{self.root / 'vars.json'}",
                str(self.root / "play.yml"),
            ],
            cwd=REPO,
            env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        return Run(done.returncode, done.stdout + done.stderr)

    def volume(self, volume_id: str, **extra: str) -> dict[str, str]:
        return {"volume_id": volume_id, "mount_point": str(self.mount_point(volume_id)), **extra}

    def clean_up(self) -> None:
        """Unmount everything under the test's directory (deepest first), then detach."""
        targets = _sh("findmnt", "--kernel", "--list", "--noheadings", "--output", "TARGET")
        for target in sorted(targets.splitlines(), reverse=True):
            if target.startswith(f"{self.root}/"):
                subprocess.run(["umount", target], check=False)
        for device in self.devices:
            subprocess.run(["losetup", "--detach", device], check=False)


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    machine = Host(tmp_path)
    try:
        yield machine
    finally:
        machine.clean_up()


def test_first_run_formats_and_mounts_by_uuid_and_a_second_changes_nothing(host: Host) -> None:
    first, second = "vol-0aaaaaaaaaaaaaaa1", "vol-0bbbbbbbbbbbbbbb2"
    devices = {first: host.attach(first), second: host.attach(second)}
    volumes = [
        host.volume(first),
        host.volume(second, owner="nobody", group="nogroup", mode="0750"),
    ]

    run = host.run(*volumes)
    assert run.returncode == 0, run.output
    assert "[WARNING]" not in run.output, run.output

    lines = host.fstab.read_text().splitlines()
    assert lines[0] == FSTAB_HEADER.strip()
    for volume_id, device in devices.items():
        mount_point = host.mount_point(volume_id)
        assert _mounted(mount_point) == (device, "ext4")
        assert f"UUID={_uuid(device)} {mount_point} ext4 {OPTIONS} 0 2" in lines
    assert len(lines) == 3
    owned = host.mount_point(second).stat()
    assert (owned.st_uid, oct(owned.st_mode & 0o7777)) == (
        int(_sh("id", "-u", "nobody")),
        "0o750",
    )

    again = host.run(*volumes)
    assert again.returncode == 0, again.output
    assert again.changed == 0, again.output


def test_an_unmounted_volume_is_mounted_again_with_its_data(host: Host) -> None:
    volume_id = "vol-0ccccccccccccccc3"
    device = host.attach(volume_id)
    assert host.run(host.volume(volume_id)).returncode == 0
    mount_point = host.mount_point(volume_id)
    (mount_point / "kept.txt").write_text("survives")
    uuid = _uuid(device)
    _sh("umount", str(mount_point))

    run = host.run(host.volume(volume_id))

    assert run.returncode == 0, run.output
    assert run.changed == 1, run.output  # the mount, nothing else: no format
    assert _mounted(mount_point) == (device, "ext4")
    assert _uuid(device) == uuid
    assert (mount_point / "kept.txt").read_text() == "survives"


def _ext2(device: str) -> None:
    _sh("mkfs.ext2", "-q", device)


def _dos_partition_table(device: str) -> None:
    """One Linux partition from sector 2048 to the end, as fdisk would write it."""
    entry = bytes([0, 0, 0, 0, 0x83, 0, 0, 0])
    entry += (2048).to_bytes(4, "little") + (IMAGE_BYTES // 512 - 2048).to_bytes(4, "little")
    with open(device, "r+b") as raw:
        raw.seek(446)
        raw.write(entry)
        raw.seek(510)
        raw.write(b"\x55\xaa")


@pytest.mark.parametrize(
    ("prepare", "refusal"),
    [(_ext2, "holds ext2, not ext4"), (_dos_partition_table, "holds a dos partition table")],
    ids=["other-filesystem", "partition-table"],
)
def test_a_device_holding_data_is_refused_and_left_untouched(
    host: Host, prepare: Callable[[str], None], refusal: str
) -> None:
    volume_id = "vol-0ddddddddddddddd4"
    device = host.attach(volume_id)
    prepare(device)
    before = _digest(device)

    run = host.run(host.volume(volume_id))

    assert run.returncode != 0
    assert f"volume {volume_id} ({device}) {refusal}" in run.output, run.output
    assert _digest(device) == before
    assert _mounted(host.mount_point(volume_id)) is None
    assert host.fstab.read_text() == FSTAB_HEADER


def test_a_volume_that_is_not_attached_fails_naming_it(host: Host) -> None:
    run = host.run(host.volume("vol-0123456789abcdef0"))

    assert run.returncode != 0
    link = host.by_id / f"{LINK_PREFIX}vol0123456789abcdef0"
    assert f"volume vol-0123456789abcdef0 is not attached to this host: no {link}" in run.output


def _file_inside(mount_point: Path) -> str:
    mount_point.mkdir(parents=True)
    (mount_point / "written-while-unmounted").write_text("")
    return f"holds {mount_point}/written-while-unmounted"


def _file_instead(mount_point: Path) -> str:
    mount_point.parent.mkdir(parents=True)
    mount_point.write_text("")
    return "is no directory"


@pytest.mark.parametrize("occupy", [_file_inside, _file_instead], ids=["file-inside", "file"])
def test_an_occupied_mount_point_is_refused_before_anything_is_done(
    host: Host, occupy: Callable[[Path], str]
) -> None:
    volume_id = "vol-0eeeeeeeeeeeeeee5"
    device = host.attach(volume_id)
    mount_point = host.mount_point(volume_id)
    refusal = occupy(mount_point)

    run = host.run(host.volume(volume_id))

    assert run.returncode != 0
    assert f"volume {volume_id}: {mount_point} is not mounted and {refusal}" in run.output
    assert _mounted(mount_point) is None
    # Refused before anything was done: the device is still blank.
    blank = subprocess.run(["blkid", "--probe", device], capture_output=True)
    assert blank.returncode == 2
