"""Online feature fetch: the serving path's direct Redis read against the Feast SDK, for
the same entities, in one run."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import redis

from pipelines import schema
from pipelines.serving import feast_layout

from .serving import percentiles_ms


def _alternating(
    first: Callable[[], object], second: Callable[[], object], repeats: int, warmup: int
) -> tuple[list[float], list[float]]:
    """Time two calls in turns, so both see the same machine conditions."""
    for _ in range(warmup):
        first()
        second()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for fn, out in ((first, times[0]), (second, times[1])):
            started = time.perf_counter()
            fn()
            out.append(time.perf_counter() - started)
    return times


def compare(
    client: redis.Redis, feast_repo: str, project: str, user_ids: Sequence[int], repeats: int
) -> dict[str, Any]:
    from feast import FeatureStore

    store = FeatureStore(repo_path=feast_repo)
    refs = [f"{schema.USER_FEATURE_VIEW}:{name}" for name in schema.USER_ONLINE_FEATURES]
    rows = [{"user_id": int(u)} for u in user_ids]
    layout = feast_layout.FeastViewLayout(
        project=project,
        view=schema.USER_FEATURE_VIEW,
        join_key="user_id",
        features=schema.USER_ONLINE_FEATURES,
    )
    sdk, direct = _alternating(
        lambda: store.get_online_features(features=refs, entity_rows=rows).to_dict(),
        lambda: feast_layout.read_rows(client, layout, user_ids),
        repeats,
        warmup=20,
    )
    sdk_stats, direct_stats = percentiles_ms(sdk), percentiles_ms(direct)
    return {
        "entities": len(user_ids),
        "repeats": repeats,
        "feast_sdk": sdk_stats,
        "direct_redis": direct_stats,
        "speedup_p50": round(sdk_stats["p50_ms"] / direct_stats["p50_ms"], 1),
    }
