"""The deployed HPS tiers hold exactly the published ranker's table: every sampled row
read from Redis the way HPS reads it (HMGET of its partition), and every row of the
serving host's RocksDB, equals the exported file's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import redis

from pipelines.artifacts import load_latest
from pipelines.config import Paths
from pipelines.hugectr.export import files_in
from pipelines.hugectr.network import ServedShape
from pipelines.hugectr.settings import HpsSettings
from pipelines.serving import keys
from pipelines.serving.hps_layout import key_fields, partition_of, value_hash
from pipelines.serving.hps_rocksdb import RocksDbReader
from pipelines.serving.hugectr_files import SparseTable
from recstack.endpoints import Endpoints
from recstack_contract import hps

pytestmark = pytest.mark.deployed


def test_sampled_rows_equal_the_exported_table(local: Endpoints, live_redis: redis.Redis) -> None:
    files = files_in(load_latest(Paths().artifacts_dir).path)
    shape = ServedShape.of(json.loads(files.network.read_text()))
    table = SparseTable.read(files.sparse[0], shape.vec_size)
    record = live_redis.hgetall(keys.hps_table(local.key_prefix))
    tag, partitions = record[b"table"].decode(), int(record[b"partitions"])
    rows = np.random.default_rng(0).choice(len(table.keys), size=300, replace=False)
    for row in rows:
        key = table.keys[row : row + 1]
        partition = int(partition_of(key, partitions)[0])
        (value,) = live_redis.hmget(value_hash(tag, partition), key_fields(key))
        assert np.frombuffer(value, "<f4").tolist() == table.vectors[row].tolist()


def test_the_rocksdb_tier_holds_the_exported_table(tmp_path: Path) -> None:
    files = files_in(load_latest(Paths().artifacts_dir).path)
    shape = ServedShape.of(json.loads(files.network.read_text()))
    table = SparseTable.read(files.sparse[0], shape.vec_size)
    reader = RocksDbReader(Path(HpsSettings().rocksdb_dir), hps.table_tag(), tmp_path)
    try:
        values = reader.get(key_fields(table.keys))
    finally:
        reader.close()
    assert None not in values
    np.testing.assert_array_equal(
        np.frombuffer(b"".join(values), "<f4").reshape(table.vectors.shape), table.vectors
    )
