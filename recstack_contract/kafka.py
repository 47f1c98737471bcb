"""Kafka topics every producer, consumer and broker set-up uses."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    purpose: str


PROBES = Topic("recstack.probes", 1, "smoke tests' produce/consume round trips; no consumer")
FEATURES = Topic("recstack.features", 3, "feature updates from trainers")
# Keyed by user id, so one user's events stay in order.
INTERACTIONS = Topic("recstack.interactions", 3, "interaction events from clients")
EMBEDDINGS = Topic("recstack.embeddings", 3, "embedding updates in the HPS wire format")
TOPICS: tuple[Topic, ...] = (PROBES, FEATURES, INTERACTIONS, EMBEDDINGS)

# How clients authenticate: the local/testbed broker takes PLAINTEXT; MSK takes IAM or
# SCRAM, always over TLS.
AUTH_MODES = ("none", "iam", "scram")
# Processes get the endpoint as RECSTACK_KAFKA_BOOTSTRAP, RECSTACK_KAFKA_AUTH, ...
# (pipelines/streaming/kafka_client.py).
ENVIRONMENT_PREFIX = "RECSTACK_KAFKA_"


def as_dict() -> dict[str, Any]:
    return {
        "topics": [asdict(t) for t in TOPICS],
        "auth_modes": list(AUTH_MODES),
        "environment_prefix": ENVIRONMENT_PREFIX,
    }
