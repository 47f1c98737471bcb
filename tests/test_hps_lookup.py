"""The CPU lookup through HPS's tiers (cache -> Redis -> RocksDB -> default), against a
real Redis (standalone and cluster) and a real RocksDB loaded in HPS's layout."""

from __future__ import annotations

import socket
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from pipelines.serving.hps_layout import key_fields, partition_of, value_hash
from pipelines.serving.hps_lookup import EmbeddingCache, HpsLookup
from pipelines.serving.hps_redis import RedisTier
from pipelines.serving.hps_rocksdb import RocksDbReader, write_table
from pipelines.serving.hugectr_files import SparseTable

TAG = "hps_et.lookup_test.sparse_embedding0"
PARTITIONS = 8
DIM = 8


def closed_port() -> int:
    """A port nothing listens on (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def table() -> SparseTable:
    rng = np.random.default_rng(5)
    return SparseTable(
        np.arange(2000, dtype=np.int64) * 7 - 300, rng.random((2000, DIM), np.float32)
    )


@pytest.fixture(scope="module")
def standalone(redis_server: tuple[str, int], table: SparseTable) -> redis.Redis:
    client = redis.Redis(host=redis_server[0], port=redis_server[1], db=5)
    RedisTier(client, PARTITIONS).write(TAG, table.keys, table.vectors)
    return client


@pytest.fixture(scope="module")
def rocksdb(tmp_path_factory: pytest.TempPathFactory, table: SparseTable) -> RocksDbReader:
    root = tmp_path_factory.mktemp("rocks")
    write_table(root / "db", TAG, table)
    reader = RocksDbReader(root / "db", TAG, root / "secondary")
    yield reader
    reader.close()


def lookup(client, rocksdb=None, capacity=10_000, clock=None, **options) -> HpsLookup:
    return HpsLookup(
        lambda: client,
        TAG,
        PARTITIONS,
        DIM,
        EmbeddingCache(capacity, 10.0),
        rocksdb,
        clock=clock or Clock(),
        **options,
    )


def rows_of(table: SparseTable, keys: np.ndarray) -> np.ndarray:
    position = {int(k): i for i, k in enumerate(table.keys)}
    return table.vectors[[position[int(k)] for k in keys.ravel()]].reshape(*keys.shape, DIM)


@pytest.mark.parametrize("kind", ["standalone", "cluster"])
def test_vectors_come_from_redis_then_the_cache(
    kind: str, table: SparseTable, standalone: redis.Redis, redis_cluster: RedisCluster
) -> None:
    client = standalone
    if kind == "cluster":
        client = redis_cluster
        RedisTier(client, PARTITIONS).write(TAG, table.keys, table.vectors)
    tiers = lookup(client)
    keys = table.keys[np.random.default_rng(1).choice(2000, size=(40, 5))]
    np.testing.assert_array_equal(tiers.lookup(keys), rows_of(table, keys))
    unique = len(np.unique(keys))
    assert (tiers.counts.redis, tiers.counts.cache) == (unique, 0)
    np.testing.assert_array_equal(tiers.lookup(keys), rows_of(table, keys))
    assert tiers.counts.cache == unique and tiers.counts.hit_rate == 0.5
    assert tiers.cache_size == unique


def test_keys_redis_lacks_come_from_rocksdb_and_unknown_keys_get_the_default(
    table: SparseTable, standalone: redis.Redis, rocksdb: RocksDbReader
) -> None:
    gone = table.keys[:30]
    for key in gone:
        partition = int(partition_of(np.array([key]), PARTITIONS)[0])
        standalone.hdel(value_hash(TAG, partition), *key_fields(np.array([key])))
    unknown = np.array([10**12, -(10**12)], np.int64)
    tiers = lookup(standalone, rocksdb, default_value=0.25)
    got = tiers.lookup(np.concatenate([gone, table.keys[100:110], unknown]))
    np.testing.assert_array_equal(
        got[:40], rows_of(table, np.concatenate([gone, table.keys[100:110]]))
    )
    assert (got[40:] == 0.25).all()
    assert (tiers.counts.rocksdb, tiers.counts.redis, tiers.counts.default) == (30, 10, 2)
    RedisTier(standalone, PARTITIONS).write(
        TAG, table.keys, table.vectors
    )  # restore for the other tests


def test_without_redis_rocksdb_answers_and_redis_is_retried_later(
    table: SparseTable, rocksdb: RocksDbReader
) -> None:
    down = redis.Redis(port=closed_port(), socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    clock = Clock()
    tiers = lookup(down, rocksdb, clock=clock, redis_retry_s=1.0)
    keys = table.keys[200:260]
    np.testing.assert_array_equal(tiers.lookup(keys), rows_of(table, keys))
    assert tiers.redis_errors == 1 and tiers.counts.rocksdb == 60
    tiers.lookup(table.keys[300:310])  # within the retry window: Redis is not tried
    assert tiers.redis_errors == 1
    clock.now += 2
    tiers.lookup(table.keys[400:410])
    assert tiers.redis_errors == 2


def test_the_cache_is_bounded_and_refreshes(table: SparseTable, standalone: redis.Redis) -> None:
    clock = Clock()
    tiers = lookup(standalone, capacity=10, clock=clock)
    tiers.lookup(table.keys[:50])
    assert tiers.cache_size == 10
    key = table.keys[49:50]
    partition = int(partition_of(key, PARTITIONS)[0])
    updated = np.full(DIM, 9.0, np.float32)
    standalone.hset(value_hash(TAG, partition), key_fields(key)[0], updated.tobytes())
    np.testing.assert_array_equal(tiers.lookup(key)[0], table.vectors[49])  # cached
    clock.now += 11
    np.testing.assert_array_equal(tiers.lookup(key)[0], updated)  # refreshed from Redis
    RedisTier(standalone, PARTITIONS).write(TAG, table.keys, table.vectors)


def test_rocksdb_reader_sees_newer_writes_after_catching_up(
    table: SparseTable, tmp_path: Path
) -> None:
    write_table(tmp_path / "db", TAG, table)
    reader = RocksDbReader(tmp_path / "db", TAG, tmp_path / "secondary")
    field = key_fields(table.keys[:1])
    changed = SparseTable(table.keys[:1], np.full((1, DIM), 3.0, np.float32))
    write_table(tmp_path / "db", TAG, changed)
    reader.catch_up()
    assert np.frombuffer(reader.get(field)[0], "<f4").tolist() == [3.0] * DIM
    reader.close()


def test_a_partition_redis_cannot_answer_is_read_from_rocksdb(
    table: SparseTable, redis_server: tuple[str, int], rocksdb: RocksDbReader
) -> None:
    client = redis.Redis(host=redis_server[0], port=redis_server[1], db=8)
    client.flushdb()
    RedisTier(client, PARTITIONS).write(TAG, table.keys, table.vectors)
    broken = 3  # its hash replaced by a string: HMGET answers WRONGTYPE for that partition
    client.delete(value_hash(TAG, broken))
    client.set(value_hash(TAG, broken), "not a hash")
    keys = table.keys[:400]
    tiers = lookup(client, rocksdb)
    np.testing.assert_array_equal(tiers.lookup(keys), rows_of(table, keys))
    in_broken = int((partition_of(keys, PARTITIONS) == broken).sum())
    assert 0 < in_broken < len(keys)
    assert (tiers.counts.rocksdb, tiers.counts.redis) == (in_broken, len(keys) - in_broken)
    assert tiers.redis_errors == 1


def test_a_cluster_that_cannot_be_reached_at_start_is_not_fatal(
    table: SparseTable, rocksdb: RocksDbReader
) -> None:
    port = closed_port()
    tiers = HpsLookup(
        lambda: RedisCluster(host="127.0.0.1", port=port),
        TAG,
        PARTITIONS,
        DIM,
        EmbeddingCache(100, 10.0),
        rocksdb,
    )
    keys = table.keys[500:520]
    np.testing.assert_array_equal(tiers.lookup(keys), rows_of(table, keys))
    assert tiers.redis_errors == 1 and tiers.counts.rocksdb == 20


def test_rocksdb_writes_reach_answers_after_the_refresh_interval(
    table: SparseTable, tmp_path: Path
) -> None:
    write_table(tmp_path / "db", TAG, table)
    reader = RocksDbReader(tmp_path / "db", TAG, tmp_path / "secondary")
    empty = redis.Redis(port=closed_port(), retry=Retry(NoBackoff(), 0))
    clock = Clock()
    tiers = lookup(empty, reader, clock=clock, redis_retry_s=1000.0)
    key = table.keys[7:8]
    try:
        np.testing.assert_array_equal(tiers.lookup(key)[0], table.vectors[7])
        updated = SparseTable(key, np.full((1, DIM), 5.0, np.float32))
        write_table(tmp_path / "db", TAG, updated)
        np.testing.assert_array_equal(tiers.lookup(key)[0], table.vectors[7])  # not yet
        clock.now += 11  # past the cache's refresh interval
        np.testing.assert_array_equal(tiers.lookup(key)[0], updated.vectors[0])
    finally:
        reader.close()


def test_a_full_cache_evicts_the_least_recently_used_entries() -> None:
    cache = EmbeddingCache(16, refresh_s=10.0)
    keys = np.arange(100, 116, dtype=np.int64)
    vectors = np.arange(16 * DIM, dtype=np.float32).reshape(16, DIM)
    cache.store(keys, vectors, now=0.0)
    hit, found = cache.find(keys[:8], now=1.0)  # the first half is used again
    assert hit.all()
    np.testing.assert_array_equal(found, vectors[:8])
    cache.store(np.array([7], np.int64), np.full((1, DIM), 7.0, np.float32), now=2.0)
    # One new key into a full cache: the two least recently used go (an eighth).
    assert len(cache) == 15
    hit, _ = cache.find(keys, now=3.0)
    assert hit[:8].all() and hit[8:].sum() == 6
    hit, found = cache.find(np.array([7], np.int64), now=3.0)
    assert hit.all() and (found == 7.0).all()
    # Past refresh_s an entry is a miss, though it still holds its slot.
    assert not cache.find(keys[:1], now=12.0)[0].any() and len(cache) == 15


def test_a_large_cache_takes_memory_only_as_it_fills() -> None:
    tracemalloc.start()
    try:
        cache = EmbeddingCache(1_000_000, refresh_s=10.0)
        keys = np.arange(5000, dtype=np.int64)
        cache.store(keys, np.ones((5000, DIM), np.float32), now=0.0)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 5000 entries (8192 slots after doubling), not a million slots' arrays (40 MB).
    assert held < 4_000_000
    hit, found = cache.find(keys, now=1.0)
    assert hit.all() and (found == 1.0).all() and len(cache) == 5000
