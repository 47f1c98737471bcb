"""Filtering stage: drop items the user already interacted with, blocked items and items
out of stock. Survivors keep retrieval's order, packed to the left, padded with -1."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import keys
from .resilience import RedisUnavailable, with_retries

PAD = -1


def fetch_exclusions(client, prefix: str, user_ids: Sequence[int]) -> tuple[list, np.ndarray]:
    """Per-user seen items and the global exclusions, in one pipelined round trip."""
    pipe = client.pipeline(transaction=False)
    for user_id in user_ids:
        pipe.smembers(keys.seen(prefix, int(user_id)))
    pipe.smembers(keys.blocked(prefix))
    pipe.smembers(keys.out_of_stock(prefix))
    replies = pipe.execute()
    seen = [_ids(members) for members in replies[:-2]]
    excluded = np.union1d(_ids(replies[-2]), _ids(replies[-1]))
    return seen, excluded


class Exclusions:
    """Reads exclusions with retries; when Redis stays unreachable it answers with the last
    global exclusions it read (blocked and out-of-stock items change rarely) and no
    per-user history, and says the answer is degraded."""

    def __init__(
        self, client, prefix: str, budget_s: float, known_blocked: Sequence[int] = ()
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._budget_s = budget_s
        # Until the first read: the blocklist the model was exported with.
        self._last_excluded = np.array(sorted(known_blocked), dtype=np.int64)

    def fetch(self, user_ids: Sequence[int]) -> tuple[list, np.ndarray, bool]:
        try:
            seen, excluded = with_retries(
                lambda: fetch_exclusions(self._client, self._prefix, user_ids), self._budget_s
            )
        except RedisUnavailable:
            no_history = [np.array([], dtype=np.int64) for _ in user_ids]
            return no_history, self._last_excluded, True
        self._last_excluded = excluded
        return seen, excluded, False


def filter_candidates(
    candidates: np.ndarray, seen: Sequence[np.ndarray], excluded: np.ndarray
) -> np.ndarray:
    result = np.full_like(candidates, PAD)
    for row, (items, user_seen) in enumerate(zip(candidates, seen, strict=True)):
        keep = items[(items != PAD) & ~np.isin(items, excluded) & ~np.isin(items, user_seen)]
        result[row, : len(keep)] = keep
    return result


def _ids(members: set) -> np.ndarray:
    return np.fromiter((int(m) for m in members), dtype=np.int64, count=len(members))
