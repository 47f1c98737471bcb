"""SSH to the testbed hosts: the client key, host keys, known_hosts and a readiness probe.

Host keys are generated here, before a host boots, straight into its private /etc (the
overlay's upper layer). So known_hosts is written from keys we made ourselves: nothing is
accepted blindly on first connection, and strict host key checking stays on for Ansible.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import plan
from .state import KEY_FILE, KNOWN_HOSTS
from .system import TestbedError, run

# Shared by every client of the testbed (probes, tests, Ansible's ansible_ssh_common_args):
# only the testbed key, only the testbed's known_hosts, never a prompt.
COMMON_OPTIONS = (
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    f"UserKnownHostsFile={KNOWN_HOSTS}",
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "StrictHostKeyChecking=yes",
)


def generate_key(path: Path, comment: str) -> None:
    """A fresh ed25519 key pair at path (any old pair there is replaced)."""
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".pub").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])


def public_key(path: Path) -> str:
    return path.with_name(path.name + ".pub").read_text().strip()


def write_known_hosts(host_keys: Iterable[tuple[plan.Host, str]]) -> None:
    # Both the address (what the inventory uses) and the name match the key.
    lines = [f"{host.address},{host.name} {key}" for host, key in host_keys]
    KNOWN_HOSTS.write_text("".join(line + "\n" for line in lines))


def command(host: plan.Host, remote: str, *, connect_timeout: float = 5) -> list[str]:
    """The argv of `ssh root@host remote` with the testbed's key and known_hosts."""
    return [
        "ssh",
        "-i",
        str(KEY_FILE),
        *COMMON_OPTIONS,
        "-o",
        "BatchMode=yes",
        "-o",
        f"ConnectTimeout={connect_timeout:g}",
        "-o",
        "LogLevel=ERROR",
        f"root@{host.address}",
        remote,
    ]


def run_on(
    host: plan.Host, remote: str, *, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run a shell command on a host as root; the caller checks returncode."""
    return subprocess.run(
        command(host, remote), capture_output=True, text=True, timeout=timeout, check=False
    )


def answers(host: plan.Host, *, timeout: float = 10) -> bool:
    """Whether the host accepts the testbed key and runs a command."""
    try:
        return run_on(host, "true", timeout=timeout).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def all_answer(hosts: Sequence[plan.Host], *, timeout: float = 10) -> bool:
    """Whether every host answers, probed in parallel."""
    with ThreadPoolExecutor(max_workers=len(hosts) or 1) as pool:
        return all(pool.map(lambda h: answers(h, timeout=timeout), hosts))


def wait_until_answering(
    host: plan.Host,
    deadline: float,
    *,
    alive: Callable[[], bool],
    boot_log: Path,
) -> None:
    """Probe until the host answers SSH.

    Gives up early when `alive` says the host's init is gone (its boot failed), and at the
    deadline otherwise; either way the error names the host and its boot log.
    """
    while True:
        if answers(host, timeout=5):
            return
        if not alive():
            raise TestbedError(
                f"{host.name} ({host.address}) stopped during boot; see its boot log "
                f"{boot_log}:\n{_tail(boot_log)}"
            )
        if time.monotonic() > deadline:
            raise TestbedError(
                f"{host.name} ({host.address}) did not answer SSH in time; see its boot log "
                f"{boot_log}:\n{_tail(boot_log)}"
            )
        time.sleep(0.2)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "  (no boot log)"
    return "\n".join(f"  {line}" for line in text[-lines:]) or "  (boot log is empty)"
