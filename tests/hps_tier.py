"""HPS's bytes as the contract gives them, written and read here without the kit's codec
or lookup: a message encoded by hand, and a key's vector read from its partition hash."""

from __future__ import annotations

import struct

import numpy as np

from pipelines.serving.hps_layout import key_fields, partition_of, value_hash


def hand_encoded(pairs: dict[int, list[float]], value_size: int | None = None) -> bytes:
    """b"HCTR", uint32 value size, then int64 key and float32 values per pair (LE)."""
    if value_size is None:
        value_size = 4 * len(next(iter(pairs.values()))) if pairs else 0
    body = b"".join(
        struct.pack("<q", key) + struct.pack(f"<{len(v)}f", *v) for key, v in pairs.items()
    )
    return b"HCTR" + struct.pack("<I", value_size) + body


def redis_rows(client, tag: str, keys, partitions: int) -> list[list[float] | None]:
    """Each key's vector in the Redis tier (HMGET of its partition), None where absent."""
    rows = []
    for key in np.asarray(keys, np.int64).tolist():
        array = np.array([key], np.int64)
        hash_name = value_hash(tag, int(partition_of(array, partitions)[0]))
        (value,) = client.hmget(hash_name, key_fields(array))
        rows.append(None if value is None else np.frombuffer(value, "<f4").tolist())
    return rows
