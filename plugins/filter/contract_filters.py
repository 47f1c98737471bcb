"""Ansible filters that apply the cross-layer contract's own code (recstack_contract).

`recstack_redis | redis_environment` and `recstack_kafka | kafka_environment` turn the
connection structures into the process environment every recstack client reads
(RECSTACK_REDIS_*, RECSTACK_KAFKA_*), with the same code the clients parse it back with,
so the two sides cannot drift. A malformed structure fails the play, naming the field.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from recstack_contract.kafka import KafkaEndpoint, KafkaEndpointError
from recstack_contract.redis import RedisConnection


def redis_environment(connection: dict[str, Any]) -> dict[str, str]:
    try:
        return RedisConnection.from_mapping(connection).environment()
    except ValueError as error:
        raise AnsibleFilterError(f"recstack_redis: {error}") from None


def kafka_environment(endpoint: dict[str, Any]) -> dict[str, str]:
    try:
        return KafkaEndpoint.from_mapping(endpoint).environment()
    except KafkaEndpointError as error:
        raise AnsibleFilterError(f"recstack_kafka: {error}") from None


def kafka_topic_ids(broker_hostvars: list[dict[str, Any]]) -> dict[str, list[int]]:
    """The topics' ids on the local broker (the kafka role's kafka_topic_ids fact), from
    the kafka hosts' variables; {} where there is none (MSK). A consumer of a topic of
    the local broker restarts on its id: after a broker restart the topic is created
    again with a new id, and a consumer subscribed before stays without partitions."""
    for variables in broker_hostvars:
        if "kafka_topic_ids" in variables:
            return variables["kafka_topic_ids"]
    return {}


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "redis_environment": redis_environment,
            "kafka_environment": kafka_environment,
            "kafka_topic_ids": kafka_topic_ids,
        }
