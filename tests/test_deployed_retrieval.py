"""The live retrieval stage reads the streaming features: once the stream processor has
applied a click in another category, the user tower's input has changed, and so have the
candidates (the stage filters nothing, so the click itself cannot change them)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import redis
import tritonclient.grpc as grpcclient

from pipelines import schema
from pipelines.serving import feast_layout
from pipelines.streaming.events import EventProducer
from pipelines.streaming.store import STREAM_LAYOUT
from recstack.endpoints import Endpoints
from recstack_contract.features import ITEM_FEATURES

pytestmark = pytest.mark.deployed

APPLIED_WITHIN_S = 10.0
CATEGORY = STREAM_LAYOUT.features.index("user_last_click_category")


def _candidates(triton: grpcclient.InferenceServerClient, user: int) -> np.ndarray:
    users = grpcclient.InferInput("user_id_raw", [1, 1], "INT32")
    users.set_data_from_numpy(np.array([[user]], dtype=np.int32))
    return triton.infer("retrieval", [users]).as_numpy("candidate_ids")[0]


def _last_click_category(live_redis: redis.Redis, user: int) -> float:
    return feast_layout.read_rows(live_redis, STREAM_LAYOUT, [user])[0][0][CATEGORY]


def test_a_click_in_another_category_moves_the_candidates(
    local: Endpoints, live_redis: redis.Redis, known_users: list[int]
) -> None:
    triton = grpcclient.InferenceServerClient(local.grpc_url())
    items = feast_layout.FeastViewLayout.of(
        local.feast_project, ITEM_FEATURES, (schema.ITEM_CATEGORY,)
    )
    producer = EventProducer(local.kafka)
    for user in known_users[2:5]:
        before = _candidates(triton, user)
        last = _last_click_category(live_redis, user)
        categories = feast_layout.read_rows(live_redis, items, before)[0][:, 0]
        item, category = next(
            (int(i), c) for i, c in zip(before, categories, strict=True) if c != last
        )
        producer.send(user, item, "click")
        producer.flush()
        deadline = time.monotonic() + APPLIED_WITHIN_S
        while _last_click_category(live_redis, user) != category:
            assert time.monotonic() < deadline, f"user {user}'s click was not applied"
            time.sleep(0.05)
        after = _candidates(triton, user)
        assert not np.array_equal(before, after), (
            f"user {user}: the last click's category went from {last:g} to {category:g}, "
            "but the retrieval stage's candidates did not change"
        )
