"""Offline metrics: rank-based AUC and top-k retrieval recall / hit rate (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Queries scored per block: bounds the queries x items score matrix held in memory.
QUERY_BLOCK = 1024


@dataclass(frozen=True)
class RetrievalScore:
    recall: float
    hit_rate: float
    queries: int


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve: the chance a random click outscores a random non-click.

    Computed from ranks (Mann-Whitney U); tied scores share their average rank, so a
    constant scorer gets exactly 0.5.
    """
    labels = np.asarray(labels).astype(bool)
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("AUC needs at least one click and one non-click")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    # Average 1-based rank of each distinct score: ranks before it, plus the middle of
    # its own run of ties.
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0
    rank_sum = average_rank[inverse][labels].sum()
    return float((rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives))


def retrieval_at_k(
    query_vectors: np.ndarray,
    query_users: np.ndarray,
    targets: np.ndarray,
    item_vectors: np.ndarray,
    seen: tuple[np.ndarray, np.ndarray],
    k: int,
) -> RetrievalScore:
    """Recall@k and hit rate@k of ranking every item by query . item.

    A query is one request: its vector (the user as of that moment), its user row and
    the item row it is judged by (the item clicked then). Recall is the share of queries
    whose item is in their top k, hit rate the share of users with at least one such
    query. `seen` is (user rows, item rows): seen items are excluded from each of the
    user's rankings, as the serving path filters them out, and a query whose item the
    user had already seen is dropped, since a retrieval stage is not asked to find it.
    """
    n_items = len(item_vectors)
    k = min(k, n_items)
    query_users = np.asarray(query_users, dtype=np.int64)
    seen_keys = np.unique(seen[0].astype(np.int64) * n_items + seen[1])
    kept = ~np.isin(query_users * n_items + targets, seen_keys)
    if not kept.any():
        raise ValueError("no holdout click is on an item its user had not clicked before")
    vectors, users, items = query_vectors[kept], query_users[kept], targets[kept]
    seen_users, seen_items = seen_keys // n_items, seen_keys % n_items
    hits = np.zeros(len(users), dtype=bool)
    for start in range(0, len(users), QUERY_BLOCK):
        block = slice(start, start + QUERY_BLOCK)
        scores = vectors[block] @ item_vectors.T
        # Each query's user's seen items: their run in the sorted seen keys.
        first = np.searchsorted(seen_users, users[block], side="left")
        counts = np.searchsorted(seen_users, users[block], side="right") - first
        rows = np.repeat(np.arange(len(counts)), counts)
        runs = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        scores[rows, seen_items[np.repeat(first, counts) + runs]] = -np.inf
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        hits[block] = (top == items[block, None]).any(axis=1)
    hit_users = np.unique(users[hits])
    return RetrievalScore(
        recall=float(hits.mean()),
        hit_rate=len(hit_users) / len(np.unique(users)),
        queries=len(users),
    )
