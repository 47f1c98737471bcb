"""`up`, `down` and `is_up`: building the testbed from the plan and removing every trace.

`up` is idempotent: a healthy testbed (every host answers SSH) is left as it is, and a
partial one (a crash, a host that died) is torn down and built again. `down` finds what
to remove by the naming convention (state.json only restores what `up` changed), so it
is safe when nothing is up and after a crash.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from . import hosts, inventory, network, packages, plan, ssh
from . import state as state_mod
from .state import INVENTORY_FILE, KEY_FILE, SHARED_DIR, STATE_DIR, State
from .system import TestbedError, require_root

Progress = Callable[[str], None]

# A host boots in about a second; the margin covers a loaded CI machine.
BOOT_TIMEOUT_S = 60.0


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class UpResult:
    already_up: bool
    inventory: Path
    seconds: float
    hosts: tuple[plan.Host, ...] = plan.HOSTS
    # Debian packages `up` had to install in the root namespace (empty when none).
    installed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DownResult:
    # What was found and removed, in words (empty when nothing was up).
    removed: list[str]
    seconds: float


def is_up() -> bool:
    """Whether the testbed is up and healthy: recorded, and every host answers SSH."""
    if state_mod.load() is None or not KEY_FILE.exists():
        return False
    return ssh.all_answer(plan.HOSTS, timeout=10)


def leftovers() -> list[str]:
    """Anything of a testbed present on this machine now, in words (empty: nothing)."""
    found = []
    if state_mod.STATE_FILE.exists():
        found.append(f"state {state_mod.STATE_FILE}")
    found += [f"namespace {name}" for name in network.namespaces()]
    found += [f"link {name}" for name in network.links()]
    if network.nat_present():
        found.append(f"nft table {plan.NFT_TABLE}")
    found += [f"process {pid} ({what})" for pid, what in hosts.stray_processes()]
    found += [f"mount {point}" for point in hosts.mounts_under(STATE_DIR)]
    return found


def up(progress: Progress = _quiet, *, boot_timeout: float = BOOT_TIMEOUT_S) -> UpResult:
    """Build the testbed (or confirm it is up), wait for SSH, write the inventory."""
    started = time.monotonic()
    require_root()
    if is_up():
        if not INVENTORY_FILE.exists():
            inventory.write()
            progress(f"inventory was missing; wrote {INVENTORY_FILE}")
        progress(f"testbed is already up: all {len(plan.HOSTS)} hosts answer SSH")
        return UpResult(True, INVENTORY_FILE, time.monotonic() - started)
    if found := leftovers():
        progress(f"testbed is partially up ({', '.join(found[:4])}…); tearing it down first")
        down(progress)

    installed = packages.ensure(progress)
    record = State(
        ip_forward_before=network.read_ip_forward(),
        shared_dir_created=not SHARED_DIR.exists(),
    )
    # Recorded before anything changes: a crash below still leaves what teardown needs.
    record.save()
    SHARED_DIR.mkdir(parents=True, exist_ok=True)

    ssh.generate_key(KEY_FILE, "recstack-testbed")
    authorized = ssh.public_key(KEY_FILE)
    ssh.write_known_hosts((host, hosts.prepare(host, authorized)) for host in plan.HOSTS)

    network.create_bridge()
    network.enable_nat()
    network.write_ip_forward("1")
    for host in plan.HOSTS:
        network.create_namespace(host)
        network.connect(host)
    progress(f"network: bridge {plan.BRIDGE} {plan.GATEWAY}, {len(plan.HOSTS)} namespaces, NAT")

    for host in plan.HOSTS:
        hosts.start(host)
    _wait_for_ssh(progress, time.monotonic() + boot_timeout)

    inventory.write()
    progress(f"inventory: {INVENTORY_FILE}")
    return UpResult(False, INVENTORY_FILE, time.monotonic() - started, installed=installed)


def _wait_for_ssh(progress: Progress, deadline: float) -> None:
    started = time.monotonic()
    failures: list[str] = []
    with ThreadPoolExecutor(max_workers=len(plan.HOSTS)) as pool:
        futures = {
            pool.submit(
                ssh.wait_until_answering,
                host,
                deadline,
                alive=lambda host=host: time.monotonic() - started < 3 or hosts.running(host),
                boot_log=state_mod.boot_log(host.name),
            ): host
            for host in plan.HOSTS
        }
        for future in as_completed(futures):
            host = futures[future]
            try:
                future.result()
            except TestbedError as exc:
                failures.append(str(exc))
                progress(f"{host.name:<10} {host.address}  FAILED")
                continue
            waited = time.monotonic() - started
            progress(f"{host.name:<10} {host.address}  answers SSH ({waited:.1f} s)")
    if failures:
        raise TestbedError(
            "\n".join(failures) + "\nthe testbed is left as it is for inspection; "
            "`recstack testbed down` removes it (a new `up` rebuilds it)"
        )


def down(progress: Progress = _quiet) -> DownResult:
    """Remove the testbed: processes, namespaces, links, NAT, mounts, files, inventory."""
    started = time.monotonic()
    require_root()
    record = state_mod.load()
    removed: list[str] = []

    # By the naming convention rather than the record: it also finds what a crash left
    # before the record was complete, and a recorded namespace that is gone needs nothing.
    for namespace in sorted(network.namespaces()):
        hosts.stop_namespace(namespace)
        network.delete_namespace(namespace)
        removed.append(f"namespace {namespace}")
        progress(f"{namespace.removeprefix(plan.NAMESPACE_PREFIX):<10} stopped")
    # A host whose namespace name vanished (deleted by hand) is found by its sshd.
    removed += [f"process {pid} ({what})" for pid, what in hosts.kill_strays()]

    # Veths normally went with their namespaces; the bridge and any stragglers go here.
    for link in network.links():
        network.delete_link(link)
        removed.append(f"link {link}")
    if network.nat_present():
        network.disable_nat()
        removed.append(f"nft table {plan.NFT_TABLE}")
    if record is not None:
        network.write_ip_forward(record.ip_forward_before)

    for point in hosts.mounts_under(STATE_DIR):
        removed.append(f"mount {point}")
    hosts.unmount_under(STATE_DIR)
    if STATE_DIR.exists():
        shutil.rmtree(STATE_DIR)
        removed.append(f"state {STATE_DIR}")
    if INVENTORY_FILE.exists():
        inventory.remove()
        removed.append(f"inventory {INVENTORY_FILE}")
    # The shared store is data: removed only if `up` made it and nothing was put there.
    made_by_up = record is not None and record.shared_dir_created
    if made_by_up and SHARED_DIR.is_dir() and not any(SHARED_DIR.iterdir()):
        SHARED_DIR.rmdir()

    left = [item for item in leftovers() if not item.startswith("state ")]
    if left:
        raise TestbedError(f"teardown left: {', '.join(left)}")
    return DownResult(removed, time.monotonic() - started)
