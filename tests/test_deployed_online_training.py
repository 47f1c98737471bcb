"""Online training on the deployed system, end to end: clicks sent to the interactions
topic are trained by the deployed online trainer (recstack-online-trainer), its updates
travel in HPS's message format to the updater, which writes them to Redis, and the
scoring stage serves the clicked pair a higher score, exactly the score the tiers' rows
give it by the HugeCTR files' own evaluation; a message that is no event is counted
in the trainer's status record and skipped."""

from __future__ import annotations

import time

import numpy as np
import pytest
import redis
import tritonclient.grpc as grpcclient
from confluent_kafka import Producer
from scoring_stage import tier_scoring

from pipelines.config import Paths
from pipelines.serving import service_status as status
from pipelines.serving.kafka_client import client_config
from pipelines.serving.keys import online_trainer
from pipelines.serving.spec import ServingSpec
from pipelines.streaming.events import EventProducer
from recstack.endpoints import Endpoints
from recstack.stages import scoring_inputs, served_scores
from recstack_contract.kafka import INTERACTIONS

pytestmark = pytest.mark.deployed

CLICKS = 5


def _wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout_s:g} s")
        time.sleep(0.2)


@pytest.mark.usefixtures("training_settled")
def test_clicks_raise_the_served_score_of_the_clicked_pair(
    local: Endpoints, live_redis: redis.Redis, known_users: list[int]
) -> None:
    stage = Paths().model_repository / "scoring" / "1"
    refresh_s = ServingSpec.read(stage).hps_refresh_s
    triton = grpcclient.InferenceServerClient(local.grpc_url())
    # The last of them: the other deployed tests look at the first few users.
    user = known_users[-1]
    arrays = scoring_inputs(triton, [user])
    assert not arrays["is_fallback"].any()
    before = served_scores(triton, arrays)
    column = int(np.flatnonzero(np.isfinite(before[0]))[0])
    item = int(arrays["filtered_ids"][0, column])
    record = online_trainer(local.key_prefix, local.trainer_hosts[0])

    def counted(field: str) -> int:
        return int(status.read(live_redis, record).get(field, 0))

    trained_before, invalid_before = counted("trained"), counted("skipped:invalid_json")
    # No event at all: counted by reason, and the trainer goes on.
    raw = Producer(client_config(local.kafka))
    raw.produce(INTERACTIONS.name, key=str(user).encode(), value=b"{not json")
    assert raw.flush(30) == 0
    producer = EventProducer(local.kafka)
    for _ in range(CLICKS):
        producer.send(user, item, "click")
    producer.flush()
    _wait_for(
        lambda: (
            counted("trained") >= trained_before + CLICKS
            and counted("skipped:invalid_json") == invalid_before + 1
        ),
        30,
        "the online trainer did not train the clicks and count the invalid message",
    )
    _wait_for(
        lambda: served_scores(triton, arrays)[0, column] > before[0, column] + 1e-3,
        refresh_s + 20,
        "the clicked pair's served score did not rise",
    )
    reference = tier_scoring(stage, live_redis)

    def as_the_tiers_rows() -> bool:
        want = reference.score(
            arrays["user_sparse"],
            arrays["user_dense"],
            arrays["filtered_ids"],
            arrays["is_fallback"],
        )
        served = served_scores(triton, arrays)
        return bool(np.abs(served[0, column] - want[0, column]) <= 1e-5)

    _wait_for(as_the_tiers_rows, refresh_s + 5, "the served score is not the tiers' rows'")
