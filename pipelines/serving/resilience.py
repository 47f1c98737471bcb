"""Redis reads that survive a failover: retry within a time budget, then let the stage
serve a degraded answer instead of an error.

A Redis cluster replaces a failed master within a few seconds (cluster-node-timeout plus
the election); reads of its slots fail meanwhile. Retrying for a bounded time hides most
of that; what is left is answered without the data (popular items, last known
exclusions) and labelled `is_degraded`, so callers can tell.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

import redis
from redis.exceptions import ClusterDownError, RedisClusterException, TryAgainError

T = TypeVar("T")

# Failures a retry can cure: a node down or being replaced, a cluster re-sharding, slots
# not covered while a replica takes over (the cluster client's own errors are not
# RedisErrors).
TRANSIENT = (
    redis.ConnectionError,
    redis.TimeoutError,
    ClusterDownError,
    TryAgainError,
    RedisClusterException,
)


class RedisUnavailable(RuntimeError):
    pass


def retry_budget_s() -> float:
    return float(os.environ.get("RECSTACK_REDIS_RETRY_BUDGET_S", "3.0"))


def with_retries(read: Callable[[], T], budget_s: float, pause_s: float = 0.1) -> T:
    """`read()`, retried on transient failures until `budget_s` seconds have passed."""
    deadline = time.monotonic() + budget_s
    while True:
        try:
            return read()
        except TRANSIENT as exc:
            if time.monotonic() + pause_s > deadline:
                raise RedisUnavailable(f"Redis unavailable for {budget_s:.1f} s: {exc}") from exc
            time.sleep(pause_s)
