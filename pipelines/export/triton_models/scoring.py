"""Triton model `scoring`: the DLRM ranker scores every surviving candidate."""

from __future__ import annotations

import numpy as np
from recstack_serving.catalog import Catalog
from recstack_serving.scoring import Scoring
from recstack_serving.spec import RANKER_FILE
from stage_common import onnx_session, run_each, tensor, version_dir


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        files = version_dir(args)
        self.scoring = Scoring(onnx_session(files / RANKER_FILE), Catalog.load(files))

    def execute(self, requests: list) -> list:
        return run_each(requests, "scoring", self._handle)

    def _handle(self, request) -> dict[str, np.ndarray]:
        scores = self.scoring.score(
            tensor(request, "user_sparse"),
            tensor(request, "user_dense"),
            tensor(request, "filtered_ids"),
            tensor(request, "is_fallback"),
        )
        return {"candidate_scores": scores}
