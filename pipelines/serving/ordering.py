"""Ordering stage: top-k by score under the business rule "at most M items per category".

When the rule leaves fewer than k items, the best skipped items fill the remaining
places (a full answer beats a strictly diverse one); rows with fewer than k scored
candidates are padded with -1 and -inf.
"""

from __future__ import annotations

import numpy as np

from .catalog import Catalog
from .filtering import PAD


def order(
    candidates: np.ndarray,
    scores: np.ndarray,
    catalog: Catalog,
    k: int,
    max_per_category: int,
) -> tuple[np.ndarray, np.ndarray]:
    users = len(candidates)
    ordered_ids = np.full((users, k), PAD, dtype=np.int64)
    ordered_scores = np.full((users, k), -np.inf, dtype=np.float32)
    rows, _ = catalog.rows(candidates)
    categories = catalog.category[rows]
    for user in range(users):
        ranked = np.argsort(-scores[user], kind="stable")
        ranked = ranked[np.isfinite(scores[user][ranked])]
        picked = _pick(categories[user][ranked], k, max_per_category)
        chosen = ranked[picked]
        ordered_ids[user, : len(chosen)] = candidates[user, chosen]
        ordered_scores[user, : len(chosen)] = scores[user, chosen]
    return ordered_ids, ordered_scores


def _pick(categories: np.ndarray, k: int, max_per_category: int) -> list[int]:
    """Positions (into the score-ranked list) to return, in score order."""
    per_category: dict[int, int] = {}
    picked: list[int] = []
    skipped: list[int] = []
    for position, category in enumerate(categories.tolist()):
        if len(picked) == k:
            break
        if per_category.get(category, 0) < max_per_category:
            per_category[category] = per_category.get(category, 0) + 1
            picked.append(position)
        else:
            skipped.append(position)
    picked.extend(skipped[: k - len(picked)])
    return sorted(picked)
