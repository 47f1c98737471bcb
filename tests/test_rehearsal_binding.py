"""The rehearsal runs a stack's own variables on the testbed: the binding substitutes only
what names a machine or an AWS-only service, exactly as recstack/rehearsal/binding.py
documents, and refuses a stack that does not fit."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from recstack import cloud_inventory
from recstack.rehearsal.binding import (
    CA_FILE,
    STAND_IN_BROKER,
    STAND_IN_REDIS,
    VOLUME_LINKS,
    BindingError,
    bind,
)
from recstack.testbed import plan
from recstack_contract.ports import PORTS

CONNECTION = {"ansible_connection": "ssh"}
REPOSITORY = Path("/srv/recstack/rehearsal-x/model_repository")
# What the binding may change, and nothing else.
SUBSTITUTED = {
    "recstack_environment",
    "recstack_redis",
    "recstack_kafka",
    "recstack_triton_hosts",
    "recstack_serving_gpu",
}


def _addresses(group: str) -> list[str]:
    return [str(h.address) for h in plan.by_group()[group]]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_other_variable_is_the_stacks_own(stack_outputs: dict, stack: str) -> None:
    document = stack_outputs[stack]["inventory"]
    binding = bind(document, "rehearsal-x", CONNECTION, REPOSITORY)
    variables = dict(binding.variables)
    assert variables.pop("triton_model_repository") == str(REPOSITORY)
    assert variables.pop("data_volume_by_id_dir") == str(VOLUME_LINKS)
    assert set(variables) == set(document["variables"])
    for name, value in document["variables"].items():
        if name not in SUBSTITUTED:
            assert variables[name] == value, name
    cloud_inventory.check_variables(binding.variables)
    bound = binding.variables
    assert bound["recstack_environment"] == "rehearsal-x"
    assert document["variables"]["recstack_serving_gpu"] is True
    assert bound["recstack_serving_gpu"] is False  # testbed hosts get the CPU build
    assert bound["recstack_triton_hosts"] == _addresses("triton")
    assert bound["recstack_kafka"] == {
        "bootstrap": f"{_addresses('kafka')[0]}:{PORTS.kafka}",
        "auth": "none",
        "tls": False,
        "region": "",
        "credentials_secret": "",
    }
    children = binding.hosts["all"]["children"]
    assert children["kafka"] == {}  # MSK: the stack's clients never get a local broker
    assert list(children[STAND_IN_BROKER]["hosts"]) == ["kafka-1"]
    assert binding.hosts["all"]["vars"] == CONNECTION


def test_a_self_hosted_cluster_moves_onto_the_redis_hosts(stack_outputs: dict) -> None:
    document = stack_outputs["staging"]["inventory"]
    binding = bind(document, "rehearsal-x", CONNECTION, REPOSITORY)
    redis = binding.variables["recstack_redis"]
    stack_redis = document["variables"]["recstack_redis"]
    assert redis["hosts"] == _addresses("redis")
    assert {k: v for k, v in redis.items() if k != "hosts"} == {
        k: v for k, v in stack_redis.items() if k != "hosts"
    }
    hosts = binding.hosts["all"]["children"]["redis"]["hosts"]
    assert [h["ansible_host"] for h in hosts.values()] == _addresses("redis")
    # The stack's own labels (AZ, and the layout the redis role forms) stay with each host.
    assert all(
        {"availability_zone", "redis_shard", "redis_shard_role"} <= set(h) for h in hosts.values()
    )
    assert not binding.redis_stand_ins
    assert STAND_IN_REDIS not in binding.hosts["all"]["children"]


def test_managed_redis_gets_a_tls_stand_in_with_the_same_client_path(
    stack_outputs: dict,
) -> None:
    document = stack_outputs["prod"]["inventory"]
    binding = bind(document, "rehearsal-x", CONNECTION, REPOSITORY)
    redis = binding.variables["recstack_redis"]
    assert (redis["tls"], redis["cluster"], redis["user"]) == (True, True, "")
    assert redis["hosts"] == _addresses("redis")
    assert redis["ca_file"] == str(CA_FILE)
    assert [address for _, address in binding.redis_stand_ins] == _addresses("redis")
    children = binding.hosts["all"]["children"]
    assert children["redis"] == {"hosts": {}}  # no server role for a managed service
    assert list(children[STAND_IN_REDIS]["hosts"]) == [h.name for h in plan.by_group()["redis"]]


def test_a_stack_larger_than_the_testbed_is_refused(stack_outputs: dict) -> None:
    document = copy.deepcopy(stack_outputs["staging"]["inventory"])
    trainers = document["groups"]["trainer"]["hosts"]
    trainers.append({**trainers[0], "instance_id": "i-2", "private_ip": "10.60.0.99"})
    with pytest.raises(BindingError, match="2 trainer hosts, the testbed 1"):
        bind(document, "rehearsal-x", CONNECTION, REPOSITORY)
