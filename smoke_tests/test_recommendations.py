"""End to end: the ensemble's answers obey every rule the stages promise."""

from __future__ import annotations

import numpy as np
import pytest
import redis

from pipelines import schema
from pipelines.serving import feast_layout, keys
from recstack import client
from recstack.endpoints import Endpoints


@pytest.fixture(scope="session")
def answers(where: Endpoints, sampled_users: list[int]) -> dict[str, list[client.Recommendation]]:
    """The sampled users' recommendations from each Triton host, in one request each."""
    result = {}
    for host in where.triton_hosts:
        url = where.grpc_url(host)
        try:
            result[url] = client.recommend(url, sampled_users)
        except Exception as exc:  # surface the server's message, not a stack trace
            pytest.fail(
                f"triton {url}: {client.ENSEMBLE} request failed: {exc} → "
                "the Triton log names the failing stage: /var/log/recstack/triton/"
            )
    return result


def test_each_user_gets_k_distinct_known_items(
    answers: dict, where: Endpoints, redis_client: redis.Redis, deployed_model: dict
) -> None:
    k = int(deployed_model["top_k"])
    items = feast_layout.FeastViewLayout(
        project=where.feast_project,
        view=schema.ITEM_FEATURE_VIEW,
        join_key=schema.ITEM_KEY,
        features=schema.ITEM_ONLINE_FEATURES,
    )
    for url, recs in answers.items():
        for rec in recs:
            assert not rec.degraded, (
                f"triton {url}: the answer for user {rec.user_id} is degraded: the stages "
                "could not read Redis → check RECSTACK_REDIS_* in the Triton program's "
                "environment and that Redis answers from the Triton host"
            )
            assert not rec.fallback, (
                f"retrieval via {url}: user {rec.user_id} has history but fell back to popular "
                "items → are user features materialized? check the feature-store step"
            )
            assert len(rec.item_ids) == k, (
                f"ordering via {url}: user {rec.user_id} got {len(rec.item_ids)} items, expected "
                f"{k} → filtering may drop too much; check serving.retrieval_candidates"
            )
            assert len(set(rec.item_ids)) == k, (
                f"ordering via {url}: duplicates for user {rec.user_id}: {rec.item_ids}"
            )
            _, found = feast_layout.read_rows(redis_client, items, rec.item_ids)
            unknown = [i for i, ok in zip(rec.item_ids, found, strict=True) if not ok]
            assert not unknown, (
                f"retrieval via {url}: items {unknown} for user {rec.user_id} are not in the "
                "online item catalog → the FAISS index and the materialized features disagree; "
                "rerun `recstack up`"
            )


def test_no_seen_or_blocked_items(
    answers: dict, where: Endpoints, redis_client: redis.Redis
) -> None:
    blocked = {int(i) for i in redis_client.smembers(keys.blocked(where.key_prefix))}
    for url, recs in answers.items():
        for rec in recs:
            seen = {int(i) for i in redis_client.smembers(keys.seen(where.key_prefix, rec.user_id))}
            assert not seen & set(rec.item_ids), (
                f"filtering via {url}: user {rec.user_id} got already-seen items "
                f"{sorted(seen & set(rec.item_ids))} → check the filtering stage's Redis reads"
            )
            assert not blocked & set(rec.item_ids), (
                f"filtering via {url}: user {rec.user_id} got blocked items "
                f"{sorted(blocked & set(rec.item_ids))} → check {keys.blocked(where.key_prefix)}"
            )


def test_scores_are_non_increasing(answers: dict) -> None:
    for url, recs in answers.items():
        for rec in recs:
            scores = np.asarray(rec.scores)
            assert np.all(np.diff(scores) <= 1e-7), (
                f"ordering via {url}: scores for user {rec.user_id} are not sorted: {scores}"
            )
