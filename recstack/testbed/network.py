"""The testbed network: a bridge with the gateway address, one namespace and veth pair per
host, and NAT so hosts reach the package registries through this machine.

Topology: ``rsbr0`` (10.77.0.1/24) in the root namespace; per host a veth pair whose root
end ``rsv-<host>`` is a bridge port and whose other end is ``eth0`` inside the namespace
``rs-<host>``, with the host's address and a default route via the bridge.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from . import plan
from .system import run

IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


def create_bridge() -> None:
    prefix = plan.SUBNET.prefixlen
    run(["ip", "link", "add", plan.BRIDGE, "type", "bridge"])
    run(["ip", "addr", "add", f"{plan.GATEWAY}/{prefix}", "dev", plan.BRIDGE])
    run(["ip", "link", "set", plan.BRIDGE, "up"])


def create_namespace(host: plan.Host) -> None:
    run(["ip", "netns", "add", host.namespace])


def connect(host: plan.Host) -> None:
    """The veth pair, the host's address and its default route via the gateway."""
    ns = ["ip", "-n", host.namespace]
    # Creating the peer directly inside the namespace avoids a window in which a second
    # `eth0` would exist in the root namespace next to the real one.
    peer = ["peer", "name", plan.HOST_INTERFACE, "netns", host.namespace]
    run(["ip", "link", "add", host.veth, "type", "veth", *peer])
    run(["ip", "link", "set", host.veth, "master", plan.BRIDGE, "up"])
    run([*ns, "link", "set", "lo", "up"])
    run([*ns, "addr", "add", f"{host.address}/{plan.SUBNET.prefixlen}", "dev", plan.HOST_INTERFACE])
    run([*ns, "link", "set", plan.HOST_INTERFACE, "up"])
    run([*ns, "route", "add", "default", "via", str(plan.GATEWAY)])


def enable_nat() -> None:
    """Masquerade traffic from the testbed range leaving by any other interface.

    The table is our own, so teardown deletes it whole without touching other rules.
    """
    rules = f"""
table ip {plan.NFT_TABLE} {{
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        ip saddr {plan.SUBNET} ip daddr != {plan.SUBNET} masquerade
    }}
}}
"""
    run(["nft", "-f", "-"], input_text=rules)


def read_ip_forward() -> str:
    return IP_FORWARD.read_text().strip()


def write_ip_forward(value: str) -> None:
    IP_FORWARD.write_text(f"{value}\n")


# --- teardown -------------------------------------------------------------------------


def namespaces() -> list[str]:
    """Testbed namespaces present now, found by the naming convention."""
    listing = run(["ip", "netns", "list"], check=False).stdout
    # Lines look like "rs-redis-1 (id: 3)" or just "rs-redis-1".
    names = (line.split()[0] for line in listing.splitlines() if line.strip())
    # Only the plan's own names: a namespace that merely shares the prefix is not ours.
    ours = {host.namespace for host in plan.HOSTS}
    return [name for name in names if name in ours]


def links() -> list[str]:
    """Testbed links (veths and the bridge) present in the root namespace now."""
    listing = run(["ip", "-o", "link", "show"], check=False).stdout
    found = []
    for line in listing.splitlines():
        # "7: rsv-redis-1@if2: <BROADCAST,...>": the name ends at '@' (veth) or ':'.
        name = line.split(":", 2)[1].strip().split("@", 1)[0]
        if name == plan.BRIDGE or name in {host.veth for host in plan.HOSTS}:
            found.append(name)
    return found


def nat_present() -> bool:
    # Without nft installed no testbed ever set up NAT on this machine.
    if shutil.which("nft") is None:
        return False
    return run(["nft", "list", "table", "ip", plan.NFT_TABLE], check=False).returncode == 0


def namespace_pids(namespace: str) -> list[int]:
    out = run(["ip", "netns", "pids", namespace], check=False).stdout
    return [int(word) for word in out.split() if word.isdigit()]


def delete_namespace(namespace: str) -> None:
    # Deleting the namespace also destroys its eth0 and with it the veth's root end.
    run(["ip", "netns", "delete", namespace], check=False)


def delete_link(name: str) -> None:
    run(["ip", "link", "delete", name], check=False)


def disable_nat() -> None:
    run(["nft", "delete", "table", "ip", plan.NFT_TABLE])
