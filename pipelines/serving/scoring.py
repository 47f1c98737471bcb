"""Scoring stage: the DLRM ranker scores each candidate.

The ranker is anything that answers like an onnxruntime session of the ranker,
`run(None, {"sparse", "dense"}) -> [scores]`: the whole ONNX ranker, or HpsRanker
(hps_ranker.py: the embeddings from HPS's tiers, the dense part in onnxruntime).

The stage's contract is only (user inputs, candidate ids, fallback flags) -> scores, so
a GPU model (HugeCTR behind Triton) can replace it without touching the other stages.

Users without features (retrieval's fallback) are not scored by the ranker — it would
only see an id it never learned — but by item popularity, so every unknown user gets the
same popular items in popularity order.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from . import stream_inputs
from .catalog import Catalog
from .filtering import PAD


class Ranker(Protocol):
    def run(self, outputs: None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]: ...


class Scoring:
    def __init__(self, ranker: Ranker, catalog: Catalog) -> None:
        self._ranker = ranker
        self._catalog = catalog

    def score(
        self,
        user_sparse: np.ndarray,
        user_dense: np.ndarray,
        candidates: np.ndarray,
        fallback: np.ndarray,
    ) -> np.ndarray:
        """user_sparse, user_dense: the ranker's user columns (retrieval.UserInputs).

        Scores [users, n]: click probabilities for known users, log-popularity for
        fallback users; -inf where there is no (known) candidate."""
        users, width = candidates.shape
        scores = np.full((users, width), -np.inf, dtype=np.float32)
        rows, known = self._catalog.rows(candidates)
        valid = known & (candidates != PAD)
        by_popularity = valid & fallback.reshape(-1, 1)
        scores[by_popularity] = self._catalog.dense[rows[by_popularity], 0]
        by_ranker = valid & ~by_popularity
        if not by_ranker.any():
            return scores
        user_of = np.broadcast_to(np.arange(users)[:, None], candidates.shape)[by_ranker]
        sparse, dense = ranker_inputs(
            self._catalog, user_sparse[user_of], user_dense[user_of], rows[by_ranker]
        )
        scores[by_ranker] = self._ranker.run(None, {"sparse": sparse, "dense": dense})[0]
        return scores


def ranker_inputs(
    catalog: Catalog, user_sparse: np.ndarray, user_dense: np.ndarray, item_rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The ranker's (sparse codes, dense float32) for each (user, item) row: the user's
    columns (retrieval.UserInputs), the item's catalog row, and their cross. Serving,
    the batch job and online training all build them here."""
    sparse = np.concatenate([user_sparse, catalog.sparse[item_rows]], axis=1)
    cross = stream_inputs.in_last_click_category(user_sparse, catalog.category[item_rows])
    dense = np.concatenate([user_dense, catalog.dense[item_rows], cross], axis=1)
    return sparse, dense.astype(np.float32)
