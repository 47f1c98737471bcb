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
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .hps_messages import MalformedMessage, decode

UNKNOWN_TABLE = "unknown_table"
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
