"""The deployment creates the contract's topics on MSK, which does not create them on
first use, and leaves existing ones alone. MSK cannot run here: an admin client double
records what the real one would be asked, with the configuration client_config gives."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest

from pipelines.streaming.kafka_client import KafkaEndpoint
from pipelines.streaming.topics import ensure_topics
from recstack_contract.kafka import INTERACTIONS, TOPICS


class _Admin:
    def __init__(self, present: set[str], error: Exception | None = None) -> None:
        self.present, self.error = present, error
        self.config: dict[str, Any] = {}
        self.created: list[tuple[str, int]] = []

    def __call__(self, config: dict[str, Any]) -> _Admin:
        self.config = config
        return self

    def list_topics(self, timeout: float) -> Any:
        return type("Metadata", (), {"topics": dict.fromkeys(self.present)})

    def create_topics(self, topics: list, request_timeout: float) -> dict[str, Future]:
        futures = {}
        for topic in topics:
            self.created.append((topic.topic, topic.num_partitions))
            future: Future = Future()
            if self.error:
                future.set_exception(self.error)
            else:
                future.set_result(None)
            futures[topic.topic] = future
        return futures


def test_missing_topics_are_created_with_the_contracts_partitions() -> None:
    admin = _Admin({INTERACTIONS.name})
    created = ensure_topics(KafkaEndpoint("b-1:9092"), admin=admin)
    expected = [(t.name, t.partitions) for t in TOPICS if t is not INTERACTIONS]
    assert admin.created == expected
    assert created == [name for name, _ in expected]
    assert admin.config["bootstrap.servers"] == "b-1:9092"


def test_nothing_is_created_when_every_topic_exists() -> None:
    admin = _Admin({t.name for t in TOPICS})
    assert ensure_topics(KafkaEndpoint("b-1:9092"), admin=admin) == []
    assert admin.created == []


def test_a_refused_creation_fails_with_the_brokers_error() -> None:
    admin = _Admin(set(), RuntimeError("TOPIC_AUTHORIZATION_FAILED: recstack.probes"))
    with pytest.raises(RuntimeError, match="TOPIC_AUTHORIZATION_FAILED"):
        ensure_topics(KafkaEndpoint("b-1:9092"), admin=admin)
