"""HPS's bytes as the contract gives them, written and read here without the kit's codec
or lookup: a message encoded by hand, a key's vector read from its partition hash, and
the keys' vectors in this host's RocksDB."""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import numpy as np

from pipelines.hugectr.settings import HpsSettings
from pipelines.serving.hps_layout import key_fields, partition_of, value_hash
from pipelines.serving.hps_rocksdb import RocksDbReader
from recstack_contract import hps


def hand_encoded(pairs: dict[int, list[float]], value_size: int | None = None) -> bytes:
    """b"HCTR", uint32 value size, then int64 key and float32 values per pair (LE)."""
    if value_size is None:
        value_size = 4 * len(next(iter(pairs.values()))) if pairs else 0
    body = b"".join(
        struct.pack("<q", key) + struct.pack(f"<{len(v)}f", *v) for key, v in pairs.items()
    )
    return b"HCTR" + struct.pack("<I", value_size) + body


def rocksdb_rows(keys, vec_size: int) -> np.ndarray:
    """The keys' vectors in this host's RocksDB tier (the deployed `hps.rocksdb_dir`),
    read as a secondary instance, as the stages read it; NaN rows where absent."""
    with tempfile.TemporaryDirectory() as secondary:
        reader = RocksDbReader(Path(HpsSettings().rocksdb_dir), hps.table_tag(), Path(secondary))
        try:
            values = reader.get(key_fields(np.asarray(keys, np.int64)))
        finally:
            reader.close()
    absent = np.full(vec_size, np.nan, np.float32)
    return np.stack([absent if v is None else np.frombuffer(v, "<f4") for v in values])


def redis_rows(client, tag: str, keys, partitions: int) -> list[list[float] | None]:
    """Each key's vector in the Redis tier (HMGET of its partition), None where absent."""
    rows = []
    for key in np.asarray(keys, np.int64).tolist():
        array = np.array([key], np.int64)
        hash_name = value_hash(tag, int(partition_of(array, partitions)[0]))
        (value,) = client.hmget(hash_name, key_fields(array))
        rows.append(None if value is None else np.frombuffer(value, "<f4").tolist())
    return rows
