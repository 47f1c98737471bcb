"""Embedding lookup through HPS's tiers on CPU: an in-process cache, then Redis, then
the host's RocksDB, then the table's default vector (HugeCTR `HierParameterServer::lookup`,
with the GPU cache's place taken by a bounded in-process cache).

Per batch only the unique keys are looked up. Redis is read as HPS reads it: one HMGET
per partition hash, pipelined. A key Redis lacks is read from RocksDB; a key no tier
holds gets the default vector (HPS's default_value_for_each_table), never an error.
When Redis fails (unreachable, a partition's node failing over, a cluster without a
node for a slot) the keys it did not answer are read from RocksDB, and Redis is left
alone for `redis_retry_s` so that each batch does not wait out a timeout. The client is
made on first use (`connect`), so a stage starts while Redis is down; whoever gives
`connect` owns and closes what it returns.

A cached vector is used for at most `refresh_s`, and RocksDB's newer writes become
visible at the same pace (at least a second apart): an update streamed into the tiers
reaches answers within that time, as HPS's GPU cache refresh does.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import redis
from redis.exceptions import RedisClusterException

from .hps_layout import KEY_DTYPE, VALUE_DTYPE, key_fields, partition_groups, value_hash

if TYPE_CHECKING:  # every stage's Triton model imports this module: no rocksdict for them
    from .hps_rocksdb import RocksDbReader

# What a Redis read can raise: redis-py's cluster errors are not RedisErrors.
REDIS_FAILURES = (redis.RedisError, RedisClusterException)
# The fastest RocksDB is asked to catch up with its writer.
CATCH_UP_MIN_S = 1.0
# An embedding cache's first allocation, in entries (a few batches' keys).
_FIRST_SLOTS = 4096


@dataclass
class LookupCounts:
    """Rows (unique keys per batch) served by each tier since the lookup started."""

    cache: int = 0
    redis: int = 0
    rocksdb: int = 0
    default: int = 0

    @property
    def hit_rate(self) -> float:
        total = self.cache + self.redis + self.rocksdb + self.default
        return self.cache / total if total else 0.0


TIERS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(LookupCounts))


class EmbeddingCache:
    """At most `capacity` vectors; an entry older than `refresh_s` is a miss. When it is
    full, the least recently used entries go, an eighth of the capacity at a time, so
    that evicting is rare work and not a step of every batch. Its arrays grow with what
    it holds (doubling, up to `capacity`), so a large capacity costs memory only once
    it is used.

    A batch's keys are looked up and stored together: the vectors sit in one array, and
    only the key -> slot map is Python (one dict read per key), which is what keeps a
    batch of a few hundred keys well under a millisecond."""

    def __init__(self, capacity: int, refresh_s: float) -> None:
        self.capacity = capacity
        self.refresh_s = refresh_s
        self._slots: dict[int, int] = {}
        self._keys = np.zeros(0, KEY_DTYPE)
        self._stored_at = np.zeros(0)
        self._used_at = np.zeros(0)
        self._vectors = np.zeros((0, 0), np.float32)
        # The free slots, a stack whose top is at _free_count - 1.
        self._free = np.zeros(0, np.int64)
        self._free_count = 0

    def __len__(self) -> int:
        return len(self._slots)

    def clear(self) -> None:
        self._slots.clear()
        self._free[:] = np.arange(len(self._free))
        self._free_count = len(self._free)

    def find(self, keys: np.ndarray, now: float) -> tuple[np.ndarray, np.ndarray]:
        """For unique `keys`: which are cached and fresh (bool mask), and their vectors."""
        slots = self._slots_of(keys)
        hit = slots >= 0
        hit[hit] = now - self._stored_at[slots[hit]] <= self.refresh_s
        used = slots[hit]
        self._used_at[used] = now
        return hit, self._vectors[used]

    def store(self, keys: np.ndarray, vectors: np.ndarray, now: float) -> None:
        """Unique `keys` with their vectors, read from a tier at `now`."""
        if self.capacity == 0 or not len(keys):
            return
        keys, vectors = keys[-self.capacity :], vectors[-self.capacity :]
        slots = self._slots_of(keys)
        new = np.flatnonzero(slots < 0)
        self._grow(len(self._slots) + len(new), vectors.shape[1])
        self._make_room(len(new), keep=slots[slots >= 0])
        self._free_count -= len(new)
        taken = self._free[self._free_count : self._free_count + len(new)]
        slots[new] = taken
        self._slots.update(zip(keys[new].tolist(), taken.tolist(), strict=True))
        self._keys[slots] = keys
        self._vectors[slots] = vectors
        self._stored_at[slots] = now
        self._used_at[slots] = now

    def _slots_of(self, keys: np.ndarray) -> np.ndarray:
        """Each key's slot, -1 where it has none (map: no Python frame per key)."""
        found = map(self._slots.get, keys.tolist(), itertools.repeat(-1))
        return np.fromiter(found, np.int64, len(keys))

    def _grow(self, wanted: int, vec_size: int) -> None:
        """Room for `wanted` entries where capacity allows; the new slots are free."""
        size = len(self._keys)
        if wanted <= size or size == self.capacity:
            return
        grown = min(self.capacity, max(wanted, 2 * size, _FIRST_SLOTS))
        added = grown - size
        self._keys = np.concatenate([self._keys, np.zeros(added, KEY_DTYPE)])
        self._stored_at = np.concatenate([self._stored_at, np.zeros(added)])
        self._used_at = np.concatenate([self._used_at, np.zeros(added)])
        vectors = np.zeros((grown, vec_size), np.float32)
        if size:
            vectors[:size] = self._vectors
        self._vectors = vectors
        free = np.zeros(grown, np.int64)
        free[: self._free_count] = self._free[: self._free_count]
        free[self._free_count : self._free_count + added] = np.arange(size, grown)
        self._free = free
        self._free_count += added

    def _make_room(self, needed: int, keep: np.ndarray) -> None:
        short = needed - self._free_count
        if short <= 0:
            return
        filled = np.fromiter(self._slots.values(), np.int64, len(self._slots))
        # The entries this very store refreshes are the newest: never theirs.
        filled = filled[~np.isin(filled, keep)]
        count = min(len(filled), max(short, self.capacity // 8))
        oldest = filled[np.argpartition(self._used_at[filled], count - 1)[:count]]
        for key in self._keys[oldest].tolist():
            del self._slots[key]
        self._free[self._free_count : self._free_count + count] = oldest
        self._free_count += count


class HpsLookup:
    def __init__(
        self,
        connect: Callable[[], redis.Redis | redis.RedisCluster],
        tag: str,
        num_partitions: int,
        vec_size: int,
        cache: EmbeddingCache,
        rocksdb: RocksDbReader | None = None,
        default_value: float = 0.0,
        redis_retry_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if num_partitions < 1:
            raise ValueError(f"num_partitions must be at least 1, got {num_partitions}")
        self._connect = connect
        self._client: redis.Redis | redis.RedisCluster | None = None
        self._tag = tag
        self._partitions = num_partitions
        self._vec_size = vec_size
        self._value_bytes = vec_size * VALUE_DTYPE.itemsize
        self._cache = cache
        self._rocksdb = rocksdb
        self._default = np.full(vec_size, default_value, np.float32)
        self._redis_retry_s = redis_retry_s
        self._clock = clock
        self._redis_down_until = 0.0
        self._caught_up = clock()
        self.counts = LookupCounts()
        self.redis_errors = 0

    @property
    def cache_size(self) -> int:
        return len(self._cache)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """keys int64 of any shape -> float32 vectors of shape keys.shape + (vec_size,)."""
        now = self._clock()
        if self._rocksdb is not None and now - self._caught_up > max(
            self._cache.refresh_s, CATCH_UP_MIN_S
        ):
            self._rocksdb.catch_up()  # writes applied on this host since become visible
            self._caught_up = now
        unique, inverse = np.unique(np.asarray(keys, KEY_DTYPE), return_inverse=True)
        vectors = np.empty((len(unique), self._vec_size), np.float32)
        hit, cached = self._cache.find(unique, now)
        if hit.any():
            vectors[hit] = cached
        missing = np.flatnonzero(~hit).tolist()
        self.counts.cache += len(unique) - len(missing)
        missing = self._fill(vectors, unique, missing, self._from_redis, "redis", now)
        if self._rocksdb is not None:
            missing = self._fill(vectors, unique, missing, self._from_rocksdb, "rocksdb", now)
        vectors[missing] = self._default
        self.counts.default += len(missing)
        return vectors[inverse.reshape(np.shape(keys))]

    def _fill(
        self,
        vectors: np.ndarray,
        unique: np.ndarray,
        rows: list[int],
        read: Callable[[np.ndarray], list[bytes | None]],
        tier: str,
        now: float,
    ) -> list[int]:
        """Fill `rows` from one tier; the rows it lacks."""
        if not rows:
            return rows
        values = read(unique[rows])
        still_missing, filled = [], []
        for row, value in zip(rows, values, strict=True):
            if value is None or len(value) != self._value_bytes:
                still_missing.append(row)
                continue
            vectors[row] = np.frombuffer(value, VALUE_DTYPE)
            filled.append(row)
        self._cache.store(unique[filled], vectors[filled], now)
        setattr(self.counts, tier, getattr(self.counts, tier) + len(rows) - len(still_missing))
        return still_missing

    def _from_redis(self, keys: np.ndarray) -> list[bytes | None]:
        values: list[bytes | None] = [None] * len(keys)
        if self._clock() < self._redis_down_until:
            return values
        groups = partition_groups(keys, self._partitions)
        try:
            if self._client is None:
                self._client = self._connect()
            pipe = self._client.pipeline(transaction=False)
            for partition, group in groups:
                pipe.hmget(value_hash(self._tag, partition), key_fields(keys[group]))
            # A partition whose node fails answers with its error; the others still count.
            replies = pipe.execute(raise_on_error=False)
        except REDIS_FAILURES:
            replies = [None] * len(groups)
        failed = False
        for (_, group), reply in zip(groups, replies, strict=True):
            if reply is None or isinstance(reply, Exception):
                failed = True
                continue
            for position, value in zip(group.tolist(), reply, strict=True):
                values[position] = value
        if failed:
            self.redis_errors += 1
            self._redis_down_until = self._clock() + self._redis_retry_s
        return values

    def _from_rocksdb(self, keys: np.ndarray) -> list[bytes | None]:
        assert self._rocksdb is not None
        return self._rocksdb.get(key_fields(keys))
