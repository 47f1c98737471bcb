"""The direct reader's key layout and value decoding agree with Feast's own code."""

from __future__ import annotations

import math

import numpy as np
import pytest
import redis
from feast.infra.online_stores.helpers import _mmh3, _redis_key
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value
from google.protobuf.timestamp_pb2 import Timestamp

from pipelines.serving.feast_layout import (
    EntityRow,
    FeastViewLayout,
    decode_value,
    encode_int64,
    encode_timestamp,
    feature_field,
    read_rows,
)

LAYOUT = FeastViewLayout(
    project="recstack", view="user_features", join_key="user_id", features=("a", "b")
)


@pytest.mark.parametrize("entity_id", [0, 1, 23, 2**40, -5])
def test_entity_key_matches_feast(entity_id: int) -> None:
    key = EntityKey(join_keys=["user_id"], entity_values=[Value(int64_val=entity_id)])
    assert LAYOUT.entity_key(entity_id) == _redis_key(
        "recstack", key, entity_key_serialization_version=3
    )


@pytest.mark.parametrize("value", [0, 1, -1, 300, 2**40, -(2**63), 2**63 - 1])
def test_int64_values_are_encoded_as_protobuf_does(value: int) -> None:
    assert encode_int64(value) == Value(int64_val=value).SerializeToString()
    assert decode_value(encode_int64(value)) == float(value)


@pytest.mark.parametrize("seconds", [0.0, 1.5, 1_700_000_000.0, 1_700_000_123.456789])
def test_timestamps_are_encoded_as_protobuf_does(seconds: float) -> None:
    whole, nanos = divmod(round(seconds * 1e9), 10**9)
    expected = Timestamp(seconds=whole, nanos=nanos).SerializeToString()
    assert encode_timestamp(seconds) == expected


def test_field_hashes_match_feast() -> None:
    assert feature_field("user_features", "user_age") == _mmh3("user_features:user_age")
    assert LAYOUT.fields == (_mmh3("user_features:a"), _mmh3("user_features:b"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Value(int64_val=0), 0.0),
        (Value(int64_val=123456789), 123456789.0),
        (Value(int64_val=-7), -7.0),
        (Value(int32_val=42), 42.0),
        (Value(float_val=0.1), 0.10000000149011612),  # float32 precision, as Feast stores it
        (Value(double_val=2.5), 2.5),
        (Value(bool_val=True), 1.0),
    ],
)
def test_decode_matches_protobuf(value: Value, expected: float) -> None:
    assert decode_value(value.SerializeToString()) == expected


def test_missing_values_decode_to_none() -> None:
    assert decode_value(None) is None
    assert decode_value(b"") is None
    assert decode_value(Value().SerializeToString()) is None


def test_unsupported_types_are_rejected() -> None:
    with pytest.raises(ValueError, match="unsupported feast value"):
        decode_value(Value(string_val="x").SerializeToString())


def test_float_roundtrip_is_exact() -> None:
    raw = Value(float_val=math.pi).SerializeToString()
    parsed = Value()
    parsed.ParseFromString(raw)
    assert decode_value(raw) == parsed.float_val


def _store(
    client: redis.Redis, entity_id: int, values: dict[str, Value], view: str = "user_features"
) -> None:
    key = EntityKey(join_keys=["user_id"], entity_values=[Value(int64_val=entity_id)])
    client.hset(
        _redis_key("recstack", key, entity_key_serialization_version=3),
        mapping={_mmh3(f"{view}:{name}"): v.SerializeToString() for name, v in values.items()},
    )


def test_read_rows_from_a_real_redis(redis_server: tuple[str, int]) -> None:
    client = redis.Redis(host=redis_server[0], port=redis_server[1], db=2)
    _store(client, 7, {"a": Value(int64_val=3), "b": Value(float_val=0.5)})
    _store(client, 8, {"a": Value(int64_val=4)})  # b never materialized
    rows, found = read_rows(client, LAYOUT, [7, 8, 9])
    assert found.tolist() == [True, True, False]
    assert rows[0].tolist() == [3.0, 0.5]
    assert rows[1, 0] == 4.0 and math.isnan(rows[1, 1])
    assert np.isnan(rows[2]).all()
    assert read_rows(client, LAYOUT, [])[0].shape == (0, 2)


def test_two_views_of_an_entity_are_read_in_one_row(redis_server: tuple[str, int]) -> None:
    client = redis.Redis(host=redis_server[0], port=redis_server[1], db=2)
    stream = FeastViewLayout("recstack", "user_stream_features", "user_id", ("c",))
    row = EntityRow((LAYOUT, stream))
    _store(client, 20, {"a": Value(int64_val=1), "b": Value(float_val=2.0)})
    _store(client, 20, {"c": Value(int64_val=5)}, view="user_stream_features")
    _store(client, 21, {"a": Value(int64_val=2)})  # no streamed event yet
    _store(client, 22, {"c": Value(int64_val=6)}, view="user_stream_features")
    rows, found = read_rows(client, row, [20, 21, 22])
    assert row.features == ("a", "b", "c")
    assert rows[0].tolist() == [1.0, 2.0, 5.0]
    assert rows[1, 0] == 2.0 and np.isnan(rows[1, 1:]).all()
    # Found means the first view has a value: a streaming row alone is no known user.
    assert found.tolist() == [True, True, False]
    with pytest.raises(ValueError, match="not keyed like"):
        EntityRow((LAYOUT, FeastViewLayout("other", "v", "user_id", ("c",))))


def test_a_failed_read_leaves_the_connection_pool_usable(redis_server: tuple[str, int]) -> None:
    # One connection: a read that kept it, or handed it back with replies still unread,
    # would break the next read.
    # A database of its own: the broken key must not meet other tests' writers.
    client = redis.Redis(host=redis_server[0], port=redis_server[1], max_connections=1, db=2)
    _store(client, 10, {"a": Value(int64_val=1)})
    client.set(LAYOUT.entity_key(11), "not a hash")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        read_rows(client, LAYOUT, [11, 10])
    rows, found = read_rows(client, LAYOUT, [10])
    assert found.tolist() == [True] and rows[0, 0] == 1.0
