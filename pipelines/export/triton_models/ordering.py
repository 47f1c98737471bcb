"""Triton model `ordering`: top-k by score with at most M items per category."""

from __future__ import annotations

import numpy as np
from recstack_serving.catalog import Catalog
from recstack_serving.ordering import order
from recstack_serving.spec import ServingSpec
from stage_common import Arrays, input_names, run_batched, version_dir


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        self.inputs = input_names(args)
        files = version_dir(args)
        self.spec = ServingSpec.read(files)
        self.catalog = Catalog.load(files)

    def execute(self, requests: list) -> list:
        return run_batched(requests, "ordering", self.inputs, self._handle)

    def _handle(self, inputs: Arrays) -> Arrays:
        ids, scores = order(
            inputs["filtered_ids"],
            inputs["candidate_scores"],
            self.catalog,
            k=self.spec.top_k,
            max_per_category=self.spec.max_per_category,
        )
        # The reference ensemble's contract is INT32 ids.
        return {"ordered_ids": ids.astype(np.int32), "ordered_scores": scores}
