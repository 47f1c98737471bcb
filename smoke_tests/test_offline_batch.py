"""The offline batch results exist for sampled users, come from the deployed model and
are recent."""

from __future__ import annotations

import time

import pytest
import redis

from pipelines.serving import keys
from recstack.endpoints import Endpoints


def test_batch_topk_exists_and_is_recent(
    request: pytest.FixtureRequest,
    where: Endpoints,
    redis_client: redis.Redis,
    sampled_users: list[int],
    deployed_model: dict[str, str],
) -> None:
    max_age_s = request.config.getoption("--max-batch-age-hours") * 3600
    now = time.time()
    for user in sampled_users:
        key = keys.topk(where.key_prefix, user)
        record = {k.decode(): v.decode() for k, v in redis_client.hgetall(key).items()}
        assert record, f"batch: {key} is missing → check the batch step of `recstack up`"
        items = record["items"].split(",")
        assert len(items) == int(deployed_model["top_k"]), (
            f"batch: {key} holds {len(items)} items, not top_k={deployed_model['top_k']} → "
            "the batch step ran with other serving settings; rerun `recstack up`"
        )
        assert record["model_version"] == deployed_model["version"], (
            f"batch: {key} was produced by {record['model_version']}, but "
            f"{deployed_model['version']} is deployed → rerun the batch step"
        )
        age_s = now - int(record["generated_at"])
        assert -60 <= age_s <= max_age_s, (
            f"batch: {key} is {age_s / 3600:.1f} h old (limit {max_age_s / 3600:.0f} h) → "
            "the batch job is not running"
        )
