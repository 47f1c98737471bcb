"""Create the contract's topics on MSK: `python -m pipelines.streaming.topics`.

MSK runs with topic auto-creation off (stacks/kafka_msk.py), so a deployment creates the
topics every producer and consumer expects (recstack_contract.kafka.TOPICS), with the
client settings every Kafka client gets (kafka_client.py), from the endpoint in the
process environment (RECSTACK_KAFKA_*). Existing topics are left alone. The local
broker's role creates topics itself (roles/kafka). Prints {"changed", "created"} as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka.admin import AdminClient, NewTopic

from recstack_contract.kafka import TOPICS, KafkaEndpoint, Topic, from_environment

from ..serving.kafka_client import client_config

TIMEOUT_S = 30.0


def ensure_topics(
    endpoint: KafkaEndpoint,
    topics: Sequence[Topic] = TOPICS,
    admin: Callable[[dict[str, Any]], Any] = AdminClient,
) -> list[str]:
    """Create the topics the brokers lack; the names it created."""
    client = admin(client_config(endpoint))
    present = set(client.list_topics(timeout=TIMEOUT_S).topics)
    # Replication is the cluster's default, which stacks/kafka_msk.py sets.
    missing = [
        NewTopic(t.name, num_partitions=t.partitions) for t in topics if t.name not in present
    ]
    if not missing:
        return []
    for future in client.create_topics(missing, request_timeout=TIMEOUT_S).values():
        future.result()  # raises the broker's error, which names the topic
    return [topic.topic for topic in missing]


if __name__ == "__main__":
    created = ensure_topics(from_environment())
    print(json.dumps({"changed": bool(created), "created": created}))
