"""The retrieval stage: user ids -> features -> user tower -> FAISS top-N."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from recstack_contract.features import USER_STREAM_FEATURES

from .. import feast_layout
from ..retrieval import Retrieval, read_user_features, user_inputs
from ..spec import INDEX_FILE, ITEM_IDS_FILE, POPULAR_ITEMS_FILE, USER_TOWER_FILE, ServingSpec
from ..tensors import CANDIDATES, IS_FALLBACK, RETRIEVAL_DEGRADED, USER_DENSE, USER_ID, USER_SPARSE
from .base import Arrays, Context, Operator
from .onnx import onnx_session


class OnlineUserFeatures:
    """The users' static and streaming features, from the Feast rows in Redis, in one
    round trip."""

    def __init__(self, client, spec: ServingSpec, budget_s: float) -> None:
        user = feast_layout.FeastViewLayout(
            project=spec.feast_project,
            view=spec.user_view,
            join_key=spec.user_join_key,
            features=spec.user_features,
        )
        stream = feast_layout.FeastViewLayout.of(spec.feast_project, USER_STREAM_FEATURES)
        self._layout = feast_layout.EntityRow((user, stream))
        self._client = client
        self._budget_s = budget_s

    def read(self, user_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        return read_user_features(self._client, self._layout, user_ids, self._budget_s)


class RetrievalStage(Operator):
    """Hands the ranker's user inputs on to scoring with the candidates."""

    def __init__(self, files: Path, spec: ServingSpec, context: Context) -> None:
        super().__init__(context)
        faiss.omp_set_num_threads(1)
        self._features = context.user_features or OnlineUserFeatures(
            self.redis(), spec, context.retry_budget_s
        )
        self._n_static = len(spec.user_features)
        self._n_categoricals = len(spec.user_categoricals)
        self._retrieval = Retrieval(
            user_tower=onnx_session(files / USER_TOWER_FILE),
            index=faiss.read_index(str(files / INDEX_FILE)),
            item_ids=np.load(files / ITEM_IDS_FILE),
            popular_items=np.load(files / POPULAR_ITEMS_FILE),
            n_candidates=spec.retrieval_candidates,
        )

    def transform(self, inputs: Arrays) -> Arrays:
        user_ids = inputs[USER_ID.name].reshape(-1).astype(np.int64)
        rows, found, degraded = self._features.read(user_ids)
        n = self._n_static
        user = user_inputs(user_ids, rows[:, :n], self._n_categoricals, rows[:, n:])
        candidates = self._retrieval.retrieve(user.sparse, found)
        return {
            CANDIDATES.name: candidates.item_ids,
            USER_SPARSE.name: user.sparse,
            USER_DENSE.name: user.dense,
            IS_FALLBACK.name: candidates.fallback.reshape(-1, 1),
            RETRIEVAL_DEGRADED.name: np.full((len(user_ids), 1), degraded),
        }
