"""The scoring stage's onnx variant (the ranker with its own embedding table, in one
ONNX model) and what both variants share."""

from __future__ import annotations

from pathlib import Path

from ..catalog import Catalog
from ..scoring import Scoring
from ..spec import RANKER_FILE, ServingSpec
from ..tensors import FILTERED, IS_FALLBACK, SCORES, USER_DENSE, USER_SPARSE
from .base import Arrays, Context, Operator
from .onnx import onnx_session


class ScoringStage(Operator):
    """Scores the filtered candidates with the Scoring its variant sets up."""

    _scoring: Scoring

    def transform(self, inputs: Arrays) -> Arrays:
        scores = self._scoring.score(
            inputs[USER_SPARSE.name],
            inputs[USER_DENSE.name],
            inputs[FILTERED.name],
            inputs[IS_FALLBACK.name],
        )
        return {SCORES.name: scores}


class OnnxScoringStage(ScoringStage):
    def __init__(self, files: Path, spec: ServingSpec, context: Context) -> None:
        super().__init__(context)
        self._scoring = Scoring(onnx_session(files / RANKER_FILE), Catalog.load(files))
