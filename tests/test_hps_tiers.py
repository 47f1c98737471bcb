"""Loading a table into HPS's tiers: real Redis (standalone and cluster) and real RocksDB,
read back through the layout HPS uses, not through the loader's own code."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import redis
from redis.cluster import RedisCluster
from rocksdict import Options, Rdict

from pipelines.hugectr.export import write_inference_model
from pipelines.serving.hps_layout import partition_of, value_hash
from pipelines.serving.hps_redis import RedisTier
from pipelines.serving.hps_rocksdb import RocksDbReader, is_loaded, load_exported, write_table
from pipelines.serving.hps_rocksdb_updater import wait_loaded
from pipelines.serving.hugectr_files import SparseTable
from pipelines.serving.spec import ServingSpec
from pipelines.train.dlrm import DLRM
from recstack_contract import hps

PARTITIONS = 8
TAG = hps.table_tag()


@pytest.fixture(scope="module")
def table() -> SparseTable:
    rng = np.random.default_rng(3)
    keys = rng.choice(np.arange(-(10**6), 10**12, 9973), size=5000, replace=False)
    return SparseTable(keys.astype(np.int64), rng.random((5000, 8), dtype=np.float32))


def stored_rows(client: redis.Redis | RedisCluster) -> dict[int, dict[int, bytes]]:
    """partition -> {key: value bytes}, as HGETALL returns the partition hashes."""
    found: dict[int, dict[int, bytes]] = {}
    for partition in range(PARTITIONS):
        fields = client.hgetall(value_hash(TAG, partition))
        found[partition] = {int.from_bytes(k, "little", signed=True): v for k, v in fields.items()}
    return found


@pytest.mark.parametrize("kind", ["standalone", "cluster"])
def test_redis_tier_holds_every_row_in_its_hps_partition(
    kind: str,
    table: SparseTable,
    redis_server: tuple[str, int],
    redis_cluster: RedisCluster,
) -> None:
    client = (
        redis.Redis(host=redis_server[0], port=redis_server[1], db=4)
        if kind == "standalone"
        else redis_cluster
    )
    for _ in range(2):  # a second load leaves exactly the same content
        RedisTier(client, PARTITIONS).write(TAG, table.keys, table.vectors)
        rows = stored_rows(client)
        assert sum(len(r) for r in rows.values()) == len(table.keys)
        for partition, stored in rows.items():
            keys = np.fromiter(stored, np.int64)
            assert (partition_of(keys, PARTITIONS) == partition).all()
        by_key = {k: v for stored in rows.values() for k, v in stored.items()}
        for key, vector in zip(table.keys[:200], table.vectors[:200], strict=True):
            assert np.frombuffer(by_key[int(key)], "<f4").tolist() == vector.tolist()
    # One HMGET reads a partition: its fields are the keys' 8 little-endian bytes.
    first = int(table.keys[0])
    partition = int(partition_of(np.array([first]), PARTITIONS)[0])
    (value,) = client.hmget(value_hash(TAG, partition), [first.to_bytes(8, "little", signed=True)])
    assert np.frombuffer(value, "<f4").tolist() == table.vectors[0].tolist()


def test_rocksdb_tier_holds_every_row_in_the_tables_column_family(
    table: SparseTable, tmp_path: Path
) -> None:
    path = tmp_path / "rocksdb"
    write_table(path, TAG, table)
    write_table(path, TAG, table)
    options = Options(raw_mode=True)
    assert sorted(Rdict.list_cf(str(path), options)) == ["default", TAG]
    db = Rdict(str(path), options, column_families={TAG: Options(raw_mode=True)})
    family = db.get_column_family(TAG)
    fields = [int(k).to_bytes(8, "little", signed=True) for k in table.keys]
    values = family.get(fields)
    assert len(list(family.keys())) == len(table.keys)
    np.testing.assert_array_equal(
        np.frombuffer(b"".join(values), "<f4").reshape(table.vectors.shape), table.vectors
    )
    family.close()
    db.close()


def test_a_serving_host_loads_the_exported_table_once_per_version(tmp_path: Path) -> None:
    model = DLRM([40, 9], 3, 8)
    stage = tmp_path / "scoring" / "1"
    write_inference_model(model, stage)
    spec = ServingSpec(
        model_version="v1",
        key_prefix="t",
        feast_project="p",
        user_view="u",
        user_join_key="user_id",
        user_features=(),
        user_dense_features=(),
        retrieval_candidates=10,
        top_k=2,
        max_per_category=1,
        scoring_mode="hps",
        hps_partitions=8,
        hps_rocksdb_dir=str(tmp_path / "rocksdb"),
        hps_cache_rows=10,
        hps_refresh_s=10.0,
        hps_redis_retry_s=5.0,
    )
    spec.write(stage)
    assert not is_loaded(stage)
    first = load_exported(stage)
    assert first["changed"] and first["rows"] == 49 and is_loaded(stage)
    assert not load_exported(stage)["changed"]
    dataclasses.replace(spec, model_version="v2").write(stage)
    # A new model version: the deployment waits until the host's updater loaded it.
    assert not is_loaded(stage)
    with pytest.raises(SystemExit, match="did not load"):
        wait_loaded(stage, 0.3)
    assert load_exported(stage)["changed"] and is_loaded(stage)
    wait_loaded(stage, 0.3)
    reader = RocksDbReader(tmp_path / "rocksdb", TAG, tmp_path / "secondary")
    values = reader.get([int(k).to_bytes(8, "little", signed=True) for k in range(49)])
    reader.close()
    table = model.embed.table.weight.detach().numpy()
    np.testing.assert_array_equal(np.frombuffer(b"".join(values), "<f4").reshape(49, 8), table)
