"""Any producer that writes HPS's message format changes what the deployed scoring stage
serves. A message encoded by hand (not with the kit's codec) on the table's topic of
the local broker is applied by the deployed updater (recstack-hps-updater, in HPS's
group `hps.volatile`) and changes the served scores of the candidates whose item rows
it replaced, within the stage's refresh interval; a malformed message just before it
is skipped and counted in the updater's status record (the unit tests count each
kind). The serving host's RocksDB updater (recstack-hps-rocksdb-updater, group
`hps.persistent.<hostname>`) applies it too, and counts the malformed one. The original
rows are published back the same way afterwards, and the scores return to what they
were."""

from __future__ import annotations

import time

import numpy as np
import pytest
import redis
import tritonclient.grpc as grpcclient
from confluent_kafka import Producer
from hps_tier import hand_encoded, redis_rows, rocksdb_rows
from scoring_stage import tier_scoring

from pipelines.config import Paths
from pipelines.serving import service_status as processor_status
from pipelines.serving.hps_layout import partition_of
from pipelines.serving.hps_messages import KEY_GROUPS
from pipelines.serving.kafka_client import client_config
from pipelines.serving.keys import hps_updater as updater_record
from pipelines.serving.spec import ServingSpec
from recstack.endpoints import Endpoints
from recstack.stages import item_id_keys, scoring_inputs, served_scores
from recstack_contract import hps
from recstack_contract.kafka import EMBEDDINGS

pytestmark = pytest.mark.deployed

TAG = hps.table_tag()


def _messages(keys: np.ndarray, vectors: np.ndarray) -> list[tuple[int, bytes]]:
    """Each key's pair on its HPS key group's partition, as any producer must send them
    (README: one key's updates on one partition), so that they stay in order with the
    online trainer's updates of the same rows in every tier."""
    groups = partition_of(keys, KEY_GROUPS) % EMBEDDINGS.partitions
    return [
        (
            int(p),
            hand_encoded(
                dict(zip(keys[groups == p].tolist(), vectors[groups == p].tolist(), strict=True))
            ),
        )
        for p in np.unique(groups)
    ]


def _publish(producer: Producer, messages: list[tuple[int, bytes]]) -> None:
    for partition, value in messages:
        producer.produce(EMBEDDINGS.name, value=value, partition=partition)
    assert producer.flush(30) == 0, "the broker did not acknowledge the updates"


def _wait_for(condition, timeout_s: float, what: str, state=lambda: "") -> float:
    """Seconds until condition() held; a failure says what did not happen and, when
    given, state() at that moment."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if condition():
            return time.monotonic() - start
        time.sleep(0.2)
    pytest.fail(f"{what} within {timeout_s:g} s {state()}".rstrip())


@pytest.mark.usefixtures("training_settled")
def test_a_hand_encoded_update_changes_the_served_scores(
    local: Endpoints, live_redis: redis.Redis, known_users: list[int]
) -> None:
    stage = Paths().model_repository / "scoring" / "1"
    spec = ServingSpec.read(stage)
    reference = tier_scoring(stage, live_redis)
    triton = grpcclient.InferenceServerClient(local.grpc_url())
    arrays = scoring_inputs(triton, known_users[:1])
    user_sparse, user_dense = arrays["user_sparse"], arrays["user_dense"]
    candidates, fallback = arrays["filtered_ids"], arrays["is_fallback"]

    def served() -> np.ndarray:
        return served_scores(triton, arrays)

    want = reference.score(user_sparse, user_dense, candidates, fallback)
    scored = np.isfinite(want)
    assert scored[0, :10].all() and not fallback.any()

    def as_before() -> bool:
        return bool(np.abs(served()[scored] - want[scored]).max() <= 1e-5)

    _wait_for(as_before, spec.hps_refresh_s + 5, "the stage did not score the tier's rows")
    # The item-id rows of the first ten candidates.
    keys = item_id_keys(stage, user_sparse.shape[1], candidates[0, :10])
    client, partitions = live_redis, spec.hps_partitions
    original = np.array(redis_rows(client, TAG, keys, partitions), np.float32)

    # The Redis tier's updater on the trainer host, the RocksDB tier's on the serving host.
    records = [
        updater_record(local.key_prefix, "volatile", local.trainer_hosts[0]),
        updater_record(local.key_prefix, "persistent", local.serving_hosts[0]),
    ]

    def statuses() -> list[dict[str, str]]:
        return [processor_status.read(client, r) for r in records]

    before = statuses()

    def counted_the_malformed_one() -> bool:
        # Counts are the process's own: a restarted updater counts from 0. A replayed
        # batch (a refused commit) may count the message twice.
        return all(
            int(now.get("skipped:value_size", 0))
            >= (
                int(was.get("skipped:value_size", 0))
                if now.get("started_at") == was.get("started_at")
                else 0
            )
            + 1
            for was, now in zip(before, statuses(), strict=True)
        )

    producer = Producer(client_config(local.kafka))
    try:
        # A value size that is not the table's: skipped, and the updater goes on.
        _publish(producer, [(0, b"HCTR\x00\x00\x00\x00junk"), *_messages(keys, original * -3.0)])
        _wait_for(
            lambda: np.abs(served()[0, :10] - want[0, :10]).min() > 1e-4,
            spec.hps_refresh_s + 20,
            "the served scores did not change",
            lambda: (
                f"(Redis holds the update: "
                f"{np.array_equal(redis_rows(client, TAG, keys, partitions), original * -3.0)}; "
                f"served {served()[0, :10]}, before {want[0, :10]}; updaters {statuses()})"
            ),
        )
        np.testing.assert_array_equal(redis_rows(client, TAG, keys, partitions), original * -3.0)
        _wait_for(
            lambda: np.array_equal(rocksdb_rows(keys, original.shape[1]), original * -3.0),
            10,
            "the serving host's RocksDB did not get the update",
        )
        # Counted in the updaters' status records (recstack status), within a report or two.
        _wait_for(
            counted_the_malformed_one,
            processor_status.STALE_AFTER_S,
            "the updaters' status did not count the malformed message",
            lambda: f"before {before}, now {statuses()}",
        )
    finally:
        _publish(producer, _messages(keys, original))
    _wait_for(
        as_before,
        spec.hps_refresh_s + 20,
        "the scores did not return to what they were",
    )
    _wait_for(
        lambda: np.array_equal(rocksdb_rows(keys, original.shape[1]), original),
        10,
        "the serving host's RocksDB did not get the original rows back",
    )
