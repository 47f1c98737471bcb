"""`recstack events send` against the local broker: the event lands on the interactions
topic keyed by its user, in the contract's format, where the command says it did."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition
from typer.testing import CliRunner

from pipelines.serving.kafka_client import client_config
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


def _positions(local: Endpoints) -> list[TopicPartition]:
    """Where each partition of the interactions topic ends now, as the broker reports it
    (the local broker may report it a little behind, never ahead)."""
    consumer = Consumer({**client_config(local.kafka), "group.id": "recstack-test-offsets"})
    try:
        metadata = consumer.list_topics(INTERACTIONS.name, timeout=10)
        return [
            TopicPartition(
                INTERACTIONS.name,
                partition,
                consumer.get_watermark_offsets(
                    TopicPartition(INTERACTIONS.name, partition), timeout=10
                )[1],
            )
            for partition in metadata.topics[INTERACTIONS.name].partitions
        ]
    finally:
        consumer.close()


def _events_since(local: Endpoints, positions: list[TopicPartition], since: float) -> list:
    """Every event after `positions` stamped at or after `since`: read until 2 s pass
    without a new message (or 30 s in all)."""
    consumer = Consumer(
        {
            **client_config(local.kafka),
            "group.id": f"recstack-test-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    events = []
    try:
        consumer.assign(positions)
        deadline, quiet = time.monotonic() + 30, time.monotonic() + 2
        while time.monotonic() < min(deadline, quiet):
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            quiet = time.monotonic() + 2
            event = decode(message.key(), message.value(), now=time.time())
            if event.ts >= since:
                events.append(event)
    finally:
        consumer.close()
    return events


def test_a_simulation_sends_what_it_reports_at_the_rate_asked(local: Endpoints) -> None:
    positions, since = _positions(local), time.time()
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
    # On the topic: exactly those events, each once.
    received = _events_since(local, positions, since)
    assert len(received) == len({e.event_id for e in received}) == events
    assert sum(e.type == "click" for e in received) == clicks
