"""Triton model `retrieval`: user ids -> online features -> user tower -> FAISS top-N."""

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


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        self.inputs = input_names(args)
        files = version_dir(args)
        self.spec = ServingSpec.read(files)
        faiss.omp_set_num_threads(1)
        self.layout = feast_layout.FeastViewLayout(
            project=self.spec.feast_project,
            view=self.spec.user_view,
            join_key=self.spec.user_join_key,
            features=self.spec.user_features,
        )
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
        user_sparse, user_dense = user_inputs(user_ids, rows, len(self.spec.user_categoricals))
        candidates = self.retrieval.retrieve(user_sparse, found)
        return {
            "candidate_ids": candidates.item_ids,
            "user_sparse": user_sparse,
            "user_dense": user_dense,
            "is_fallback": candidates.fallback.reshape(-1, 1),
            "retrieval_degraded": np.full((len(user_ids), 1), degraded),
        }
