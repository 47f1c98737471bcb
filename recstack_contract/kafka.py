"""Kafka: the topics every producer, consumer and broker set-up uses, and the endpoint
structure that says where the brokers are and how clients authenticate.

An endpoint's `auth` is `none` (the local/testbed broker, PLAINTEXT), `iam` (Amazon MSK,
SASL/OAUTHBEARER signed with the host's AWS credentials) or `scram` (Amazon MSK,
SASL/SCRAM-SHA-512 with the user kept in the stack's Secrets Manager secret); MSK is
always reached over TLS. The stack exports it (`as_mapping()`, the Ansible variable
`recstack_kafka`), processes get it as RECSTACK_KAFKA_<FIELD> (`environment()`, read
back by `from_environment()`). It names the SCRAM secret but never holds its value.
pipelines/serving/kafka_client.py turns it into client settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from . import hps


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    purpose: str


PROBES = Topic("recstack.probes", 1, "smoke tests' produce/consume round trips; no consumer")
FEATURES = Topic("recstack.features", 3, "feature updates from trainers")
# Keyed by user id, so one user's events stay in order.
INTERACTIONS = Topic("recstack.interactions", 3, "interaction events from clients")
# Messages the stream processor refused, unchanged, with the reason in their headers
# (INTERACTIONS_DLQ_HEADERS): partitioned like the interactions topic.
INTERACTIONS_DLQ = Topic(
    "recstack.interactions.dlq", 3, "interaction messages the stream processor refused"
)
# The ranker's embedding updates in HPS's message format, on the topic HPS reads them
# from: the table's tag (HugeCTR KafkaMessageSink::resolve_topic). A key always goes to
# the same partition (its HPS key group), so one key's updates stay in order.
EMBEDDINGS = Topic(hps.table_tag(), 3, "embedding updates of the ranker's table, HPS format")
TOPICS: tuple[Topic, ...] = (PROBES, FEATURES, INTERACTIONS, INTERACTIONS_DLQ, EMBEDDINGS)
# Headers of a dead-lettered message: why (recstack_contract.events.REASONS), what was
# wrong, and where it came from (partition and offset in the interactions topic).
INTERACTIONS_DLQ_HEADERS = ("reason", "detail", "source_partition", "source_offset")
# HPS's Kafka receive buffer for embedding updates: ps.json's receive_buffer_size, and
# (plus 1 KiB) the least message.max.bytes its brokers may have.
HPS_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024
# HPS's consumer groups (HugeCTR update_database_per_model): one shared group applies
# updates to the Redis tier, and each serving host's group applies them to its RocksDB.
HPS_VOLATILE_GROUP = "hps.volatile"
HPS_PERSISTENT_GROUP_PREFIX = "hps.persistent."
# The stream processor's consumer group: its committed offsets are its progress (lag).
STREAM_PROCESSOR_GROUP = "recstack.stream-processor"
# The online trainer's consumer group on the interactions topic: a group of its own, so
# it reads every event whatever the stream processor has done.
ONLINE_TRAINER_GROUP = "recstack.online-trainer"

# How clients authenticate: the local/testbed broker takes PLAINTEXT; MSK takes IAM or
# SCRAM, always over TLS.
AUTH_MODES = ("none", "iam", "scram")
# Processes get the endpoint as RECSTACK_KAFKA_BOOTSTRAP, RECSTACK_KAFKA_AUTH, ...
ENVIRONMENT_PREFIX = "RECSTACK_KAFKA_"
FIELDS = ("bootstrap", "auth", "tls", "region", "credentials_secret")


class KafkaEndpointError(ValueError):
    """An endpoint or its credentials that no client could use; says what to fix."""


@dataclass(frozen=True)
class KafkaEndpoint:
    # Comma-separated host:port pairs.
    bootstrap: str
    auth: str = "none"
    tls: bool = False
    # The cluster's AWS region: it signs IAM tokens and locates the SCRAM secret.
    region: str = ""
    # ARN of the Secrets Manager secret with the SCRAM user (auth scram only).
    credentials_secret: str = ""

    def __post_init__(self) -> None:
        if not self.bootstrap.strip(","):
            raise KafkaEndpointError(
                "kafka endpoint: bootstrap is empty → set it to the brokers' host:port list "
                "(the stack's kafka endpoint, or the kafka hosts and kafka_port)"
            )
        if self.auth not in AUTH_MODES:
            raise KafkaEndpointError(
                f"kafka endpoint: auth {self.auth!r} is unknown → set auth to one of "
                f"{', '.join(AUTH_MODES)}"
            )
        if self.auth == "none" and self.tls:
            raise KafkaEndpointError(
                "kafka endpoint: tls is true with auth 'none'; only MSK uses TLS and it always "
                "authenticates → set auth to iam or scram, or tls to false for the local broker"
            )
        if self.auth != "none" and not self.tls:
            raise KafkaEndpointError(
                f"kafka endpoint: auth {self.auth!r} needs tls true (MSK never takes SASL "
                "without TLS) → set tls to true"
            )
        if self.auth != "none" and not self.region:
            raise KafkaEndpointError(
                f"kafka endpoint: auth {self.auth!r} needs region, the cluster's AWS region "
                "→ add region to the endpoint"
            )
        if self.auth == "scram" and not self.credentials_secret:
            raise KafkaEndpointError(
                "kafka endpoint: auth 'scram' needs credentials_secret, the ARN of the "
                "Secrets Manager secret with the SCRAM user → add the stack's "
                "credentials_secret to the endpoint"
            )

    def as_mapping(self) -> dict[str, Any]:
        """The endpoint as plain values: the Ansible variable `recstack_kafka`."""
        return asdict(self)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> KafkaEndpoint:
        """The endpoint from its mapping (`recstack_kafka`, which a cloud stack exports);
        unset fields take the local broker's defaults."""
        unknown = sorted(set(raw) - set(FIELDS))
        if unknown:
            raise KafkaEndpointError(
                f"kafka endpoint: unknown key {unknown[0]!r} → use only {', '.join(FIELDS)}"
            )
        texts = {}
        for name in ("bootstrap", "auth", "region", "credentials_secret"):
            value = raw.get(name, "none" if name == "auth" else "")
            if not isinstance(value, str):
                raise KafkaEndpointError(
                    f"kafka endpoint: {name} must be a string, got {type(value).__name__} "
                    f"→ set {name} to a string"
                )
            texts[name] = value
        tls = raw.get("tls", False)
        if not isinstance(tls, bool):
            raise KafkaEndpointError(
                f"kafka endpoint: tls must be true or false, got {tls!r} → set tls to a boolean"
            )
        return cls(**texts, tls=tls)

    def environment(self) -> dict[str, str]:
        """The endpoint as process environment variables, RECSTACK_KAFKA_<FIELD>: plain
        values (no quoting needed by any service manager)."""
        values = asdict(self) | {"tls": "true" if self.tls else "false"}
        return {_variable(name): values[name] for name in FIELDS}


def from_environment(env: Mapping[str, str] = os.environ) -> KafkaEndpoint:
    """The endpoint a process was given (`KafkaEndpoint.environment()`); only the
    bootstrap list is required, the other fields default to the local broker's."""
    if not env.get(_variable("bootstrap")):
        raise KafkaEndpointError(
            f"{_variable('bootstrap')} is not set → pass the kafka endpoint to the process "
            "(KafkaEndpoint.environment())"
        )
    raw: dict[str, Any] = {name: env[_variable(name)] for name in FIELDS if _variable(name) in env}
    if "tls" in raw:
        if raw["tls"] not in ("true", "false"):
            raise KafkaEndpointError(
                f"{_variable('tls')} must be true or false, got {raw['tls']!r}"
            )
        raw["tls"] = raw["tls"] == "true"
    return KafkaEndpoint.from_mapping(raw)


def hps_persistent_group(hostname: str) -> str:
    return f"{HPS_PERSISTENT_GROUP_PREFIX}{hostname}"


def _variable(name: str) -> str:
    return f"{ENVIRONMENT_PREFIX}{name.upper()}"


def as_dict() -> dict[str, Any]:
    return {
        "topics": [asdict(t) for t in TOPICS],
        "interactions_topic": INTERACTIONS.name,
        "stream_processor_group": STREAM_PROCESSOR_GROUP,
        "embeddings_topic": EMBEDDINGS.name,
        "auth_modes": list(AUTH_MODES),
        "environment_prefix": ENVIRONMENT_PREFIX,
    }
