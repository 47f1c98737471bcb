"""In cluster mode: the cluster is whole, every slot is served, and every master has a
replica on another host (so losing a host loses no data)."""

from __future__ import annotations

import pytest

from recstack import health
from recstack.endpoints import Endpoints

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
