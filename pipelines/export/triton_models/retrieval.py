"""Triton model `retrieval`: user ids -> online features -> user tower -> FAISS top-N.

Both models read the user's static features and the streaming ones, read from the same
Feast hash in the same round trip; the stage hands the ranker's user inputs on to
scoring."""

from __future__ import annotations

import faiss
import numpy as np
from recstack_serving import feast_layout, redis_client, resilience
from recstack_serving.retrieval import Retrieval, read_user_features, user_inputs
from recstack_serving.spec import (
    INDEX_FILE,
    ITEM_IDS_FILE,
    POPULAR_ITEMS_FILE,
    USER_TOWER_FILE,
    ServingSpec,
)
from stage_common import Arrays, input_names, onnx_session, run_batched, version_dir

from recstack_contract.features import USER_STREAM_FEATURES


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        self.inputs = input_names(args)
        files = version_dir(args)
        self.spec = ServingSpec.read(files)
        faiss.omp_set_num_threads(1)
        user = feast_layout.FeastViewLayout(
            project=self.spec.feast_project,
            view=self.spec.user_view,
            join_key=self.spec.user_join_key,
            features=self.spec.user_features,
        )
        stream = feast_layout.FeastViewLayout.of(self.spec.feast_project, USER_STREAM_FEATURES)
        self.layout = feast_layout.EntityRow((user, stream))
        self.n_user_features = len(user.features)
        self.redis = redis_client.client_from_env()
        self.budget_s = resilience.retry_budget_s()
        self.retrieval = Retrieval(
            user_tower=onnx_session(files / USER_TOWER_FILE),
            index=faiss.read_index(str(files / INDEX_FILE)),
            item_ids=np.load(files / ITEM_IDS_FILE),
            popular_items=np.load(files / POPULAR_ITEMS_FILE),
            n_candidates=self.spec.retrieval_candidates,
        )

    def execute(self, requests: list) -> list:
        return run_batched(requests, "retrieval", self.inputs, self._handle)

    def _handle(self, inputs: Arrays) -> Arrays:
        user_ids = inputs["user_id_raw"].reshape(-1).astype(np.int64)
        rows, found, degraded = read_user_features(self.redis, self.layout, user_ids, self.budget_s)
        n = self.n_user_features
        user = user_inputs(user_ids, rows[:, :n], len(self.spec.user_categoricals), rows[:, n:])
        candidates = self.retrieval.retrieve(user.sparse, found)
        return {
            "candidate_ids": candidates.item_ids,
            "user_sparse": user.sparse,
            "user_dense": user.dense,
            "is_fallback": candidates.fallback.reshape(-1, 1),
            "retrieval_degraded": np.full((len(user_ids), 1), degraded),
        }
