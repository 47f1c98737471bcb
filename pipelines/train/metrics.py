"""Offline metrics: rank-based AUC and top-k retrieval recall / hit rate (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Users scored per block: bounds the users x items score matrix held in memory.
USER_BLOCK = 1024


@dataclass(frozen=True)
class RetrievalScore:
    recall: float
    hit_rate: float
    users: int


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
    user_vectors: np.ndarray,
    item_vectors: np.ndarray,
    seen: tuple[np.ndarray, np.ndarray],
    targets: tuple[np.ndarray, np.ndarray],
    k: int,
) -> RetrievalScore:
    """Recall@k and hit rate@k of ranking every item by user . item.

    `seen` and `targets` are (user rows, item rows) pairs. Seen items are excluded from
    each user's ranking, as the serving path filters them out; targets the user had
    already seen are dropped, since a retrieval stage is not asked to find them. Users
    without a remaining target are not evaluated.
    """
    n_items = len(item_vectors)
    k = min(k, n_items)
    seen_keys = np.unique(seen[0].astype(np.int64) * n_items + seen[1])
    target_keys = np.setdiff1d(targets[0].astype(np.int64) * n_items + targets[1], seen_keys)
    users, per_user = np.unique(target_keys // n_items, return_counts=True)
    if len(users) == 0:
        raise ValueError("no holdout user clicked an item they had not clicked before")
    hits = np.zeros(len(users), dtype=np.int64)
    for start in range(0, len(users), USER_BLOCK):
        block = users[start : start + USER_BLOCK]
        scores = user_vectors[block] @ item_vectors.T
        in_block = np.isin(seen_keys // n_items, block)
        rows = np.searchsorted(block, seen_keys[in_block] // n_items)
        scores[rows, seen_keys[in_block] % n_items] = -np.inf
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        found = np.isin(block[:, None] * n_items + top, target_keys)
        hits[start : start + len(block)] = found.sum(axis=1)
    return RetrievalScore(
        recall=float(np.mean(hits / per_user)),
        hit_rate=float(np.mean(hits > 0)),
        users=len(users),
    )
