"""Model inputs built from the feature tables and the impression log.

Users and items are addressed by their row in the feature tables ("rows"), never by id,
so ids may be sparse, start anywhere and be as large as int64 allows. The sparse matrices
hold the raw ids and codes in schema column order: the models fold them into their
embedding tables themselves (modulo the column's cardinality), exactly as they will at
serving time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines import schema
from pipelines.data.validate import DataError
from pipelines.split import temporal_split


@dataclass(frozen=True)
class Interactions:
    """Impressions as (user row, item row, click) arrays."""

    user: np.ndarray
    item: np.ndarray
    click: np.ndarray

    def take(self, rows: np.ndarray | slice) -> Interactions:
        return Interactions(self.user[rows], self.item[rows], self.click[rows])

    def clicked(self) -> Interactions:
        return self.take(self.click == 1)


@dataclass(frozen=True)
class TrainingData:
    user_ids: np.ndarray
    item_ids: np.ndarray
    # [n_users, len(USER_SPARSE)] and [n_items, len(ITEM_SPARSE)], int64.
    user_sparse: np.ndarray
    item_sparse: np.ndarray
    # user_activity per user row and item_popularity per item row, float32.
    user_dense: np.ndarray
    item_dense: np.ndarray
    train: Interactions
    holdout: Interactions
    # Embedding rows per sparse column (schema.RANKER_SPARSE covers every column).
    cardinalities: dict[str, int]

    def ranker_inputs(self, rows: Interactions) -> tuple[np.ndarray, np.ndarray]:
        """([N, len(RANKER_SPARSE)] int64, [N, len(RANKER_DENSE)] float32) for `rows`."""
        sparse = np.concatenate([self.user_sparse[rows.user], self.item_sparse[rows.item]], 1)
        dense = np.stack([self.user_dense[rows.user], self.item_dense[rows.item]], 1)
        return sparse, dense.astype(np.float32)


def prepare(
    user_features: pd.DataFrame,
    item_features: pd.DataFrame,
    impressions: pd.DataFrame,
    holdout_fraction: float,
) -> TrainingData:
    user_sparse = user_features[list(schema.USER_SPARSE)].to_numpy(np.int64)
    item_sparse = item_features[list(schema.ITEM_SPARSE)].to_numpy(np.int64)
    columns = dict(zip(schema.RANKER_SPARSE, [*user_sparse.T, *item_sparse.T], strict=True))
    train, holdout = temporal_split(impressions, holdout_fraction)
    user_index = pd.Index(user_features["user_id"])
    item_index = pd.Index(item_features["item_id"])
    return TrainingData(
        user_ids=user_index.to_numpy(np.int64),
        item_ids=item_index.to_numpy(np.int64),
        user_sparse=user_sparse,
        item_sparse=item_sparse,
        user_dense=user_features[schema.USER_DENSE].to_numpy(np.float32),
        item_dense=item_features[schema.ITEM_DENSE].to_numpy(np.float32),
        train=_rows(train, user_index, item_index),
        holdout=_rows(holdout, user_index, item_index),
        cardinalities={name: cardinality(values) for name, values in columns.items()},
    )


def cardinality(values: np.ndarray) -> int:
    """Embedding rows for a column's codes.

    Codes that are close to dense (max + 1 at most twice the distinct count) get one row
    each. Sparse id spaces (say, user ids drawn from a large range) would waste memory
    that way, so they share a prime number of buckets, twice the distinct count: codes
    fold in by modulo, and a prime keeps ids with a common stride from colliding.
    """
    top = int(values.max()) + 1
    budget = 2 * len(np.unique(values))
    return top if top <= budget else _next_prime(budget)


def _next_prime(n: int) -> int:
    candidate = max(n, 2)
    while any(candidate % d == 0 for d in range(2, int(candidate**0.5) + 1)):
        candidate += 1
    return candidate


def _rows(frame: pd.DataFrame, user_index: pd.Index, item_index: pd.Index) -> Interactions:
    user = user_index.get_indexer(frame["user_id"])
    item = item_index.get_indexer(frame["item_id"])
    if (user < 0).any() or (item < 0).any():
        raise DataError(
            "impressions.parquet references users or items missing from the feature "
            "tables: the features are older than the raw data; rerun the features step"
        )
    return Interactions(user, item, frame["click"].to_numpy(np.float32))
