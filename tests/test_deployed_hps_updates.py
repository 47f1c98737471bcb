"""Any producer that writes HPS's message format changes what the deployed scoring stage
serves. A message encoded by hand (not with the kit's codec) on the table's topic of
the local broker is applied by the deployed updater (recstack-hps-updater, in HPS's
group `hps.volatile`) and changes the served scores of the candidates whose item rows
it replaced, within the stage's refresh interval; a malformed message just before it
is skipped (the unit tests count each kind). The original rows are published back the
same way afterwards, and the scores return to the ONNX ranker's."""

from __future__ import annotations

import struct
import time

import numpy as np
import onnxruntime as ort
import pytest
import redis
import tritonclient.grpc as grpcclient
from confluent_kafka import Producer
from scoring_stage import scoring_inputs, served_scores

from pipelines.config import Paths
from pipelines.serving.catalog import Catalog
from pipelines.serving.hps_layout import key_fields, partition_of, slot_keys, value_hash
from pipelines.serving.hugectr_files import ExportedTable, InferenceFiles
from pipelines.serving.scoring import Scoring
from pipelines.serving.spec import HUGECTR_DIRECTORY, RANKER_FILE, ServingSpec
from pipelines.streaming.kafka_client import client_config
from recstack.endpoints import Endpoints
from recstack_contract import hps
from recstack_contract.kafka import EMBEDDINGS

pytestmark = pytest.mark.deployed

TAG = hps.table_tag()


def _hand_encoded(keys: np.ndarray, vectors: np.ndarray) -> bytes:
    value_size = vectors.shape[1] * 4
    body = b"".join(
        struct.pack("<q", int(k)) + struct.pack(f"<{len(v)}f", *v.tolist())
        for k, v in zip(keys, vectors, strict=True)
    )
    return b"HCTR" + struct.pack("<I", value_size) + body


def _publish(producer: Producer, *values: bytes) -> None:
    for value in values:
        producer.produce(EMBEDDINGS.name, value=value, partition=0)
    assert producer.flush(30) == 0, "the broker did not acknowledge the updates"


def _wait_for(condition, timeout_s: float, what: str) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if condition():
            return time.monotonic() - start
        time.sleep(0.2)
    pytest.fail(f"{what} within {timeout_s:g} s")


def test_a_hand_encoded_update_changes_the_served_scores(
    local: Endpoints, live_redis: redis.Redis, known_users: list[int]
) -> None:
    stage = Paths().model_repository / "scoring" / "1"
    spec = ServingSpec.read(stage)
    catalog = Catalog.load(stage)
    reference = Scoring(ort.InferenceSession(str(stage / RANKER_FILE)), catalog)
    triton = grpcclient.InferenceServerClient(local.grpc_url())
    arrays = scoring_inputs(triton, known_users[:1])
    user_sparse, user_dense = arrays["user_sparse"], arrays["user_dense"]
    candidates, fallback = arrays["filtered_ids"], arrays["is_fallback"]

    def served() -> np.ndarray:
        return served_scores(triton, arrays)

    want = reference.score(user_sparse, user_dense, candidates, fallback)
    scored = np.isfinite(want)
    assert scored[0, :10].all() and not fallback.any()

    def as_the_onnx_ranker() -> bool:
        return bool(np.abs(served()[scored] - want[scored]).max() <= 1e-5)

    assert as_the_onnx_ranker()
    # The item-id rows of the first ten candidates.
    rows, _ = catalog.rows(candidates[0, :10])
    table = ExportedTable.read(InferenceFiles.under(stage / HUGECTR_DIRECTORY, hps.MODEL).network)
    slot_sizes = table.slot_sizes
    width = user_sparse.shape[1]
    codes = np.zeros((len(rows), len(slot_sizes)), np.int64)
    codes[:, width:] = catalog.sparse[rows]
    keys = slot_keys(codes, slot_sizes)[:, width]
    client, partitions = live_redis, spec.hps_partitions
    original = _stored(client, keys, partitions)

    producer = Producer(client_config(local.kafka))
    try:
        # A value size that is not the table's: skipped, and the updater goes on.
        _publish(producer, b"HCTR\x00\x00\x00\x00junk", _hand_encoded(keys, original * -3.0))
        _wait_for(
            lambda: np.abs(served()[0, :10] - want[0, :10]).min() > 1e-4,
            spec.hps_refresh_s + 20,
            "the served scores did not change",
        )
        np.testing.assert_array_equal(_stored(client, keys, partitions), original * -3.0)
    finally:
        _publish(producer, _hand_encoded(keys, original))
    _wait_for(
        as_the_onnx_ranker,
        spec.hps_refresh_s + 20,
        "the scores did not return to the ONNX ranker's",
    )


def _stored(client: redis.Redis, keys: np.ndarray, partitions: int) -> np.ndarray:
    """The keys' vectors in the Redis tier, read as HPS reads them."""
    rows = []
    for key in keys:
        array = np.array([key], np.int64)
        hash_name = value_hash(TAG, int(partition_of(array, partitions)[0]))
        rows.append(np.frombuffer(client.hmget(hash_name, key_fields(array))[0], "<f4"))
    return np.stack(rows)
