"""The updater applies HPS's update messages to a real Redis (standalone and cluster) and a
real RocksDB in HPS's layout, skips and counts every malformed message, and the serving
lookup sees an applied row within its refresh interval. The messages are encoded by hand
here, byte by byte as the contract gives them, not with the kit's codec; the Kafka side
runs against the deployed broker (test_deployed_hps_updates.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis
from hps_tier import hand_encoded, redis_rows
from redis.cluster import RedisCluster

from pipelines.serving.hps_layout import key_fields, value_hash
from pipelines.serving.hps_lookup import EmbeddingCache, HpsLookup
from pipelines.serving.hps_redis import RedisTier
from pipelines.serving.hps_rocksdb import RocksDbReader, RocksDbWriter
from pipelines.serving.hps_updater import Updater
from recstack_contract import hps

TAG = hps.table_tag()
VEC = 4
PARTITIONS = 8


def stored(client, keys: list[int]) -> dict[int, list[float] | None]:
    return dict(zip(keys, redis_rows(client, TAG, keys, PARTITIONS), strict=True))


def _forget_table(client) -> None:
    for partition in range(PARTITIONS):
        client.delete(value_hash(TAG, partition))


@pytest.fixture
def standalone(redis_server: tuple[str, int]) -> Iterator[redis.Redis]:
    client = redis.Redis(*redis_server)
    _forget_table(client)
    yield client
    _forget_table(client)
    client.close()


@pytest.fixture
def cluster(redis_cluster: RedisCluster) -> Iterator[RedisCluster]:
    """The shared test cluster, without this table before and after."""
    _forget_table(redis_cluster)
    yield redis_cluster
    _forget_table(redis_cluster)


def test_updates_land_in_their_partitions_and_the_last_one_wins(
    standalone: redis.Redis, cluster: RedisCluster
) -> None:
    for client in (standalone, cluster):
        updater = Updater(RedisTier(client, PARTITIONS), {TAG: VEC})
        updater.apply(
            [
                (TAG, None, hand_encoded({k: [k, 1, 2, 3] for k in range(1, 40)})),
                (TAG, None, hand_encoded({7: [70, 0, 0, 0], -5: [0.5, 0, 0, 0]})),
                (TAG, None, hand_encoded({7: [71, 0, 0, 0]})),
            ]
        )
        rows = stored(client, [1, 39, 7, -5, 40])
        assert rows[1] == [1, 1, 2, 3] and rows[39] == [39, 1, 2, 3]
        assert rows[7] == [71, 0, 0, 0] and rows[-5] == [0.5, 0, 0, 0]
        assert rows[40] is None
        assert updater.counts.messages == 3 and updater.counts.rows == 40


def test_malformed_messages_are_counted_and_never_applied(standalone: redis.Redis) -> None:
    updater = Updater(RedisTier(standalone, PARTITIONS), {TAG: VEC})
    good = hand_encoded({1: [1, 1, 1, 1]})
    bad = {
        "key": (TAG, b"k", hand_encoded({2: [2, 2, 2, 2]})),
        "short": (TAG, None, b"HCTR\x10"),
        "magic": (TAG, None, b"RTCH" + hand_encoded({3: [3, 3, 3, 3]})[4:]),
        "value_size": (TAG, None, hand_encoded({4: [4, 4, 4]}, value_size=12)),
        "truncated": (TAG, None, hand_encoded({5: [5, 5, 5, 5]})[:-1]),
        "unknown_table": ("hps_et.other.sparse_embedding0", None, good),
    }
    updater.apply([(TAG, None, good), *bad.values(), (TAG, None, hand_encoded({6: [6] * 4}))])
    assert dict(updater.counts.skipped) == dict.fromkeys(bad, 1)
    assert stored(standalone, [1, 2, 3, 4, 5, 6]) == {
        1: [1, 1, 1, 1],
        2: None,
        3: None,
        4: None,
        5: None,
        6: [6, 6, 6, 6],
    }
    # A beacon (the header alone) is valid and changes nothing.
    updater.apply([(TAG, None, hand_encoded({}, value_size=VEC * 4))])
    assert updater.counts.rows == 2 and sum(updater.counts.skipped.values()) == len(bad)


def test_the_rocksdb_tier_is_updated_and_its_readers_see_it(tmp_path: Path) -> None:
    writer = RocksDbWriter(tmp_path / "db")
    writer.write(TAG, np.array([1, 2], np.int64), np.ones((2, VEC), np.float32))
    reader = RocksDbReader(tmp_path / "db", TAG, tmp_path / "secondary")
    try:
        Updater(writer, {TAG: VEC}).apply(
            [(TAG, None, hand_encoded({2: [9, 9, 9, 9], 3: [3, 3, 3, 3]}))]
        )
        reader.catch_up()
        values = reader.get(key_fields(np.array([1, 2, 3], np.int64)))
    finally:
        reader.close()
        writer.close()
    assert [np.frombuffer(v, "<f4").tolist() for v in values] == [
        [1, 1, 1, 1],
        [9, 9, 9, 9],
        [3, 3, 3, 3],
    ]


def test_the_serving_lookup_sees_an_update_within_its_refresh_interval(
    standalone: redis.Redis,
) -> None:
    now = [0.0]
    lookup = HpsLookup(
        lambda: standalone,
        TAG,
        PARTITIONS,
        VEC,
        EmbeddingCache(100, refresh_s=10),
        clock=lambda: now[0],
    )
    updater = Updater(RedisTier(standalone, PARTITIONS), {TAG: VEC})
    updater.apply([(TAG, None, hand_encoded({42: [1, 2, 3, 4]}))])
    assert lookup.lookup(np.array([42])).tolist() == [[1, 2, 3, 4]]
    updater.apply([(TAG, None, hand_encoded({42: [5, 6, 7, 8]}))])
    now[0] = 9.0  # the cached vector still serves
    assert lookup.lookup(np.array([42])).tolist() == [[1, 2, 3, 4]]
    now[0] = 10.5  # past the refresh interval: the update
    assert lookup.lookup(np.array([42])).tolist() == [[5, 6, 7, 8]]
