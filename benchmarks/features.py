"""Online feature fetch: the serving path's direct Redis read against the Feast SDK, for
the same entities, in one run."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import redis

from pipelines import schema
from pipelines.serving import feast_layout

from .serving import percentiles_ms

# Untimed rounds first: they warm up connections and imports.
WARMUP = 20


def compare(
    client: redis.Redis,
    feast_repo: str,
    project: str,
    population: Sequence[int],
    entities: int,
    repeats: int,
) -> dict[str, Any]:
    """Time the SDK and the direct read in turns on the same random `entities` users,
    a new draw per repeat, so neither sees a warmer cache than production would."""
    from feast import FeatureStore

    store = FeatureStore(repo_path=feast_repo)
    refs = [f"{schema.USER_FEATURE_VIEW}:{name}" for name in schema.USER_ONLINE_FEATURES]
    layout = feast_layout.FeastViewLayout(
        project=project,
        view=schema.USER_FEATURE_VIEW,
        join_key="user_id",
        features=schema.USER_ONLINE_FEATURES,
    )
    calls: dict[str, Callable[[list[int]], object]] = {
        "sdk": lambda users: store.get_online_features(
            features=refs, entity_rows=[{"user_id": u} for u in users]
        ).to_dict(),
        "direct": lambda users: feast_layout.read_rows(client, layout, users),
    }
    rng, pool = np.random.default_rng(0), np.asarray(population)
    times: dict[str, list[float]] = {name: [] for name in calls}
    for repeat in range(WARMUP + repeats):
        users = [int(u) for u in rng.choice(pool, size=entities, replace=False)]
        for name, call in calls.items():
            started = time.perf_counter()
            call(users)
            if repeat >= WARMUP:
                times[name].append(time.perf_counter() - started)
    sdk_stats, direct_stats = percentiles_ms(times["sdk"]), percentiles_ms(times["direct"])
    return {
        "entities": entities,
        "repeats": repeats,
        "feast_sdk": sdk_stats,
        "direct_redis": direct_stats,
        "speedup_p50": round(sdk_stats["p50_ms"] / direct_stats["p50_ms"], 1),
    }
