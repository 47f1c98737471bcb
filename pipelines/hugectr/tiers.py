"""Loading an embedding table into HPS's two database tiers, in HPS's own layout
(pipelines/serving/hps_layout.py): the Redis volatile tier, shared by the serving hosts,
and the RocksDB persistent tier on each serving host.

HPS itself inserts every sparse file into both tiers at each start; the kit loads them
before the serving stages start, so a CPU host serves from the same bytes a GPU host's
HPS would, and a GPU host's HPS overwrites them with the same values. Writing a value
that is already there changes nothing, so a load can be repeated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import redis
from rocksdict import Options, Rdict, WriteBatch

from pipelines.serving.hps_layout import key_fields, partition_of, value_hash, vector_values

from .model_files import SparseTable

# Fields per HSET: one command stays well under Redis's 512 MB request limit and a
# cluster node is never blocked for long.
REDIS_BATCH = 4096
# Rows per RocksDB write batch (HPS's persistent_db max_batch_size default).
ROCKSDB_BATCH = 65_536


def load_redis(
    client: redis.Redis | redis.RedisCluster, tag: str, table: SparseTable, num_partitions: int
) -> None:
    """Write every row into its partition's hash; each HSET addresses one hash, so one
    cluster slot, and works the same on a standalone server and a cluster."""
    partitions = partition_of(table.keys, num_partitions)
    pipe = client.pipeline(transaction=False)
    for partition in range(num_partitions):
        rows = np.flatnonzero(partitions == partition)
        for start in range(0, len(rows), REDIS_BATCH):
            chunk = rows[start : start + REDIS_BATCH]
            fields = dict(
                zip(
                    key_fields(table.keys[chunk]),
                    vector_values(table.vectors[chunk]),
                    strict=True,
                )
            )
            pipe.hset(value_hash(tag, partition), mapping=fields)
        pipe.execute()


def open_rocksdb(path: Path) -> Rdict:
    """The database at `path` with every column family it has, keys and values as raw
    bytes (rocksdict otherwise prefixes a type tag to each)."""
    options = _raw_options()
    families = Rdict.list_cf(str(path), options) if (path / "CURRENT").exists() else []
    return Rdict(str(path), options, column_families={n: _raw_options() for n in families})


def load_rocksdb(path: Path, tag: str, table: SparseTable) -> None:
    """Write every row into the table's column family (created on first use, as HPS does)."""
    path.mkdir(parents=True, exist_ok=True)
    db = open_rocksdb(path)
    try:
        if tag not in Rdict.list_cf(str(path), _raw_options()):
            db.create_column_family(tag, _raw_options()).close()
        family = db.get_column_family_handle(tag)
        keys, values = key_fields(table.keys), vector_values(table.vectors)
        for start in range(0, len(keys), ROCKSDB_BATCH):
            batch = WriteBatch(raw_mode=True)
            batch.set_default_column_family(family)
            for key, value in zip(
                keys[start : start + ROCKSDB_BATCH],
                values[start : start + ROCKSDB_BATCH],
                strict=True,
            ):
                batch.put(key, value)
            db.write(batch)
        db.flush_wal(True)
    finally:
        db.close()


def _raw_options() -> Options:
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    return options
