"""Applying HPS's Kafka embedding updates to a tier, as HPS's own consumer does
(HugeCTR `KafkaMessageSource`): the pairs of each message go into the table named by
the message's topic, in the tier's layout (hps_layout.py).

`Updater.handle` takes one batch of consumed messages and returns what to commit. A
message that HPS would discard or misread (hps_messages.REASONS) is counted by reason
and skipped, never applied; a topic that names no table this tier serves is counted
as `unknown_table`. Within a batch a key's last update wins, as it would applied one
message at a time: a key always travels on the same partition, so its updates arrive
in order.

The Redis tier writes each partition's pairs with one pipelined HSET, the RocksDB tier
one write batch per table. Whoever runs the RocksDB tier must be its only writer (the
serving stages read it as secondary instances, hps_rocksdb.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import redis

from .hps_layout import key_fields, partition_of, value_hash, vector_values
from .hps_messages import MalformedMessage, Update, decode
from .hps_rocksdb import RocksDbWriter

UNKNOWN_TABLE = "unknown_table"


class Message(Protocol):
    """What the updater reads of a consumed Kafka message (confluent_kafka.Message)."""

    def topic(self) -> str: ...
    def partition(self) -> int: ...
    def offset(self) -> int: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...


class Tier(Protocol):
    def write(self, tag: str, update: Update) -> None: ...


class RedisTier:
    """HPS's volatile tier: partition N of a table is the hash hps_et{<tag>/p<N>}v."""

    def __init__(self, client: redis.Redis | redis.RedisCluster, num_partitions: int) -> None:
        self._client = client
        self._partitions = num_partitions

    def write(self, tag: str, update: Update) -> None:
        partitions = partition_of(update.keys, self._partitions)
        fields, values = key_fields(update.keys), vector_values(update.vectors)
        pipe = self._client.pipeline(transaction=False)
        for partition in np.unique(partitions).tolist():
            rows = np.flatnonzero(partitions == partition).tolist()
            pipe.hset(value_hash(tag, partition), mapping={fields[r]: values[r] for r in rows})
        pipe.execute()


class RocksDbTier:
    """HPS's persistent tier on this host: one column family per table."""

    def __init__(self, writer: RocksDbWriter) -> None:
        self._writer = writer

    def write(self, tag: str, update: Update) -> None:
        self._writer.write(tag, update.keys, update.vectors)


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

    def handle(self, messages: list[Message]) -> dict[tuple[str, int], int]:
        """Apply the batch; the offsets to commit, by (topic, partition)."""
        pending: dict[str, dict[int, np.ndarray]] = {}
        ends: dict[tuple[str, int], int] = {}
        for message in messages:
            ends[(message.topic(), message.partition())] = message.offset() + 1
            self.counts.messages += 1
            tag = message.topic()
            if tag not in self._vec_sizes:
                self.counts.skipped[UNKNOWN_TABLE] += 1
                continue
            try:
                update = decode(message.value() or b"", self._vec_sizes[tag], message.key())
            except MalformedMessage as refused:
                self.counts.skipped[refused.reason] += 1
                continue
            rows = pending.setdefault(tag, {})
            rows.update(zip(update.keys.tolist(), update.vectors, strict=True))
        for tag, rows in pending.items():
            if rows:
                keys = np.fromiter(rows, np.int64, len(rows))
                self._tier.write(tag, Update(keys, np.stack(list(rows.values()))))
                self.counts.rows += len(rows)
        return ends
