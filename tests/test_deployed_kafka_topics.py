"""The topic creation MSK deployments run (pipelines/streaming/topics.py), against the
real local broker: a topic it lacks is created with the contract's partition count, and
a second call changes nothing. MSK itself cannot run here."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient

from pipelines.serving.kafka_client import client_config
from pipelines.streaming.topics import ensure_topics
from recstack.endpoints import Endpoints
from recstack_contract.kafka import TOPICS, Topic

pytestmark = pytest.mark.deployed


@pytest.fixture
def new_topic(local: Endpoints) -> Iterator[Topic]:
    topic = Topic(f"recstack.test.{uuid.uuid4().hex[:12]}", 2, "a topic this test creates")
    yield topic
    admin = AdminClient(client_config(local.kafka))
    with contextlib.suppress(Exception):
        for future in admin.delete_topics([topic.name], request_timeout=10).values():
            future.result()


def test_the_deployed_broker_has_every_contract_topic(local: Endpoints) -> None:
    assert ensure_topics(local.kafka) == []


def test_a_missing_topic_is_created_once_with_its_partitions(
    local: Endpoints, new_topic: Topic
) -> None:
    assert ensure_topics(local.kafka, (*TOPICS, new_topic)) == [new_topic.name]
    metadata = AdminClient(client_config(local.kafka)).list_topics(timeout=10)
    assert len(metadata.topics[new_topic.name].partitions) == new_topic.partitions
    assert ensure_topics(local.kafka, (*TOPICS, new_topic)) == []
