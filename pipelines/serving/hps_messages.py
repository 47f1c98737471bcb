"""HPS's Kafka message format for embedding updates (HugeCTR `kafka_message.cpp`).

One message updates rows of one table; its topic is the table's tag. The message key is
empty; the value is, in little-endian:

    uint32 magic  0x52544348 (the bytes "HCTR")
    uint32 value size in bytes (embedding_vec_size * 4)
    repeated: int64 key, then value-size bytes of float32 vector

An 8-byte value with no pairs is valid and carries nothing (HPS's beacon). The key width
is the consumer's: 8 bytes with ps.json `supportlonglong`, which the kit always sets.
HPS discards a message with a key or the wrong magic; the kit's updater also refuses one
whose value size is not the table's or whose pairs are cut short, and counts each reason.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from .hps_layout import KEY_DTYPE, VALUE_DTYPE, rrxmrrxmsx_0

MAGIC = 0x52544348
HEADER = struct.Struct("<II")
KEY_WIDTH = KEY_DTYPE.itemsize
# HugeCTR's producer default (KafkaMessageSinkParams.send_buffer_size): no message is
# larger, and consumers size their receive buffers for it.
MAX_MESSAGE_BYTES = 256 * 1024
# HugeCTR's producer default (KafkaMessageSinkParams.num_partitions): a message holds
# the keys of one key group, rrxmrrxmsx_0(key) % KEY_GROUPS.
KEY_GROUPS = 8
# Why a message was refused; the updater counts each.
REASONS = ("key", "short", "magic", "value_size", "truncated")


class MalformedMessage(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class Update:
    keys: np.ndarray  # int64 [n]
    vectors: np.ndarray  # float32 [n, vec_size]


def encode(update: Update, max_bytes: int = MAX_MESSAGE_BYTES) -> list[bytes]:
    """The update as messages of at most max_bytes each (at least one pair per message)."""
    vectors = np.ascontiguousarray(update.vectors, VALUE_DTYPE)
    pair = _pair(vectors.shape[1])
    per_message = max(1, (max_bytes - HEADER.size) // pair.itemsize)
    messages = []
    for start in range(0, len(update.keys), per_message):
        rows = np.empty(min(per_message, len(update.keys) - start), pair)
        rows["key"] = update.keys[start : start + len(rows)]
        rows["value"] = vectors[start : start + len(rows)]
        messages.append(HEADER.pack(MAGIC, pair.itemsize - KEY_WIDTH) + rows.tobytes())
    return messages


def sink_messages(update: Update, partition_count: int) -> list[tuple[int, bytes]]:
    """The update as HugeCTR's producer (KafkaMessageSink) sends it: its keys grouped by
    key group, each group's messages on the Kafka partition (group & 0x7fffffff) %
    partition_count. A key's updates thus always travel on one partition, in order."""
    sent = []
    groups = rrxmrrxmsx_0(update.keys) % np.uint64(KEY_GROUPS)
    for group in np.unique(groups).tolist():
        rows = groups == group
        partition = (int(group) & 0x7FFFFFFF) % partition_count
        chosen = Update(update.keys[rows], update.vectors[rows])
        sent += [(partition, message) for message in encode(chosen)]
    return sent


def decode(payload: bytes, vec_size: int, key: bytes | None = None) -> Update:
    """The pairs of one message (its value and its Kafka key) for a table of vec_size
    floats; MalformedMessage if HPS would discard it or misread it."""
    if key:
        raise MalformedMessage("key", f"a {len(key)}-byte message key; HPS's messages have none")
    if len(payload) < HEADER.size:
        raise MalformedMessage("short", f"{len(payload)} bytes, less than the 8-byte header")
    magic, value_size = HEADER.unpack_from(payload)
    if magic != MAGIC:
        raise MalformedMessage("magic", f"magic 0x{magic:08x}, expected 0x{MAGIC:08x} (HCTR)")
    pair = _pair(vec_size)
    if value_size != pair.itemsize - KEY_WIDTH:
        raise MalformedMessage(
            "value_size",
            f"value size {value_size} bytes, the table's vectors are {pair.itemsize - KEY_WIDTH}",
        )
    body = len(payload) - HEADER.size
    if body % pair.itemsize:
        raise MalformedMessage(
            "truncated",
            f"{body} bytes of pairs is not a whole number of {pair.itemsize}-byte pairs",
        )
    pairs = np.frombuffer(payload, pair, offset=HEADER.size)
    return Update(pairs["key"].astype(np.int64), pairs["value"].astype(np.float32))


def _pair(vec_size: int) -> np.dtype:
    """One [key][vector] pair as HPS packs it: no padding between or after the fields."""
    return np.dtype([("key", KEY_DTYPE), ("value", VALUE_DTYPE, (vec_size,))])
