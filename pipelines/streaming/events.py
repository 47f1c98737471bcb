"""Publishing interaction events (recstack_contract/events.py) to the interactions topic,
with the settings every recstack Kafka client gets (kafka_client.py)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from confluent_kafka import KafkaError, Message, Producer

from recstack_contract.events import Event
from recstack_contract.kafka import INTERACTIONS, KafkaEndpoint

from ..serving.kafka_client import client_config

FLUSH_TIMEOUT_S = 30.0


class EventsNotDelivered(RuntimeError):
    """Events the broker did not acknowledge; says how many and the broker's error."""


@dataclass(frozen=True)
class Delivery:
    event: Event
    partition: int
    offset: int


class EventProducer:
    """Sends events keyed by user id; `flush()` waits until the broker acknowledged every
    one (acks from all in-sync replicas); `last` says where the latest one landed."""

    def __init__(self, endpoint: KafkaEndpoint, linger_ms: int = 5) -> None:
        # linger: a burst leaves in batches, a single event after linger_ms at most.
        self._producer = Producer(
            {**client_config(endpoint), "acks": "all", "linger.ms": linger_ms}
        )
        self.last: Delivery | None = None
        self._errors: list[KafkaError] = []

    def send(
        self,
        user_id: int,
        item_id: int,
        type: str,
        ts: float | None = None,
        event_id: str | None = None,
    ) -> Event:
        event = Event(
            event_id=event_id or uuid.uuid4().hex,
            user_id=user_id,
            item_id=item_id,
            type=type,
            ts=time.time() if ts is None else ts,
        )
        self._publish(event)
        return event

    def _publish(self, event: Event) -> None:
        def delivered(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                self._errors.append(error)
            else:
                self.last = Delivery(event, message.partition(), message.offset())

        while True:
            try:
                self._producer.produce(
                    INTERACTIONS.name, key=event.key(), value=event.value(), on_delivery=delivered
                )
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                self._producer.poll(0.1)
        self._producer.poll(0)

    def flush(self, timeout_s: float = FLUSH_TIMEOUT_S) -> None:
        waiting = self._producer.flush(timeout_s)
        failed = len(self._errors) + waiting
        first = f": {self._errors[0]}" if self._errors else ""
        if waiting:
            # Given up on: without the purge the client would retry them in the
            # background for minutes (its message timeout), each holding this producer
            # through its delivery callback, so it could never be freed.
            self._producer.purge()
            self._producer.poll(0)
        self._errors.clear()
        if failed:
            raise EventsNotDelivered(
                f"{failed} event(s) not acknowledged by the broker within {timeout_s:g} s{first}"
            )
