"""Retrieval stage: user features -> user tower -> approximate nearest items (FAISS).

Users without online features (unknown ids, or not yet materialized) fall back to the
most popular items; the stage reports which users fell back so callers can label the
answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np
import onnxruntime as ort

from . import feast_layout, stream_inputs
from .filtering import PAD
from .resilience import RedisUnavailable, with_retries


@dataclass(frozen=True)
class Candidates:
    item_ids: np.ndarray  # int64 [users, n], PAD where the catalog has fewer than n items
    fallback: np.ndarray  # bool [users]


class Retrieval:
    def __init__(
        self,
        user_tower: ort.InferenceSession,
        index: faiss.Index,
        item_ids: np.ndarray,
        popular_items: np.ndarray,
        n_candidates: int,
    ) -> None:
        if index.ntotal != len(item_ids):
            raise ValueError(f"index holds {index.ntotal} vectors for {len(item_ids)} item ids")
        self._tower = user_tower
        self._index = index
        # A catalog smaller than the candidate count yields every item, padded.
        self._n = n_candidates
        self._item_ids = np.append(item_ids.astype(np.int64), PAD)  # FAISS marks holes -1
        popular = popular_items[:n_candidates].astype(np.int64)
        self._popular = np.pad(popular, (0, n_candidates - len(popular)), constant_values=PAD)

    def retrieve(self, user_sparse: np.ndarray, found: np.ndarray) -> Candidates:
        """user_sparse: the user tower's input, int64 [users, len(USER_MODEL_SPARSE)]
        (UserInputs.sparse)."""
        result = np.empty((len(user_sparse), self._n), dtype=np.int64)
        result[~found] = self._popular
        if found.any():
            embeddings = self._tower.run(None, {"user_sparse": user_sparse[found]})[0]
            _, neighbours = self._index.search(np.ascontiguousarray(embeddings), self._n)
            result[found] = self._item_ids[neighbours]
        return Candidates(item_ids=result, fallback=~found)


def read_user_features(
    client,
    layout: feast_layout.RowLayout,
    user_ids: np.ndarray,
    budget_s: float,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Online feature rows, found-mask and whether Redis could not be read (then every
    user is treated as unknown: the answer falls back to popular items, degraded)."""
    try:
        rows, found = with_retries(
            lambda: feast_layout.read_rows(client, layout, user_ids), budget_s
        )
        return rows, found, False
    except RedisUnavailable:
        missing = np.full((len(user_ids), len(layout.features)), np.nan)
        return missing, np.zeros(len(user_ids), dtype=bool), True


@dataclass(frozen=True)
class UserInputs:
    """A batch of users' model inputs, from their online feature rows."""

    # int64 [users, len(USER_MODEL_SPARSE)]: the id, the static categoricals, then the
    # streaming ones (stream_inputs.py); the user tower's input and the user's sparse
    # columns of the ranker's.
    sparse: np.ndarray
    dense: np.ndarray  # float32 [users, len(USER_RANKER_DENSE)]: the ranker's


def user_inputs(
    user_ids: np.ndarray, feature_rows: np.ndarray, n_categoricals: int, stream_rows: np.ndarray
) -> UserInputs:
    """Split online feature rows into the models' user inputs.

    feature_rows: [users, categoricals + dense], NaN where missing (missing -> 0);
    stream_rows: [users, len(stream_inputs.FEATURES)], NaN where missing.
    """
    rows = np.nan_to_num(feature_rows, nan=0.0)
    stream_sparse, stream_dense = stream_inputs.model_inputs(stream_rows)
    static = rows[:, :n_categoricals].astype(np.int64)
    return UserInputs(
        sparse=np.concatenate([np.reshape(user_ids, (-1, 1)), static, stream_sparse], axis=1),
        dense=np.concatenate([rows[:, n_categoricals:].astype(np.float32), stream_dense], axis=1),
    )
