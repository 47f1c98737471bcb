"""HPS's layout of an embedding table in Redis and RocksDB, and its partition function.

Taken from HugeCTR 23.08/24.06 (`redis_backend.cpp`, `rocksdb_backend.cpp`,
`database_backend_detail.hpp`), so that HPS, the kit's loaders and the kit's CPU scoring
stage read and write the same bytes:

- A table is named by its tag, `hps_et.<model>.<table>` (recstack_contract.hps).
- Redis: partition N of a table is the hash `hps_et{<tag>/p<N>}v`. Its fields are the
  keys' raw bytes (int64, little-endian: ps.json `supportlonglong`), its values the
  vectors' raw float32 bytes. The braces are a hash tag, so a partition lives in one
  cluster slot and one HMGET reads it. Under the default overflow policy (evict_random)
  HPS writes no `...}t` metadata hash, and neither does the kit.
- RocksDB: one column family per table, named by the tag; the same key and value bytes.
- A key's partition is rrxmrrxmsx_0(key) % num_partitions. HPS never moves keys between
  partitions, so num_partitions must not change once a table is written.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

KEY_DTYPE = np.dtype("<i8")
VALUE_DTYPE = np.dtype("<f4")


def slot_keys(codes: np.ndarray, slot_sizes: Sequence[int]) -> np.ndarray:
    """The table keys of raw codes [B, slots]: each slot owns rows offset..offset+size-1
    and a code folds into them modulo the size, as the PyTorch embedding does."""
    sizes = np.asarray(slot_sizes, dtype=np.int64)
    return np.remainder(codes, sizes) + (np.cumsum(sizes) - sizes)


def value_hash(tag: str, partition: int) -> str:
    return f"hps_et{{{tag}/p{partition}}}v"


def rrxmrrxmsx_0(keys: np.ndarray) -> np.ndarray:
    """Pelle Evensen's mixer over the keys as uint64 (int64 by two's complement)."""
    x = np.atleast_1d(np.asarray(keys, dtype=np.int64)).astype(np.uint64)
    # uint64 arithmetic wraps, as the C++ does (numpy warns only for scalars).
    with np.errstate(over="ignore"):
        x = x ^ _rotr(x, 25) ^ _rotr(x, 50)
        x = x * np.uint64(0xA24BAED4963EE407)
        x = x ^ _rotr(x, 24) ^ _rotr(x, 49)
        x = x * np.uint64(0x9FB21C651E98DF25)
    return x ^ (x >> np.uint64(28))


def partition_of(keys: np.ndarray, num_partitions: int) -> np.ndarray:
    return (rrxmrrxmsx_0(keys) % np.uint64(num_partitions)).astype(np.int64)


def partition_groups(keys: np.ndarray, num_partitions: int) -> list[tuple[int, np.ndarray]]:
    """Each partition that holds some of the keys, with the keys' positions in it: one
    Redis command per partition hash reads or writes them."""
    partitions = partition_of(keys, num_partitions)
    order = np.argsort(partitions, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(partitions[order])) + 1)
    return [(int(partitions[group[0]]), group) for group in groups if len(group)]


def key_fields(keys: np.ndarray) -> list[bytes]:
    """Each key's raw bytes: its field in a Redis hash and its key in RocksDB."""
    raw = np.ascontiguousarray(keys, KEY_DTYPE).tobytes()
    width = KEY_DTYPE.itemsize
    return [raw[i : i + width] for i in range(0, len(raw), width)]


def vector_values(vectors: np.ndarray) -> list[bytes]:
    rows = np.ascontiguousarray(vectors, VALUE_DTYPE)
    raw, width = rows.tobytes(), rows.shape[1] * VALUE_DTYPE.itemsize
    return [raw[i : i + width] for i in range(0, len(raw), width)]


def _rotr(x: np.ndarray, n: int) -> np.ndarray:
    return (x >> np.uint64(n)) | (x << np.uint64(64 - n))
