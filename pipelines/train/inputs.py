"""Model inputs built from the feature tables and the impression log.

Users and items are addressed by their row in the feature tables ("rows"), never by id,
so ids may be sparse, start anywhere and be as large as int64 allows. The sparse matrices
hold the raw ids and codes in schema column order: the models fold them into their
embedding tables themselves (modulo the column's cardinality), exactly as they will at
serving time.

The streaming user features are joined to each impression point in time: the user's
row as of their last event strictly before the impression, which is what the online
store held when that impression was served. Its own click (logged at the same time) and
anything later never reach its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines import schema
from pipelines.data.validate import DataError
from pipelines.serving import stream_inputs
from pipelines.split import temporal_split
from pipelines.streaming import activity
from recstack_contract.features import EVENT_TIMESTAMP, NO_CATEGORY


@dataclass(frozen=True)
class Interactions:
    """Impressions as (user row, item row, click) arrays, with the user's streaming
    model inputs as of each impression (stream_inputs.model_inputs)."""

    user: np.ndarray
    item: np.ndarray
    click: np.ndarray
    stream_sparse: np.ndarray
    stream_dense: np.ndarray

    def take(self, rows: np.ndarray | slice) -> Interactions:
        return Interactions(
            self.user[rows],
            self.item[rows],
            self.click[rows],
            self.stream_sparse[rows],
            self.stream_dense[rows],
        )

    def clicked(self) -> Interactions:
        return self.take(self.click == 1)


@dataclass(frozen=True)
class TrainingData:
    user_ids: np.ndarray
    item_ids: np.ndarray
    # [n_users, len(USER_SPARSE)] and [n_items, len(ITEM_SPARSE)], int64: the static
    # columns.
    user_sparse: np.ndarray
    item_sparse: np.ndarray
    # user_activity per user row and item_popularity per item row, float32.
    user_dense: np.ndarray
    item_dense: np.ndarray
    train: Interactions
    holdout: Interactions
    # Embedding rows per sparse column (schema.RANKER_SPARSE covers every column).
    cardinalities: dict[str, int]

    def user_columns(self, rows: Interactions) -> np.ndarray:
        """[N, len(USER_MODEL_SPARSE)] int64: each row's user as of that impression."""
        return np.concatenate([self.user_sparse[rows.user], rows.stream_sparse], 1)

    def ranker_inputs(self, rows: Interactions) -> tuple[np.ndarray, np.ndarray]:
        """([N, len(RANKER_SPARSE)] int64, [N, len(RANKER_DENSE)] float32) for `rows`."""
        user = self.user_columns(rows)
        item = self.item_sparse[rows.item]
        category = item[:, schema.ITEM_SPARSE.index(schema.ITEM_CATEGORY)]
        dense = np.concatenate(
            [
                self.user_dense[rows.user, None],
                rows.stream_dense,
                self.item_dense[rows.item, None],
                stream_inputs.in_last_click_category(user, category),
            ],
            1,
        )
        return np.concatenate([user, item], 1), dense.astype(np.float32)


def prepare(
    user_features: pd.DataFrame,
    item_features: pd.DataFrame,
    stream_features: pd.DataFrame,
    impressions: pd.DataFrame,
    holdout_fraction: float,
) -> TrainingData:
    user_sparse = user_features[list(schema.USER_SPARSE)].to_numpy(np.int64)
    item_sparse = item_features[list(schema.ITEM_SPARSE)].to_numpy(np.int64)
    # Every code the last-click category can take: each item category, or none yet.
    categories = np.r_[NO_CATEGORY, item_features[schema.ITEM_CATEGORY].to_numpy(np.int64)]
    stream_codes = stream_inputs.category_code(categories)
    columns = dict(
        zip(schema.RANKER_SPARSE, [*user_sparse.T, stream_codes, *item_sparse.T], strict=True)
    )
    # One point-in-time join over the whole log; the split carries its columns along.
    as_of = as_of_each(impressions, stream_features)
    joined = impressions.assign(**dict(zip(stream_inputs.FEATURES, as_of.T, strict=True)))
    train, holdout = temporal_split(joined, holdout_fraction)
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


def as_of_each(impressions: pd.DataFrame, stream_features: pd.DataFrame) -> np.ndarray:
    """Each impression's streaming feature row as of strictly before it: float64
    [impressions, len(stream_inputs.FEATURES)], in the impressions' order, NaN where the
    user had no event before it."""
    left = pd.DataFrame(
        {
            "user_id": impressions["user_id"].to_numpy(np.int64),
            "at": _stamps(impressions["timestamp"]),
            "position": np.arange(len(impressions)),
        }
    ).sort_values("at", kind="stable")
    right = pd.DataFrame(
        {
            "user_id": stream_features["user_id"].to_numpy(np.int64),
            "at": _stamps(stream_features[EVENT_TIMESTAMP]),
            **{name: stream_features[name].to_numpy() for name in stream_inputs.FEATURES},
        }
    ).sort_values("at", kind="stable")
    joined = pd.merge_asof(
        left, right, on="at", by="user_id", direction="backward", allow_exact_matches=False
    ).sort_values("position")
    return joined[list(stream_inputs.FEATURES)].to_numpy(np.float64)


def _stamps(times: pd.Series) -> np.ndarray:
    # At the feature rows' precision: an impression a fraction of a microsecond after
    # its row's stamp would otherwise see its own click.
    return activity.micros(activity.event_seconds(times))


def _rows(frame: pd.DataFrame, user_index: pd.Index, item_index: pd.Index) -> Interactions:
    user = user_index.get_indexer(frame["user_id"])
    item = item_index.get_indexer(frame["item_id"])
    if (user < 0).any() or (item < 0).any():
        raise DataError(
            "impressions.parquet references users or items missing from the feature "
            "tables: the features are older than the raw data; rerun the features step"
        )
    stream = frame[list(stream_inputs.FEATURES)].to_numpy(np.float64)
    stream_sparse, stream_dense = stream_inputs.model_inputs(stream)
    return Interactions(
        user, item, frame["click"].to_numpy(np.float32), stream_sparse, stream_dense
    )
