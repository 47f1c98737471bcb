"""Read Feast's Redis online store directly, without the Feast SDK.

Feast (entity_key_serialization_version 3) stores one Redis hash per entity:
  key    = serialized entity key + project name
           serialized entity key = <u32 number of join keys>, then per join key
           <u32 ValueType.STRING><u32 len><utf-8 name>, then per value
           <u32 ValueType><u32 len><little-endian value bytes>
  fields = murmur3_32("<feature view>:<feature>") as 4 little-endian bytes, one per
           feature, plus "_ts:<feature view>" holding the materialization timestamp
  values = serialized feast.types.Value protobuf messages.
All integers are little-endian. A test compares this reader with the SDK on real Redis.

Reading all entities in one round trip instead of going through the SDK (registry
lookups, protobuf objects, pandas) is what makes the retrieval stage fast. On a single
Redis the HMGETs are written as one pre-encoded buffer and their replies read back on
the same connection, which skips redis-py's per-command layer (the request is the same
as a pipeline's); a cluster gets redis-py's pipeline, which splits the keys by slot.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import mmh3
import numpy as np
from redis.cluster import RedisCluster

# feast.types.Value.ValueType numbers used in entity keys.
_STRING = 2
_INT64 = 4

# Field numbers of the scalar members of the feast.types.Value oneof, by wire type.
_VARINT_FIELDS = {3, 4, 7, 8}  # int32_val, int64_val, bool_val, unix_timestamp_val
_FIXED64_FIELDS = {5}  # double_val
_FIXED32_FIELDS = {6}  # float_val


@dataclass(frozen=True)
class FeastViewLayout:
    """Where one feature view's values for int64 entities live in Redis."""

    project: str
    view: str
    join_key: str
    features: tuple[str, ...]

    @classmethod
    def of(cls, project: str, view, features: tuple[str, ...] | None = None) -> FeastViewLayout:
        """The layout of a feature view of the schema (recstack_contract.features; taken
        by its attributes, so this module needs no import of it): all its features, or
        `features`."""
        return cls(project, view.name, view.entity.join_key, features or view.names())

    def entity_key(self, entity_id: int) -> bytes:
        name = self.join_key.encode()
        return b"".join(
            (
                struct.pack("<III", 1, _STRING, len(name)),
                name,
                struct.pack("<IIq", _INT64, 8, entity_id),
                self.project.encode(),
            )
        )

    @functools.cached_property
    def fields(self) -> tuple[bytes, ...]:
        return tuple(feature_field(self.view, name) for name in self.features)

    @property
    def found_fields(self) -> int:
        """Leading fields of which one must be set for the entity to count as found."""
        return len(self.fields)

    @functools.cached_property
    def hmget_frame(self) -> tuple[bytes, bytes]:
        return _hmget_frame(self.fields)


@dataclass(frozen=True)
class EntityRow:
    """Several views of one entity, read in one HMGET: Feast keeps every view of an
    entity in the same hash. The entity is found when its first view has a value; the
    others may be absent (NaN), say a user without any streamed event yet."""

    views: tuple[FeastViewLayout, ...]

    def __post_init__(self) -> None:
        if not self.views:
            raise ValueError("an entity row needs at least one view")
        first = self.views[0]
        for view in self.views[1:]:
            if (view.project, view.join_key) != (first.project, first.join_key):
                raise ValueError(f"{view.view} is not keyed like {first.view}: no shared row")

    def entity_key(self, entity_id: int) -> bytes:
        return self.views[0].entity_key(entity_id)

    @functools.cached_property
    def features(self) -> tuple[str, ...]:
        return tuple(name for view in self.views for name in view.features)

    @functools.cached_property
    def fields(self) -> tuple[bytes, ...]:
        return tuple(field for view in self.views for field in view.fields)

    @property
    def found_fields(self) -> int:
        return len(self.views[0].fields)

    @functools.cached_property
    def hmget_frame(self) -> tuple[bytes, bytes]:
        return _hmget_frame(self.fields)


# Either reads the same way (read_rows).
RowLayout = FeastViewLayout | EntityRow


def _hmget_frame(fields: tuple[bytes, ...]) -> tuple[bytes, bytes]:
    """RESP encoding of `HMGET <key> <fields…>` around the key: (before, after)."""
    head = b"*%d\r\n$5\r\nHMGET\r\n" % (2 + len(fields))
    tail = b"".join(b"$%d\r\n%s\r\n" % (len(f), f) for f in fields)
    return head, tail


def feature_field(view: str, feature: str) -> bytes:
    return struct.pack("<I", mmh3.hash(f"{view}:{feature}", signed=False))


# Categorical codes repeat across entities: caching decoded values skips most parsing.
@functools.lru_cache(maxsize=65536)
def decode_value(raw: bytes | None) -> float | None:
    """The scalar inside a serialized feast Value message; None when unset or absent."""
    if not raw:
        return None
    tag, pos = _varint(raw, 0)
    number, wire_type = tag >> 3, tag & 7
    if wire_type == 0 and number in _VARINT_FIELDS:
        value, _ = _varint(raw, pos)
        return float(value - (1 << 64) if value >= 1 << 63 else value)
    if wire_type == 1 and number in _FIXED64_FIELDS:
        return struct.unpack_from("<d", raw, pos)[0]
    if wire_type == 5 and number in _FIXED32_FIELDS:
        return struct.unpack_from("<f", raw, pos)[0]
    raise ValueError(f"unsupported feast value (field {number}, wire type {wire_type})")


def encode_int64(value: int) -> bytes:
    """A serialized feast Value holding int64_val (a oneof member: written even when 0)."""
    return b"\x20" + _encode_varint(value & ((1 << 64) - 1))


def encode_timestamp(seconds: float) -> bytes:
    """A serialized google.protobuf.Timestamp, as Feast stores in "_ts:<view>": whole
    seconds and nanoseconds, each left out when zero (proto3 defaults)."""
    nanos_total = round(seconds * 1_000_000_000)
    whole, nanos = divmod(nanos_total, 1_000_000_000)
    out = b""
    if whole:
        out += b"\x08" + _encode_varint(whole & ((1 << 64) - 1))
    if nanos:
        out += b"\x10" + _encode_varint(nanos)
    return out


def timestamp_field(view: str) -> bytes:
    """The hash field of a view's event timestamp."""
    return f"_ts:{view}".encode()


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _varint(raw: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = raw[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def read_rows(
    client, layout: RowLayout, entity_ids: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows (float64, NaN where missing) and a found-mask, in one round trip.

    `client` is a redis.Redis or a redis.RedisCluster.
    """
    keys = [layout.entity_key(int(entity_id)) for entity_id in entity_ids]
    if not keys:
        return np.empty((0, len(layout.features))), np.zeros(0, dtype=bool)
    if isinstance(client, RedisCluster):
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(key, layout.fields)
        replies = pipe.execute()
    else:
        replies = _hmget_many(client, keys, layout)
    decoded = [[decode_value(v) for v in values] for values in replies]
    found = np.array([any(v is not None for v in row[: layout.found_fields]) for row in decoded])
    return np.array(decoded, dtype=np.float64), found  # None becomes NaN


def _hmget_many(client, keys: list[bytes], layout: RowLayout) -> list[list]:
    head, tail = layout.hmget_frame
    request = b"".join(b"%s$%d\r\n%s\r\n%s" % (head, len(key), key, tail) for key in keys)
    # Raw commands on a pooled connection: the client's own Retry covers only connecting
    # here; the serving stages wrap this read in their retry budget (resilience).
    pool = client.connection_pool
    connection = pool.get_connection()
    try:
        connection.send_packed_command([request])
        return [connection.read_response() for _ in keys]
    except BaseException:
        # Unread replies would answer the next caller's commands: drop the connection.
        connection.disconnect()
        raise
    finally:
        pool.release(connection)
