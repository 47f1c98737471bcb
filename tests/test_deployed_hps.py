"""The deployed HPS Redis tier holds exactly the published ranker's table: every sampled
row read the way HPS reads it (HMGET of its partition) equals the exported file's."""

from __future__ import annotations

import json

import numpy as np
import pytest
import redis

from pipelines.artifacts import load_latest
from pipelines.config import Paths
from pipelines.hugectr.export import files_in
from pipelines.hugectr.model_files import SparseTable
from pipelines.hugectr.network import ServedShape
from pipelines.serving import keys
from pipelines.serving.hps_layout import key_fields, partition_of, value_hash
from recstack.endpoints import Endpoints

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
