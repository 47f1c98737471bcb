"""The testbed's fixed plan: which hosts exist, their addresses, groups and device names.

Ten hosts share one bridge on 10.77.0.0/24, a range that exists only inside the testbed
(the bridge holds the gateway, 10.77.0.1, and NAT takes hosts to the outside):

    host        address      group
    redis-1..6  10.77.0.11-16  redis     (3 masters + 3 replicas, one Redis per host)
    kafka-1     10.77.0.21     kafka
    triton-1    10.77.0.31     triton
    triton-2    10.77.0.32     triton
    trainer-1   10.77.0.41     trainer

Every kernel object the testbed creates is named after a host with a short prefix, so a
teardown after a crash can find them without any record: network namespace
``rs-<host>``, root-side veth ``rsv-<host>``, bridge ``rsbr0``, nftables table
``recstack_testbed``. Interface names are limited to 15 characters (IFNAMSIZ - 1), which
is why host names stay short.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

SUBNET = ipaddress.IPv4Network("10.77.0.0/24")
GATEWAY = ipaddress.IPv4Address("10.77.0.1")
BRIDGE = "rsbr0"
NAMESPACE_PREFIX = "rs-"
VETH_PREFIX = "rsv-"
# The host side of every veth pair; each lives in its own namespace, so one name serves all.
HOST_INTERFACE = "eth0"
NFT_TABLE = "recstack_testbed"
# The Linux limit on interface names (IFNAMSIZ is 16 with the terminating NUL).
MAX_IFNAME = 15

GROUPS = ("redis", "kafka", "triton", "trainer")


@dataclass(frozen=True)
class Host:
    name: str
    address: ipaddress.IPv4Address
    group: str

    @property
    def namespace(self) -> str:
        return f"{NAMESPACE_PREFIX}{self.name}"

    @property
    def veth(self) -> str:
        return f"{VETH_PREFIX}{self.name}"


def _host(name: str, last_octet: int, group: str) -> Host:
    return Host(name, SUBNET.network_address + last_octet, group)


HOSTS: tuple[Host, ...] = (
    *(_host(f"redis-{i}", 10 + i, "redis") for i in range(1, 7)),
    _host("kafka-1", 21, "kafka"),
    _host("triton-1", 31, "triton"),
    _host("triton-2", 32, "triton"),
    _host("trainer-1", 41, "trainer"),
)


def by_group() -> dict[str, list[Host]]:
    """Hosts per group, in plan order; every group is present."""
    groups: dict[str, list[Host]] = {group: [] for group in GROUPS}
    for host in HOSTS:
        groups[host.group].append(host)
    return groups


def get(name: str) -> Host:
    for host in HOSTS:
        if host.name == name:
            return host
    raise KeyError(f"no testbed host named {name!r}; hosts: {', '.join(h.name for h in HOSTS)}")
