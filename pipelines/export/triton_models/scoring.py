"""Triton model `scoring`: the DLRM ranker scores every surviving candidate."""

from __future__ import annotations

from recstack_serving.catalog import Catalog
from recstack_serving.scoring import Scoring
from recstack_serving.spec import RANKER_FILE
from stage_common import Arrays, input_names, onnx_session, run_batched, version_dir


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        self.inputs = input_names(args)
        files = version_dir(args)
        self.scoring = Scoring(onnx_session(files / RANKER_FILE), Catalog.load(files))

    def execute(self, requests: list) -> list:
        return run_batched(requests, "scoring", self.inputs, self._handle)

    def _handle(self, inputs: Arrays) -> Arrays:
        scores = self.scoring.score(
            inputs["user_sparse"],
            inputs["user_dense"],
            inputs["filtered_ids"],
            inputs["is_fallback"],
        )
        return {"candidate_scores": scores}
