"""The streaming user features as model inputs: one transform for training (point-in-time
rows of the interaction log), the serving stages and the batch step (the online rows the
stream processor keeps current).

A row is (user_clicks_1h, user_last_click_category) in the view's order, NaN where the
user has no streaming row (no event yet): that reads as no clicks and no category.
- sparse: the category shifted by one, so NO_CATEGORY (-1) becomes code 0, a row of the
  models' embedding tables of its own rather than one folded onto a real category;
- dense: log1p of the clicks, the same scale as the other activity features.

One more dense input crosses the row with each candidate: whether the item is of the
category of the user's last click. The interactions of separate embedding tables learn
such an equality poorly, and it is what carries a session's intent to the ranker.
"""

from __future__ import annotations

import numpy as np

from recstack_contract.features import NO_CATEGORY, USER_STREAM_FEATURES

FEATURES: tuple[str, ...] = USER_STREAM_FEATURES.names()
CLICKS = FEATURES.index("user_clicks_1h")
CATEGORY = FEATURES.index("user_last_click_category")
# The models' input columns, named after the features they are computed from (the
# ranker reads all three, the user tower the sparse one).
SPARSE: tuple[str, ...] = (FEATURES[CATEGORY],)
DENSE: tuple[str, ...] = (FEATURES[CLICKS],)
CROSS_DENSE: tuple[str, ...] = ("item_in_last_click_category",)
# Where the last-click category sits in the user's model columns, counted from their
# end: the streaming columns close them (schema.USER_MODEL_SPARSE).
LAST_CLICK_COLUMN = SPARSE.index(FEATURES[CATEGORY]) - len(SPARSE)


def category_code(categories: np.ndarray) -> np.ndarray:
    """The models' code for a last-click category (0 for NO_CATEGORY)."""
    return np.asarray(categories, dtype=np.int64) - NO_CATEGORY


def model_inputs(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """rows float [users, len(FEATURES)] -> (sparse int64 [users, 1], dense float32 [users, 1])."""
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, len(FEATURES))
    clicks = np.nan_to_num(rows[:, CLICKS], nan=0.0)
    category = np.nan_to_num(rows[:, CATEGORY], nan=float(NO_CATEGORY)).astype(np.int64)
    sparse = category_code(category).reshape(-1, 1)
    return sparse, np.log1p(clicks).astype(np.float32).reshape(-1, 1)


def in_last_click_category(user_sparse: np.ndarray, item_category: np.ndarray) -> np.ndarray:
    """float32 [N, 1]: 1 where the item is of the category of the user's last click.

    user_sparse: the user's model columns per (user, candidate) row, the streaming ones
    last (schema.USER_MODEL_SPARSE); item_category: the candidate's category per row.
    """
    match = user_sparse[:, LAST_CLICK_COLUMN] == category_code(item_category)
    return match.astype(np.float32).reshape(-1, 1)
