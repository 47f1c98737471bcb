"""In cluster mode: the cluster is whole, every slot is served, and every master has a
replica on another host (so losing a host loses no data) and, where the hosts are placed
in availability zones, in another zone."""

from __future__ import annotations

import pytest
import testinfra

from recstack import health
from recstack.endpoints import Endpoints
from recstack.environments import Environment

SLOTS = 16384


@pytest.fixture(scope="module")
def nodes(where: Endpoints, redis_password: str) -> list[dict]:
    if not where.redis.cluster:
        pytest.skip("this environment runs a standalone Redis")  # nothing to check
    return health.cluster_nodes(where.redis_client(redis_password, host=where.redis_hosts[0]))


def test_cluster_state_is_ok_on_every_node(where: Endpoints, redis_password: str) -> None:
    if not where.redis.cluster:
        pytest.skip("this environment runs a standalone Redis")
    for host in where.redis_hosts:
        info = (
            where.redis_client(redis_password, host=host)
            .execute_command("CLUSTER", "INFO")
            .decode()
        )
        assert "cluster_state:ok" in info, (
            f"redis on {host}: cluster_state is not ok → `redis-cli --user ... -h {host} "
            "cluster nodes` shows which node fails"
        )
        assert f"cluster_slots_ok:{SLOTS}" in info, f"redis on {host}: not all slots ok:\n{info}"


def test_every_slot_is_served(nodes: list[dict]) -> None:
    covered = 0
    for node in nodes:
        for span in node["slots"]:
            if span.startswith("["):  # a slot in migration
                continue
            low, _, high = span.partition("-")
            covered += int(high or low) - int(low) + 1
    assert covered == SLOTS, (
        f"redis cluster: {covered} of {SLOTS} slots are assigned → rerun `recstack up`"
    )


def test_every_master_has_a_replica_on_another_host(nodes: list[dict]) -> None:
    masters = [n for n in nodes if "master" in n["flags"] and n["slots"]]
    assert len(masters) >= 3, (
        f"redis cluster: {len(masters)} masters serve slots, expected 3 or more"
    )
    for master in masters:
        replicas = [n for n in nodes if n["master_id"] == master["id"] and "fail" not in n["flags"]]
        assert replicas, f"redis cluster: master {master['host']} has no healthy replica"
        assert all(r["host"] != master["host"] for r in replicas), (
            f"redis cluster: master {master['host']} has a replica on its own host → a host "
            "failure would lose that shard; recreate the cluster"
        )
        assert all(r["link"] == "connected" for r in replicas), (
            f"redis cluster: replica link down: {replicas}"
        )


def test_every_replica_sits_in_another_zone_than_its_master(
    nodes: list[dict], environment: Environment
) -> None:
    """Where the inventory places the Redis hosts in availability zones (a cloud stack),
    a zone's loss must leave every shard a copy: with as many zones as copies of a shard,
    no replica shares its master's zone. A failover swaps a pair's roles, not its zones."""
    hosts = testinfra.get_hosts(["ansible://redis"], ansible_inventory=str(environment.inventory))
    zone_of = {
        v["recstack_bind_address"]: v["availability_zone"]
        for v in (h.ansible.get_variables() for h in hosts)
        if "availability_zone" in v
    }
    if not zone_of:
        pytest.skip("the inventory places no Redis host in a zone")
    masters = [n for n in nodes if "master" in n["flags"] and n["slots"]]
    copies = len(nodes) // len(masters)
    if len(set(zone_of.values())) < copies:
        pytest.skip(f"fewer zones than the {copies} copies of a shard")
    for master in masters:
        for replica in (n for n in nodes if n["master_id"] == master["id"]):
            assert zone_of[replica["host"]] != zone_of[master["host"]], (
                f"redis cluster: replica {replica['host']} shares zone "
                f"{zone_of[master['host']]} with its master {master['host']} → a zone outage "
                "would lose that shard; the cluster was not formed in the stack's layout "
                "(redis_shard, redis_shard_role)"
            )
