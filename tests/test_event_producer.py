"""An event the broker never acknowledges is an error that says so, not a silent loss,
and it is given up on: the producer is not kept alive retrying it in the background."""

from __future__ import annotations

import gc
import socket
import weakref

import pytest

from pipelines.streaming.events import EventProducer, EventsNotDelivered
from recstack_contract.kafka import KafkaEndpoint


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unacknowledged_event_fails_the_flush_and_is_dropped() -> None:
    producer = EventProducer(KafkaEndpoint(f"127.0.0.1:{_closed_port()}"))
    producer.send(23, 7, "click")
    with pytest.raises(EventsNotDelivered, match=r"1 event\(s\) not acknowledged .* within 1 s"):
        producer.flush(timeout_s=1)
    # A message still queued holds its delivery callback, and with it the producer.
    left = weakref.ref(producer)
    del producer
    gc.collect()
    assert left() is None, "the undelivered event still holds the producer"
