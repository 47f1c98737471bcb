"""The serving path's direct Redis read returns exactly what the Feast SDK returns."""

from __future__ import annotations

import math

import pytest
import redis

from pipelines import schema
from pipelines.serving import feast_layout
from recstack.endpoints import Endpoints

pytestmark = pytest.mark.deployed


def test_direct_read_equals_feast_sdk(
    local: Endpoints, live_redis: redis.Redis, known_users: list[int]
) -> None:
    from feast import FeatureStore

    users = [*known_users[:100], 2_000_000_000]  # and one that is not in the store
    store = FeatureStore(repo_path=local.feast_repo)
    refs = [f"{schema.USER_FEATURE_VIEW}:{name}" for name in schema.USER_ONLINE_FEATURES]
    sdk = store.get_online_features(
        features=refs, entity_rows=[{"user_id": u} for u in users]
    ).to_dict()

    layout = feast_layout.FeastViewLayout(
        project=local.feast_project,
        view=schema.USER_FEATURE_VIEW,
        join_key="user_id",
        features=schema.USER_ONLINE_FEATURES,
    )
    rows, found = feast_layout.read_rows(live_redis, layout, users)

    assert found.tolist() == [True] * (len(users) - 1) + [False]
    for column, name in enumerate(schema.USER_ONLINE_FEATURES):
        for row, expected in enumerate(sdk[name]):
            value = rows[row, column]
            if expected is None:
                assert math.isnan(value), f"{name} for user {users[row]}"
            else:
                assert value == pytest.approx(expected, abs=0, rel=0), (
                    f"{name} for user {users[row]}"
                )
