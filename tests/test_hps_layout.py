"""HPS's partition function, Redis key layout and Kafka message format, checked against
values computed with HugeCTR's own C++ (contract §3.3, §5.2) and hand-encoded bytes."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from pipelines.serving.hps_layout import (
    key_fields,
    partition_of,
    rrxmrrxmsx_0,
    value_hash,
    vector_values,
)
from pipelines.serving.hps_messages import (
    MAGIC,
    MalformedMessage,
    Update,
    decode,
    encode,
    sink_messages,
)
from recstack_contract import hps

# key -> (hash, % 8, % 16), from HugeCTR's HCTR_HPS_KEY_TO_PART_INDEX_ compiled with g++.
VECTORS = {
    0: (0x0000000000000000, 0, 0),
    1: (0x0DADBFEEB7D64133, 3, 3),
    2: (0x90AEEA2043435D3E, 6, 14),
    42: (0x7E5408D0AA979155, 5, 5),
    12345: (0x47404863DC05E5DB, 3, 11),
    -1: (0xE398180ADC04D6FC, 4, 12),
}


def test_partition_function_matches_hugectr() -> None:
    keys = np.array(list(VECTORS), dtype=np.int64)
    assert [int(h) for h in rrxmrrxmsx_0(keys)] == [v[0] for v in VECTORS.values()]
    assert partition_of(keys, 8).tolist() == [v[1] for v in VECTORS.values()]
    assert partition_of(keys, 16).tolist() == [v[2] for v in VECTORS.values()]


def test_redis_layout() -> None:
    assert hps.table_tag() == "hps_et.ranker.sparse_embedding0"
    assert value_hash(hps.table_tag(), 5) == "hps_et{hps_et.ranker.sparse_embedding0/p5}v"
    assert key_fields(np.array([42, -1])) == [
        bytes.fromhex("2a00000000000000"),
        bytes.fromhex("ffffffffffffffff"),
    ]
    assert vector_values(np.array([[1.0, -2.0]], np.float32)) == [struct.pack("<2f", 1.0, -2.0)]
    assert hps.NAME_PATTERN.fullmatch(hps.MODEL) and hps.NAME_PATTERN.fullmatch(hps.TABLE)


def test_a_hand_encoded_message_decodes_and_ours_matches_it() -> None:
    vector = [0.5, -1.0, 2.0, 3.25]
    hand = bytes.fromhex("48435452100000002a00000000000000") + struct.pack("<4f", *vector)
    update = decode(hand, vec_size=4)
    assert update.keys.tolist() == [42] and update.vectors.tolist() == [vector]
    assert encode(Update(np.array([42]), np.array([vector], np.float32))) == [hand]
    assert struct.pack("<I", MAGIC) == b"HCTR"
    beacon = decode(hand[:8], vec_size=4)
    assert beacon.keys.size == 0


def test_updates_split_into_messages_within_the_limit() -> None:
    keys = np.arange(1000, dtype=np.int64)
    vectors = np.random.default_rng(0).random((1000, 16), dtype=np.float32)
    messages = encode(Update(keys, vectors), max_bytes=4096)
    assert len(messages) > 1 and all(len(m) <= 4096 for m in messages)
    parts = [decode(m, 16) for m in messages]
    np.testing.assert_array_equal(np.concatenate([p.keys for p in parts]), keys)
    np.testing.assert_array_equal(np.concatenate([p.vectors for p in parts]), vectors)


def test_the_sink_groups_keys_as_hugectrs_producer() -> None:
    """Each message holds one key group's keys (hash % 8) and goes to the Kafka partition
    (group & 0x7fffffff) % partitions: with 3 partitions the contract's test keys 0, 1,
    2, 42, 12345 and -1 (groups 0, 3, 6, 5, 3, 4) land on partitions 0, 0, 0, 2, 0, 1."""
    keys = np.array(list(VECTORS), dtype=np.int64)
    vectors = np.arange(len(keys) * 2, dtype=np.float32).reshape(-1, 2)
    sent = sink_messages(Update(keys, vectors), partition_count=3)
    where = {}
    for partition, message in sent:
        update = decode(message, vec_size=2)
        groups = {VECTORS[k][1] for k in update.keys.tolist()}
        assert len(groups) == 1, "a message mixes key groups"
        where.update(dict.fromkeys(update.keys.tolist(), partition))
    assert where == {0: 0, 1: 0, 2: 0, 42: 2, 12345: 0, -1: 1}
    assert len(sent) == 5  # keys 1 and 12345 share group 3


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"HCT", "short"),
        (bytes.fromhex("4843545310000000") + bytes(24), "magic"),
        (bytes.fromhex("484354520c000000") + bytes(20), "value_size"),
        (bytes.fromhex("4843545210000000") + bytes(23), "truncated"),
    ],
)
def test_malformed_messages_are_refused_with_their_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage) as refused:
        decode(payload, vec_size=4)
    assert refused.value.reason == reason
