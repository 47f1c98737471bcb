"""Applying HPS's Kafka embedding updates to a tier, as HPS's own consumer does
(HugeCTR `KafkaMessageSource`): the pairs of each message go into the table named by
the message's topic, in the tier's layout (hps_redis.py, hps_rocksdb.py).

`Updater.apply` takes one batch of consumed messages, each as its topic, key and value.
A message that HPS would discard or misread (hps_messages.REASONS) is counted by reason
and skipped, never applied; a topic that names no table this tier serves is counted as
`unknown_table`. Within a batch a key's last update wins, as it would applied one
message at a time: a key always travels on the same partition, so its updates arrive
in order.

The Redis tier writes a batch's rows with one pipeline, the RocksDB tier one write batch
per table. Whoever runs the RocksDB tier must be its only writer (the serving stages
read it as secondary instances, hps_rocksdb.py).

`serve` runs an updater as a service, in HPS's consumer group of its tier: the Redis
tier's from the trainer hosts (pipelines/hugectr/updater.py), each serving host's
RocksDB from that host's stage package (hps_rocksdb_updater.py). The brokers come from
RECSTACK_KAFKA_* (recstack_contract.kafka), like every recstack client.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from confluent_kafka import Consumer, Message

from recstack_contract.kafka import EMBEDDINGS, from_environment

from . import keys, service_status
from .hps_messages import MalformedMessage, decode
from .kafka_client import commit_applied, consume_until, consumer_config, stop_on_signals

UNKNOWN_TABLE = "unknown_table"
BATCH_MAX = 1000
# The status fields the log repeats, when they changed (with skipped:<reason>).
LOGGED = ("messages", "rows", "skipped")
# A consumed message as the updater reads it: its topic, its key and its value.
Received = tuple[str, bytes | None, bytes | None]


class Tier(Protocol):
    """A tier's writer (hps_redis.RedisTier, hps_rocksdb.RocksDbWriter)."""

    def write(self, tag: str, keys: np.ndarray, vectors: np.ndarray) -> None: ...


@dataclass
class UpdaterCounts:
    messages: int = 0
    rows: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


class Updater:
    def __init__(self, tier: Tier, vec_sizes: dict[str, int]) -> None:
        """vec_sizes: each table this tier serves, by tag, with its vector size."""
        self._tier = tier
        self._vec_sizes = vec_sizes
        self.counts = UpdaterCounts()

    def apply(self, messages: Iterable[Received]) -> None:
        pending: dict[str, dict[int, np.ndarray]] = {}
        for tag, key, value in messages:
            self.counts.messages += 1
            if tag not in self._vec_sizes:
                self.counts.skipped[UNKNOWN_TABLE] += 1
                continue
            try:
                update = decode(value or b"", self._vec_sizes[tag], key)
            except MalformedMessage as refused:
                self.counts.skipped[refused.reason] += 1
                continue
            rows = pending.setdefault(tag, {})
            rows.update(zip(update.keys.tolist(), update.vectors, strict=True))
        for tag, rows in pending.items():
            if rows:
                keys = np.fromiter(rows, np.int64, len(rows))
                self._tier.write(tag, keys, np.stack(list(rows.values())))
                self.counts.rows += len(rows)


def counts(updater: Updater, tier: str, group: str) -> dict[str, object]:
    """The updater's part of its status record (service_status.py)."""
    fields: dict[str, object] = {
        "tier": tier,
        "group": group,
        "messages": updater.counts.messages,
        "rows": updater.counts.rows,
        "skipped": sum(updater.counts.skipped.values()),
    }
    fields.update({f"skipped:{r}": n for r, n in updater.counts.skipped.items()})
    return fields


def serve(updater: Updater, tier: str, group: str, key_prefix: str, client) -> None:
    """Apply the table's topic in `group` until SIGTERM or SIGINT, batch by batch: apply,
    then commit (a crash in between replays the batch, which writes the same rows
    again). Every INTERVAL_S the counts go to the updater's status record in `client`'s
    Redis, and to the log when they changed."""
    name = service_status.host_name()
    consumer = Consumer(consumer_config(from_environment(), group))
    consumer.subscribe([EMBEDDINGS.name])
    reporter = service_status.Reporter(
        client, keys.hps_updater(key_prefix, tier, name), name, LOGGED
    )
    print(f"hps updater {name}: tier {tier}, group {group}, topic {EMBEDDINGS.name}", flush=True)
    stop = stop_on_signals()

    def handle(messages: list[Message]) -> None:
        updater.apply((m.topic(), m.key(), m.value()) for m in messages)
        commit_applied(consumer, messages)

    report = (service_status.INTERVAL_S, lambda: reporter(counts(updater, tier, group)))
    consume_until(stop, consumer, handle, BATCH_MAX, report)
