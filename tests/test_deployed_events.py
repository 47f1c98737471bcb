"""`recstack events send` against the local broker: the event lands on the interactions
topic keyed by its user, in the contract's format, where the command says it did."""

from __future__ import annotations

import re
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition
from typer.testing import CliRunner

from pipelines.streaming.kafka_client import client_config
from recstack.cli import app
from recstack.endpoints import Endpoints
from recstack_contract.events import decode
from recstack_contract.kafka import INTERACTIONS

pytestmark = pytest.mark.deployed


def _read(local: Endpoints, partition: int, offset: int):
    consumer = Consumer(
        {
            **client_config(local.kafka),
            "group.id": f"recstack-test-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.assign([TopicPartition(INTERACTIONS.name, partition, offset)])
        message = consumer.poll(15)
    finally:
        consumer.close()
    assert message is not None and message.error() is None, message and message.error()
    return message


def test_a_sent_click_is_on_the_topic_where_the_command_says(local: Endpoints) -> None:
    result = CliRunner().invoke(
        app, ["events", "send", "--user", "23", "--item", "7", "--type", "click"]
    )
    assert result.exit_code == 0, result.output
    where = re.search(r"event (\w+), \S+ partition (\d+) offset (\d+)", result.output)
    assert where, result.output
    message = _read(local, int(where[2]), int(where[3]))
    event = decode(message.key(), message.value(), now=message.timestamp()[1] / 1000)
    assert (event.event_id, event.user_id, event.item_id, event.type) == (
        where[1],
        23,
        7,
        "click",
    )


def test_an_unknown_type_is_refused_with_its_reason() -> None:
    result = CliRunner().invoke(
        app, ["events", "send", "--user", "23", "--item", "7", "-t", "view"]
    )
    assert result.exit_code == 1
    assert "event not sent: unknown_type" in result.output


def _end_offsets(local: Endpoints) -> int:
    """The interactions topic's messages so far: the sum of its partitions' end offsets."""
    consumer = Consumer({**client_config(local.kafka), "group.id": "recstack-test-offsets"})
    try:
        metadata = consumer.list_topics(INTERACTIONS.name, timeout=10)
        partitions = metadata.topics[INTERACTIONS.name].partitions
        return sum(
            consumer.get_watermark_offsets(TopicPartition(INTERACTIONS.name, p), timeout=10)[1]
            for p in partitions
        )
    finally:
        consumer.close()


def test_a_simulation_sends_what_it_reports_at_the_rate_asked(local: Endpoints) -> None:
    before = _end_offsets(local)
    result = CliRunner().invoke(
        app, ["simulate", "--rate", "200", "--duration", "1", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    sent = re.search(r"sent (\d+) events \((\d+) impressions, (\d+) clicks\)", result.output)
    assert sent, result.output
    events, impressions, clicks = map(int, sent.groups())
    # One tick's share of the rate at most beyond it: a click follows its impression.
    assert 200 <= events <= 202 and events == impressions + clicks
    assert 0 < clicks < impressions
    assert _end_offsets(local) - before == events
