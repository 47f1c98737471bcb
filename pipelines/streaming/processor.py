"""The stream processor: interaction events → user histories and streaming features.

`python -m pipelines.streaming.processor --config pipeline.yml` runs as the supervised
service recstack-stream-processor on the trainer hosts, in the consumer group
STREAM_PROCESSOR_GROUP. Redis comes from RECSTACK_REDIS_*, the brokers from
RECSTACK_KAFKA_* (the contract's environment), like every recstack client.

Per batch (up to BATCH_MAX messages: under a burst the batches grow and the Redis writes
stay two pipelined round trips, instead of one per event):
1. decode every message (recstack_contract.events) and check its user and item against
   the deployed dataset; a refused message goes, unchanged, to the dead-letter topic with
   the reason in its headers (INTERACTIONS_DLQ_HEADERS), and is counted;
2. apply the valid events (store.py: idempotent writes);
3. wait until the broker acknowledged the dead letters;
4. only then commit the batch's offsets.
A crash anywhere before 4 replays the batch, which changes nothing that was applied
(effectively once). Redis or the broker failing past the client's retries ends the
process without committing; the service manager starts it again.

Every status.INTERVAL_S the processor writes its state (counters, lag, how old the
newest applied event was) to its status record (status.py), which `recstack status`
shows, and logs the same line whenever it changed.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition

from recstack_contract.events import Event, InvalidEvent, decode
from recstack_contract.kafka import (
    INTERACTIONS,
    INTERACTIONS_DLQ,
    INTERACTIONS_DLQ_HEADERS,
    STREAM_PROCESSOR_GROUP,
    from_environment,
)

from .. import schema
from ..config import load_config
from ..online import redis_connection, until_redis_answers
from ..serving import keys
from ..serving import service_status as status
from ..serving.kafka_client import (
    client_config,
    commit_applied,
    consumer_config,
    received,
    stop_on_signals,
)
from . import activity
from .store import ActivityStore

# The freshness objective: an event produced is reflected in the served answer within
# this (the smoke tests check a click; `make bench` measures p50/p95/p99 under load).
FRESHNESS_SLO_S = 1.0
BATCH_MAX = 2000
POLL_S = 0.05
DLQ_FLUSH_TIMEOUT_S = 30.0
LAG_QUERY_TIMEOUT_S = 5.0
# How long a batch waits for an unreachable Redis before the process gives up.
REDIS_OUTAGE_S = 120.0
# The status fields the log repeats, when they changed (with dead_lettered:<reason>).
LOGGED = ("consumed", "applied", "dead_lettered", "lag", "applied_delay_s", "partitions")


@dataclass(frozen=True)
class Known:
    """The deployed dataset's users, and its items with their categories."""

    users: frozenset[int]
    categories: dict[int, int]
    # dataset_version() when loaded: a new dataset (recstack up) is picked up live.
    version: tuple[int, ...]

    @classmethod
    def load(cls, data_dir: Path) -> Known:
        users = pd.read_parquet(data_dir / schema.USERS_FILE, columns=[schema.USER_KEY])
        return cls(
            users=frozenset(users[schema.USER_KEY].tolist()),
            categories=activity.item_categories(data_dir),
            version=dataset_version(data_dir),
        )

    def current(self, data_dir: Path) -> Known:
        """This, or the dataset now in `data_dir` when it was replaced since."""
        return self if dataset_version(data_dir) == self.version else Known.load(data_dir)

    def check(self, event: Event) -> None:
        if event.user_id not in self.users:
            raise InvalidEvent("unknown_user", f"user {event.user_id} is not in the dataset")
        if event.item_id not in self.categories:
            raise InvalidEvent("unknown_item", f"item {event.item_id} is not in the dataset")


def dataset_version(data_dir: Path) -> tuple[int, ...]:
    return tuple(
        (data_dir / name).stat().st_mtime_ns for name in (schema.USERS_FILE, schema.ITEMS_FILE)
    )


@dataclass
class Counters:
    consumed: int = 0
    applied: int = 0
    dead_lettered: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    largest_batch: int = 0
    # Seconds between the newest applied event's ts and its application.
    applied_delay_s: float = 0.0


class StreamProcessor:
    def __init__(
        self,
        consumer: Consumer,
        dead_letters: Producer,
        store: ActivityStore,
        known: Known,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._consumer = consumer
        self._dead_letters = dead_letters
        self._store = store
        self.known = known
        self._clock = clock
        self.counters = Counters()
        # Set by the first partition assignment (possibly empty): the processor is in its
        # group, which is when the deployment counts it as started.
        self.joined = False

    def on_assign(self, _consumer: Consumer, _partitions: list[TopicPartition]) -> None:
        self.joined = True

    def handle(self, messages: list[Message]) -> None:
        """Apply one batch and commit it (steps 1-4 above)."""
        now = self._clock()
        valid: list[Event] = []
        messages = received(messages)
        for message in messages:
            try:
                event = decode(message.key(), message.value(), now)
                self.known.check(event)
            except InvalidEvent as refused:
                self._dead_letter(message, refused)
                continue
            valid.append(event)
        if valid:
            until_redis_answers(lambda: self._store.apply(valid), REDIS_OUTAGE_S)
        if self._dead_letters.flush(DLQ_FLUSH_TIMEOUT_S):
            raise RuntimeError("the broker did not acknowledge the dead-lettered messages")
        commit_applied(self._consumer, messages)
        counters = self.counters
        counters.consumed += len(messages)
        counters.applied += len(valid)
        counters.batches += 1
        counters.largest_batch = max(counters.largest_batch, len(messages))
        if valid:
            counters.applied_delay_s = self._clock() - max(e.ts for e in valid)

    def _dead_letter(self, message: Message, refused: InvalidEvent) -> None:
        self.counters.dead_lettered[refused.reason] += 1
        value = message.value()
        try:
            self._produce_dead_letter(message, refused.reason, refused.detail, value)
        except KafkaException:
            # Too large with the headers added (the broker took it without them): the
            # dead letter keeps the reason and where the message is, not its value.
            detail = f"{refused.detail} (value of {len(value or b'')} bytes left out)"
            self._produce_dead_letter(message, refused.reason, detail, None)

    def _produce_dead_letter(
        self, message: Message, reason: str, detail: str, value: bytes | None
    ) -> None:
        headers = (reason, detail, str(message.partition()), str(message.offset()))
        self._dead_letters.produce(
            INTERACTIONS_DLQ.name,
            key=message.key(),
            value=value,
            headers=list(zip(INTERACTIONS_DLQ_HEADERS, headers, strict=True)),
            on_delivery=_raise_undelivered,
        )

    def reload_if_changed(self, data_dir: Path) -> None:
        known = self.known.current(data_dir)
        if known is not self.known:
            self.known, self._store.categories = known, known.categories
            print(f"dataset reloaded: {len(known.users)} users", flush=True)

    def lag(self) -> int | None:
        """Messages on the assigned partitions not yet consumed (against the end offsets
        the broker reported with its last fetch responses); None when the broker does
        not say."""
        assigned = self._consumer.assignment()
        if not assigned:
            return 0
        try:
            positions = self._consumer.position(assigned)
            # Before its first fetch a partition has no position: it resumes from its commit.
            unknown = [p for p in positions if p.offset < 0]
            if unknown:
                committed = self._consumer.committed(unknown, timeout=LAG_QUERY_TIMEOUT_S)
                positions = [p for p in positions if p.offset >= 0] + committed
        except KafkaException:
            return None
        total = 0
        for partition in positions:
            _, high = self._consumer.get_watermark_offsets(partition, cached=True)
            if high < 0 or partition.offset < 0:  # nothing fetched or committed yet
                continue
            total += max(0, high - partition.offset)
        return total

    def counts(self) -> dict[str, object]:
        """The processor's part of its status record (serving/service_status.py)."""
        counters = self.counters
        fields: dict[str, object] = {
            "consumed": counters.consumed,
            "applied": counters.applied,
            "dead_lettered": sum(counters.dead_lettered.values()),
            "batches": counters.batches,
            "largest_batch": counters.largest_batch,
            "applied_delay_s": round(counters.applied_delay_s, 3),
            "lag": "unknown" if (lag := self.lag()) is None else lag,
            "partitions": ",".join(str(p.partition) for p in self._consumer.assignment()),
            "joined": "true" if self.joined else "false",
        }
        for reason, count in counters.dead_lettered.items():
            fields[f"dead_lettered:{reason}"] = count
        return fields


def _raise_undelivered(error, _message) -> None:
    # Raised out of flush(): the batch's offsets are not committed.
    if error is not None:
        raise RuntimeError(f"dead letter not delivered: {error}")


def run(config_path: Path, name: str, stop: threading.Event) -> None:
    cfg = load_config(config_path)
    endpoint = from_environment()
    client = redis_connection()
    known = Known.load(cfg.paths.data_dir)
    prefix = cfg.serving.key_prefix
    consumer = Consumer(consumer_config(endpoint, STREAM_PROCESSOR_GROUP))
    processor = StreamProcessor(
        consumer,
        Producer({**client_config(endpoint), "acks": "all", "linger.ms": 5}),
        ActivityStore(client, prefix, known.categories),
        known,
    )
    consumer.subscribe([INTERACTIONS.name], on_assign=processor.on_assign)
    reporter = status.Reporter(client, keys.stream_processor(prefix, name), name, LOGGED)
    print(
        f"stream processor {name}: group {STREAM_PROCESSOR_GROUP}, topic {INTERACTIONS.name}, "
        f"{len(known.users)} users, {len(known.categories)} items",
        flush=True,
    )
    next_status = 0.0
    try:
        while not stop.is_set():
            was_joined = processor.joined
            messages = consumer.consume(num_messages=BATCH_MAX, timeout=POLL_S)
            if messages:
                processor.handle(messages)
            if time.time() >= next_status or processor.joined != was_joined:
                processor.reload_if_changed(cfg.paths.data_dir)
                reporter(processor.counts())
                next_status = time.time() + status.INTERVAL_S
    finally:
        consumer.close()  # leaves the group now: its partitions move without a timeout


def _log_line(state: dict[str, str]) -> str:
    return (
        f"consumed {state['consumed']} applied {state['applied']} "
        f"dead-lettered {state['dead_lettered']} lag {state['lag']} "
        f"delay {state['applied_delay_s']} s partitions [{state['partitions']}]"
    )


def wait_ready(config_path: Path, name: str, timeout_s: float) -> None:
    """Return once the processor `name` on this host runs and is in its group: its status
    says it joined, and the process that wrote it is alive (a stopped predecessor's
    status names a process that is gone)."""
    cfg = load_config(config_path)
    client = redis_connection()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = status.read(client, keys.stream_processor(cfg.serving.key_prefix, name))
        if state.get("joined") == "true" and Path(f"/proc/{state['pid']}").exists():
            print(
                f"stream processor {name} is in group {STREAM_PROCESSOR_GROUP}: {_log_line(state)}"
            )
            return
        time.sleep(0.2)
    sys.exit(
        f"stream processor {name} did not join group {STREAM_PROCESSOR_GROUP} within "
        f"{timeout_s:g} s: see its log (/var/log/recstack/stream-processor/) and check the "
        "brokers (recstack status)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.streaming.processor")
    parser.add_argument("--config", type=Path, required=True, help="the pipeline config file")
    parser.add_argument(
        "--name",
        default=status.host_name(),
        help="this processor's name in recstack status (default: the host name)",
    )
    parser.add_argument(
        "--wait-ready",
        type=float,
        metavar="SECONDS",
        help="do not process: wait until the running processor is in its group",
    )
    args = parser.parse_args(argv)
    if args.wait_ready is not None:
        wait_ready(args.config, args.name, args.wait_ready)
        return
    stop = stop_on_signals()
    run(args.config, args.name, stop)


if __name__ == "__main__":
    main()
