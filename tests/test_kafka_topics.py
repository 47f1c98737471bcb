"""A broker that refuses to create a topic (MSK without the IAM permission, say) fails
the deployment with the broker's own error. The local broker creates whatever it is
asked (test_deployed_kafka_topics.py runs creation against it), so a double refuses."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest

from pipelines.streaming.topics import ensure_topics
from recstack_contract.kafka import KafkaEndpoint


class _RefusingAdmin:
    """An admin client of a broker that has no topics and refuses to create any."""

    def __init__(self, _config: dict[str, Any]) -> None:
        pass

    def list_topics(self, timeout: float) -> Any:
        return type("Metadata", (), {"topics": {}})

    def create_topics(self, topics: list, request_timeout: float) -> dict[str, Future]:
        futures = {}
        for topic in topics:
            future: Future = Future()
            future.set_exception(RuntimeError(f"TOPIC_AUTHORIZATION_FAILED: {topic.topic}"))
            futures[topic.topic] = future
        return futures


def test_a_refused_creation_fails_with_the_brokers_error() -> None:
    with pytest.raises(RuntimeError, match=r"TOPIC_AUTHORIZATION_FAILED: recstack\.probes"):
        ensure_topics(KafkaEndpoint("b-1:9092"), admin=_RefusingAdmin)
