"""The multi-host testbed: its fixed plan and generated inventory (unit tests), and one
integration test (marked `testbed`, needs root) that builds the hosts, checks their
isolation over SSH and proves that `down` leaves nothing behind."""

from __future__ import annotations

import ipaddress
import os
import secrets
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from recstack import testbed
from recstack.cli import app
from recstack.testbed import hosts, inventory, network, plan

EXPECTED = {
    "redis-1": ("10.77.0.11", "redis"),
    "redis-2": ("10.77.0.12", "redis"),
    "redis-3": ("10.77.0.13", "redis"),
    "redis-4": ("10.77.0.14", "redis"),
    "redis-5": ("10.77.0.15", "redis"),
    "redis-6": ("10.77.0.16", "redis"),
    "kafka-1": ("10.77.0.21", "kafka"),
    "triton-1": ("10.77.0.31", "triton"),
    "triton-2": ("10.77.0.32", "triton"),
    "trainer-1": ("10.77.0.41", "trainer"),
}


# --- the plan -------------------------------------------------------------------------


def test_plan_is_the_documented_one() -> None:
    assert {h.name: (str(h.address), h.group) for h in plan.HOSTS} == EXPECTED


def test_addresses_are_unique_usable_and_inside_the_testbed_range() -> None:
    addresses = [h.address for h in plan.HOSTS]
    assert len(set(addresses)) == len(addresses)
    reserved = {plan.SUBNET.network_address, plan.SUBNET.broadcast_address, plan.GATEWAY}
    for address in addresses:
        assert address in plan.SUBNET
        assert address not in reserved
    assert str(plan.SUBNET) == "10.77.0.0/24"
    assert str(plan.GATEWAY) == "10.77.0.1"


def test_interface_and_namespace_names_fit_the_kernel_limit() -> None:
    names = [plan.BRIDGE] + [h.veth for h in plan.HOSTS] + [h.namespace for h in plan.HOSTS]
    for name in names:
        assert len(name) <= plan.MAX_IFNAME == 15, name
    assert len({h.name for h in plan.HOSTS}) == len(plan.HOSTS)
    for host in plan.HOSTS:
        # Teardown sweeps by these prefixes, so every object must carry them.
        assert host.namespace.startswith(plan.NAMESPACE_PREFIX)
        assert host.veth.startswith(plan.VETH_PREFIX)


def test_groups() -> None:
    groups = {name: [h.name for h in members] for name, members in plan.by_group().items()}
    assert groups == {
        "redis": [f"redis-{i}" for i in range(1, 7)],
        "kafka": ["kafka-1"],
        "triton": ["triton-1", "triton-2"],
        "trainer": ["trainer-1"],
    }
    assert plan.get("kafka-1").address == ipaddress.IPv4Address("10.77.0.21")
    with pytest.raises(KeyError):
        plan.get("redis-7")


# --- the inventory and the boot script --------------------------------------------------


def test_inventory_lists_every_host_in_its_group_with_its_address(tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    document = yaml.safe_load(inventory.render(key))
    children = document["all"]["children"]
    assert set(children) == {"redis", "kafka", "triton", "trainer"}
    seen = {}
    for group, body in children.items():
        for name, host_vars in body["hosts"].items():
            seen[name] = (host_vars["ansible_host"], group)
            assert host_vars["recstack_bind_address"] == host_vars["ansible_host"]
    assert seen == EXPECTED


def test_inventory_connects_over_ssh_with_the_testbed_key_and_known_hosts(tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    variables = yaml.safe_load(inventory.render(key))["all"]["vars"]
    assert variables["ansible_user"] == "root"
    assert variables["ansible_connection"] == "ssh"
    assert variables["ansible_ssh_private_key_file"] == str(key)
    assert variables["ansible_python_interpreter"] == "/usr/bin/python3"
    common = variables["ansible_ssh_common_args"]
    assert f"UserKnownHostsFile={testbed.KNOWN_HOSTS}" in common
    assert "StrictHostKeyChecking=yes" in common
    assert "group_vars" not in document_keys(yaml.safe_load(inventory.render(key)))


def document_keys(node: object) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for value in node.values() for k in document_keys(value)}
    return set()


def test_inventory_path_is_the_testbed_inventory() -> None:
    assert testbed.INVENTORY_FILE.parts[-3:] == ("inventories", "testbed", "hosts.yml")


def test_boot_script_overlays_private_dirs_and_hands_pid1_to_tini() -> None:
    host = plan.get("triton-2")
    script = hosts.boot_script(host)
    for point in ("/etc", "/var/lib", "/var/log", "/opt"):
        assert f"lowerdir={point}," in script
    assert "/srv/recstack" not in script  # shared, never overlaid
    assert "tmpfs /run" in script
    assert "hostname triton-2" in script
    assert "/etc/supervisor/conf.d/recstack-*.conf" in script
    last = script.strip().splitlines()[-1]
    assert last.startswith("exec /usr/bin/tini -- /usr/sbin/sshd -D")
    assert f"ListenAddress={host.address}" in last


def test_cli_has_testbed_up_and_down() -> None:
    result = CliRunner().invoke(app, ["testbed", "--help"])
    assert result.exit_code == 0
    # Each sub-command is listed with its own help line.
    assert "Start the testbed hosts" in result.output
    assert "Remove the testbed" in result.output


# --- integration: the real testbed ---------------------------------------------------


def _ssh(host: plan.Host, command: str) -> str:
    result = testbed.run_on(host, command)
    assert result.returncode == 0, f"{host.name}: {command!r} failed: {result.stderr}"
    return result.stdout


def _testbed_processes() -> list[str]:
    """Live (non-zombie) processes of a testbed, as `ps` lines."""
    listing = subprocess.run(
        ["ps", "-eo", "pid=,stat=,comm=,args="], capture_output=True, text=True, check=True
    ).stdout
    markers = (str(testbed.STATE_DIR), "testbed_authorized_keys")
    found = []
    for line in listing.splitlines():
        fields = line.split()
        stat, comm = fields[1], fields[2]
        if stat.startswith("Z"):
            continue
        if comm == "tini" or any(marker in line for marker in markers):
            found.append(line.strip())
    return found


def _zombie_tinis() -> list[str]:
    listing = subprocess.run(
        ["ps", "-eo", "stat=,comm="], capture_output=True, text=True, check=True
    ).stdout
    return [line for line in listing.splitlines() if line.startswith("Z") and "tini" in line]


@pytest.mark.testbed
def test_testbed_up_isolates_hosts_and_down_leaves_nothing() -> None:
    if os.geteuid() != 0:
        pytest.skip("the testbed needs root")
    # From nothing: a testbed left up (and deployed) would not show a fresh host.
    testbed.down()
    forward_before = network.read_ip_forward()
    token = secrets.token_hex(6)
    try:
        started = time.monotonic()
        result = testbed.up(print)
        print(f"testbed up: {time.monotonic() - started:.1f} s")
        assert testbed.is_up()

        # Every host answers SSH with its own name.
        with ThreadPoolExecutor(len(plan.HOSTS)) as pool:
            names = list(pool.map(lambda h: _ssh(h, "hostname").strip(), plan.HOSTS))
        assert names == [h.name for h in plan.HOSTS]

        # Its own PID namespace: tini is PID 1 and this machine's processes are invisible.
        redis1, redis2, kafka1 = plan.get("redis-1"), plan.get("redis-2"), plan.get("kafka-1")
        processes = dict(
            line.split(None, 1) for line in _ssh(redis1, "ps -e -o pid=,comm=").splitlines()
        )
        assert processes["1"].strip() == "tini"
        comms = {comm.strip() for comm in processes.values()}
        assert not comms & {"process_api", "pytest", "python", "supervisord"}, comms
        assert len(processes) < 20, processes

        # Private /etc, /var/lib, /var/log, /opt and /tmp; shared /srv/recstack.
        for directory in ("/etc", "/var/lib", "/var/log", "/opt", "/tmp"):
            probe = f"{directory}/recstack-testbed-probe-{token}"
            _ssh(redis1, f"echo {token} > {probe}")
            assert _ssh(redis1, f"cat {probe}").strip() == token
            assert not Path(probe).exists(), f"{probe} leaked to this machine"
            assert _ssh(redis2, f"test -e {probe} && echo leaked || echo absent").strip() == (
                "absent"
            ), f"{probe} leaked to redis-2"
        shared = testbed.SHARED_DIR / f"probe-{token}"
        _ssh(redis1, f"echo {token} > {shared}")
        assert shared.read_text().strip() == token
        assert _ssh(plan.get("triton-2"), f"cat {shared}").strip() == token
        _ssh(kafka1, f"rm {shared}")
        assert not shared.exists()

        # A local deployment's leftovers in the lower layers are gone on the hosts.
        absent = _ssh(
            redis1, "ls -d /etc/recstack /var/lib/recstack /var/log/recstack 2>&1 || true"
        )
        assert "No such file" in absent and "cannot access" in absent

        # Hosts reach each other by address and by name, and the gateway routes them out.
        _ssh(redis1, f"bash -c 'echo > /dev/tcp/{kafka1.address}/22'")
        _ssh(plan.get("trainer-1"), "bash -c 'echo > /dev/tcp/triton-2/22'")
        assert _ssh(redis1, "ip route show default").split()[2] == str(plan.GATEWAY)

        # The inventory was written and a second `up` changes nothing.
        document = yaml.safe_load(testbed.INVENTORY_FILE.read_text())
        assert set(document["all"]["children"]["redis"]["hosts"]) == {
            f"redis-{i}" for i in range(1, 7)
        }
        assert not result.already_up
        again = testbed.up(print)
        assert again.already_up
    finally:
        started = time.monotonic()
        removed = testbed.down(print)
        print(f"testbed down: {time.monotonic() - started:.1f} s")
    assert removed.removed

    # Nothing is left: namespaces, links, NAT, mounts, processes, files.
    assert not [n for n in network.namespaces() if n.startswith("rs-")]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert "rsv-" not in links and "rsbr0" not in links
    assert (
        "recstack_testbed"
        not in subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    )
    assert str(testbed.STATE_DIR) not in Path("/proc/self/mountinfo").read_text()
    assert not _testbed_processes()
    assert network.read_ip_forward() == forward_before
    for path in (testbed.STATE_DIR, testbed.KEY_FILE, testbed.KNOWN_HOSTS, testbed.INVENTORY_FILE):
        assert not path.exists(), path
    assert testbed.leftovers() == []
    # Killed hosts are reaped by this machine's init; give it a moment.
    deadline = time.monotonic() + 30
    while _zombie_tinis() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _zombie_tinis()
    # Safe when nothing is up.
    assert testbed.down().removed == []
