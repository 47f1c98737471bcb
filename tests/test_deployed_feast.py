"""The serving path's direct Redis read returns exactly what the Feast SDK returns."""

from __future__ import annotations

import math

import pytest
import redis

from pipelines.serving import feast_layout
from recstack.endpoints import Endpoints
from recstack_contract.features import USER_FEATURES, USER_STREAM_FEATURES, FeatureView

pytestmark = pytest.mark.deployed


# The materialized view, and the streaming one, which the kit writes in Feast's layout
# itself (pipelines/streaming/store.py): the SDK must read both.
@pytest.mark.parametrize("view", [USER_FEATURES, USER_STREAM_FEATURES], ids=lambda v: v.name)
def test_direct_read_equals_feast_sdk(
    local: Endpoints, live_redis: redis.Redis, known_users: list[int], view: FeatureView
) -> None:
    from feast import FeatureStore

    users = [*known_users[:100], 2_000_000_000]  # and one that is not in the store
    store = FeatureStore(repo_path=local.feast_repo)
    refs = [f"{view.name}:{name}" for name in view.names()]
    sdk = store.get_online_features(
        features=refs, entity_rows=[{"user_id": u} for u in users]
    ).to_dict()

    layout = feast_layout.FeastViewLayout.of(local.feast_project, view)
    rows, found = feast_layout.read_rows(live_redis, layout, users)

    assert found.tolist() == [True] * (len(users) - 1) + [False]
    for column, name in enumerate(view.names()):
        for row, expected in enumerate(sdk[name]):
            value = rows[row, column]
            if expected is None:
                assert math.isnan(value), f"{name} for user {users[row]}"
            else:
                assert value == pytest.approx(expected, abs=0, rel=0), (
                    f"{name} for user {users[row]}"
                )
