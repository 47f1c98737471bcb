"""The ordering stage: top-k by score with at most max_per_category items per category."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..catalog import Catalog
from ..ordering import order
from ..spec import ServingSpec
from ..tensors import FILTERED, ORDERED_IDS, ORDERED_SCORES, SCORES
from .base import Arrays, Context, Operator


class OrderingStage(Operator):
    def __init__(self, files: Path, spec: ServingSpec, context: Context) -> None:
        super().__init__(context)
        self._catalog = Catalog.load(files)
        self._k = spec.top_k
        self._max_per_category = spec.max_per_category

    def transform(self, inputs: Arrays) -> Arrays:
        ids, scores = order(
            inputs[FILTERED.name],
            inputs[SCORES.name],
            self._catalog,
            self._k,
            self._max_per_category,
        )
        # The reference ensemble's contract is INT32 ids.
        return {ORDERED_IDS.name: ids.astype(np.int32), ORDERED_SCORES.name: scores}
