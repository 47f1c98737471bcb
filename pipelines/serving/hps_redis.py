"""HPS's volatile tier: a table's rows in its Redis partition hashes (hps_layout.py),
written as HPS inserts them and read as HPS reads them, on a standalone server or a
cluster alike: each command addresses one hash, so one cluster slot. The model load and
the updater write through it, the online trainer reads the rows it starts from.

The serving lookup reads Redis itself (hps_lookup.py): it answers from RocksDB where
Redis fails, where this raises.
"""

from __future__ import annotations

import numpy as np
import redis

from .hps_layout import key_fields, partition_groups, value_hash, vector_values

# Fields per HSET: one command stays well under Redis's 512 MB request limit and a
# cluster node is never blocked for long.
HSET_FIELDS = 4096
# Fields queued before the pipeline is sent: a whole table is never held in memory as
# commands, and an update batch is one round trip.
PIPELINE_FIELDS = 65_536


class RedisTier:
    def __init__(self, client: redis.Redis | redis.RedisCluster, num_partitions: int) -> None:
        self._client = client
        self._partitions = num_partitions

    def write(self, tag: str, keys: np.ndarray, vectors: np.ndarray) -> None:
        pipe = self._client.pipeline(transaction=False)
        queued = 0
        for partition, rows in partition_groups(keys, self._partitions):
            for start in range(0, len(rows), HSET_FIELDS):
                chunk = rows[start : start + HSET_FIELDS]
                fields = zip(key_fields(keys[chunk]), vector_values(vectors[chunk]), strict=True)
                pipe.hset(value_hash(tag, partition), mapping=dict(fields))
                queued += len(chunk)
                if queued >= PIPELINE_FIELDS:
                    pipe.execute()
                    queued = 0
        if queued:
            pipe.execute()

    def read(self, tag: str, keys: np.ndarray) -> list[bytes | None]:
        """Each key's stored value, None where the table has none."""
        values: list[bytes | None] = [None] * len(keys)
        groups = partition_groups(keys, self._partitions)
        pipe = self._client.pipeline(transaction=False)
        for partition, rows in groups:
            pipe.hmget(value_hash(tag, partition), key_fields(keys[rows]))
        for (_, rows), reply in zip(groups, pipe.execute() if groups else [], strict=True):
            for position, value in zip(rows.tolist(), reply, strict=True):
                values[position] = value
        return values
