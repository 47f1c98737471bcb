"""roles/redis forms its cluster in the layout the stack declares.

The stacks put each shard's copies in different availability zones and say so per host
(redis_shard, redis_shard_role); redis-cli's own replica placement knows nothing of
zones. Six throwaway nodes (127.0.0.2-7) are formed by the role's tasks/cluster.yml in a
layout redis-cli would not choose by itself: every replica must follow the master of
its own shard. The layout's rules are checked on the filter itself.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from test_redis_role_harness import (
    PASSWORD,
    ROOT,
    Nodes,
    changed_per_host,
    free_port,
    needs_redis_server,
    render,
    role_tasks,
    run_playbook,
    start_on_loopback,
)

from recstack import health


def _load_filter() -> Any:
    """The filter plugin's module, loaded from its file as Ansible loads it (plugins/ is
    no Python package)."""
    path = ROOT / "plugins" / "filter" / "redis_cluster_layout.py"
    spec = importlib.util.spec_from_file_location("redis_cluster_layout", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_LAYOUT_MODULE = _load_filter()
redis_cluster_layout = _LAYOUT_MODULE.cluster_layout
LayoutError = _LAYOUT_MODULE.LayoutError
ADDRESSES = {f"node{i}": f"127.0.0.{i + 1}" for i in range(1, 7)}
# Shard 0's replica is the last node, shard 2's the first replica host: not the order
# redis-cli --cluster-replicas would pair them in.
LAYOUT = {
    "node1": (0, "master"),
    "node2": (1, "master"),
    "node3": (2, "master"),
    "node4": (2, "replica"),
    "node5": (1, "replica"),
    "node6": (0, "replica"),
}


def _labelled(layout: dict[str, tuple[Any, Any]]) -> dict[str, dict[str, Any]]:
    return {h: {"redis_shard": s, "redis_shard_role": r} for h, (s, r) in layout.items()}


# --- the layout's rules -------------------------------------------------------------


def test_a_declared_layout_pairs_each_replica_with_its_shards_master() -> None:
    layout = redis_cluster_layout(list(LAYOUT), _labelled(LAYOUT), 1)
    assert layout == {
        "masters": ["node1", "node2", "node3"],
        "replicas": [
            {"host": "node6", "master": "node1"},
            {"host": "node5", "master": "node2"},
            {"host": "node4", "master": "node3"},
        ],
    }


def test_without_labels_the_play_order_gives_the_layout() -> None:
    hosts = [f"h{i}" for i in range(6)]
    # Null is the role's default: not declared either.
    hostvars = {h: {"redis_shard": None, "redis_shard_role": None} for h in hosts}
    layout = redis_cluster_layout(hosts, hostvars, "1")
    assert layout["masters"] == ["h0", "h1", "h2"]
    assert layout["replicas"] == [
        {"host": "h3", "master": "h0"},
        {"host": "h4", "master": "h1"},
        {"host": "h5", "master": "h2"},
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"node4": (2, "leader")}, "node4: redis_shard_role is 'leader'"),
        ({"node4": ("two", "replica")}, "node4: redis_shard is 'two'"),
        ({"node4": (4, "replica")}, "redis_shard numbers [0, 1, 2, 4]"),
        ({"node4": (2, "master")}, "Shard 2 has 2 master(s) (node3, node4) and 0 replica(s)"),
        ({"node6": (1, "replica")}, "Shard 0 has 1 master(s) (node1) and 0 replica(s)"),
    ],
)
def test_a_layout_no_cluster_can_have_is_refused(
    change: dict[str, tuple[Any, Any]], message: str
) -> None:
    with pytest.raises(LayoutError) as error:
        redis_cluster_layout(list(LAYOUT), _labelled({**LAYOUT, **change}), 1)
    assert message in str(error.value)


def test_labels_on_some_hosts_only_are_refused() -> None:
    hostvars = {**_labelled(LAYOUT), "node6": {}}
    with pytest.raises(LayoutError, match="but not on node6: set both on every"):
        redis_cluster_layout(list(LAYOUT), hostvars, 1)


def test_a_host_count_that_fits_no_layout_is_refused() -> None:
    hosts = [f"h{i}" for i in range(5)]
    with pytest.raises(LayoutError, match="a multiple of 2 hosts, at least 6"):
        redis_cluster_layout(hosts, {h: {} for h in hosts}, 1)


# --- forming it ---------------------------------------------------------------------


@dataclass(frozen=True)
class Cluster:
    workdir: Path
    port: int
    variables: dict[str, Any]

    @property
    def hosts(self) -> dict[str, dict[str, Any]]:
        return {
            name: {"recstack_bind_address": address, **_labelled(LAYOUT)[name]}
            for name, address in ADDRESSES.items()
        }

    def nodes(self) -> list[dict[str, Any]]:
        """CLUSTER NODES as seen by node1 (parsed as the kit's health checks do)."""
        client = redis.Redis(ADDRESSES["node1"], self.port, password=PASSWORD)
        try:
            return health.cluster_nodes(client)
        finally:
            client.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("layout")
    addresses = list(ADDRESSES.values())
    port = free_port(addresses)
    bus = free_port(addresses)
    variables = {
        "redis_cluster_enabled": True,
        "redis_cluster_replicas": 1,
        "redis_password": PASSWORD,
        "redis_port": port,
        "redis_cluster_port": bus,
        "redis_data_dir": f"{tmp}/{{{{ inventory_hostname }}}}",
    }
    hosts = {name: {"recstack_bind_address": a} for name, a in ADDRESSES.items()}
    rendered = render(tmp / "render", variables, hosts)
    nodes = Nodes()
    try:
        start_on_loopback(nodes, tmp, rendered, ADDRESSES, port)
        yield Cluster(tmp, port, variables)
    finally:
        nodes.stop()


def _form(cluster: Cluster, name: str) -> Any:
    return run_playbook(
        cluster.workdir / name, [role_tasks("cluster.yml")], cluster.variables, cluster.hosts
    )


@needs_redis_server
def test_each_replica_follows_the_master_of_its_shard(cluster: Cluster) -> None:
    run = _form(cluster, "form")
    assert run.returncode == 0, run.stdout + run.stderr
    assert PASSWORD not in run.stdout + run.stderr
    nodes = {n["host"]: n for n in cluster.nodes()}
    assert len(nodes) == 6
    by_host = {host: nodes[address] for host, address in ADDRESSES.items()}
    for host, (shard, role) in LAYOUT.items():
        node = by_host[host]
        if role == "master":
            assert "master" in node["flags"], host
            continue
        (master,) = [h for h, (s, r) in LAYOUT.items() if s == shard and r == "master"]
        assert "slave" in node["flags"], host
        assert node["master_id"] == by_host[master]["id"], f"{host} should follow {master}"


@needs_redis_server
def test_a_formed_cluster_is_left_alone(cluster: Cluster) -> None:
    run = _form(cluster, "again")
    assert run.returncode == 0, run.stdout + run.stderr
    assert set(changed_per_host(run.stdout).values()) == {0}


def test_the_role_refuses_a_broken_layout_before_configuring_a_node(tmp_path: Path) -> None:
    layout = {**LAYOUT, "node4": (2, "master")}
    hosts = {
        name: {"recstack_bind_address": ADDRESSES[name], **labels}
        for name, labels in _labelled(layout).items()
    }
    variables = {"redis_cluster_enabled": True, "redis_cluster_replicas": 1}
    run = run_playbook(tmp_path, [role_tasks("inputs.yml")], variables, hosts)
    assert run.returncode != 0
    assert "Shard 2 has 2 master(s) (node3, node4) and 0 replica(s)" in run.stdout
