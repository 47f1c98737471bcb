"""The serving graph: the stages every request passes, in order (retrieval, filtering,
scoring, ordering), each declared once with the tensors it takes and gives and the
variants it can be deployed as. Every stage is an operator with one protocol
(operators/base.py): `transform(arrays) -> arrays` over named tensors whose first
dimension is the user, and `close()`.

The scoring stage has two variants, picked by the spec's `scoring_mode`
(config.ServingConfig.scoring): "hps" scores with the embeddings from HPS's tiers and
the dense part in onnxruntime, "onnx" with the whole ranker and its own table. A GPU
model (HugeCTR behind Triton) would be a third with the same tensors.

Everything that serves, ships or checks the stages reads them here: Triton's stage model
(export/triton_models/model.py) builds its stage with `build`, the export writes each
stage's config from its tensors (export/pbtxt.py) and links the files its variant loads,
the batch job runs the graph offline over the exported repository (`loaded`, `run`),
and the tests iterate it.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import operators, spec, tensors
from .catalog import CATALOG_FILE
from .operators.base import Context, Operator
from .tensors import Tensor

Arrays = dict[str, np.ndarray]


# What clients send and get back (the ensemble's tensors).
INPUTS = (tensors.USER_ID,)
OUTPUTS = (tensors.ORDERED_IDS, tensors.ORDERED_SCORES, tensors.IS_FALLBACK, tensors.IS_DEGRADED)


@dataclass(frozen=True)
class Variant:
    # The files of its version directory the stage loads, beyond its spec.
    files: tuple[str, ...]
    # "<module>.<class>" in operators/: imported only when built, so that each stage
    # loads only the libraries its variant uses.
    operator: str

    def operator_class(self) -> type[Operator]:
        module, name = self.operator.rsplit(".", 1)
        return getattr(importlib.import_module(f"{operators.__name__}.{module}"), name)

    def build(self, files: Path, settings: spec.ServingSpec, context: Context) -> Operator:
        return self.operator_class()(files, settings, context)


@dataclass(frozen=True)
class Stage:
    name: str  # its Triton model's name too
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    variants: Mapping[str, Variant]
    # Which variant the spec asks for, for a stage that has more than one.
    chosen_by: Callable[[spec.ServingSpec], str] | None = None

    def variant(self, settings: spec.ServingSpec) -> Variant:
        if self.chosen_by is None:
            (only,) = self.variants.values()
            return only
        return self.variants[self.chosen_by(settings)]


# The serving host's RocksDB updater loads its tier from the scoring stage's directory,
# whichever variant scores.
_SCORING_SHARED = (CATALOG_FILE, spec.HUGECTR_DIRECTORY)
SCORING_VARIANTS: dict[str, Variant] = {
    spec.HPS_SCORING: Variant(
        (spec.DENSE_RANKER_FILE, *_SCORING_SHARED), "scoring_hps.HpsScoringStage"
    ),
    spec.ONNX_SCORING: Variant((spec.RANKER_FILE, *_SCORING_SHARED), "scoring.OnnxScoringStage"),
}

STAGES: tuple[Stage, ...] = (
    Stage(
        "retrieval",
        (tensors.USER_ID,),
        (
            tensors.CANDIDATES,
            tensors.USER_SPARSE,
            tensors.USER_DENSE,
            tensors.IS_FALLBACK,
            tensors.RETRIEVAL_DEGRADED,
        ),
        {
            "two_tower": Variant(
                (
                    spec.USER_TOWER_FILE,
                    spec.INDEX_FILE,
                    spec.ITEM_IDS_FILE,
                    spec.POPULAR_ITEMS_FILE,
                ),
                "retrieval.RetrievalStage",
            )
        },
    ),
    Stage(
        "filtering",
        (tensors.USER_ID, tensors.CANDIDATES, tensors.RETRIEVAL_DEGRADED),
        (tensors.FILTERED, tensors.IS_DEGRADED),
        {"exclusions": Variant((), "filtering.FilteringStage")},
    ),
    Stage(
        "scoring",
        (tensors.USER_SPARSE, tensors.USER_DENSE, tensors.FILTERED, tensors.IS_FALLBACK),
        (tensors.SCORES,),
        SCORING_VARIANTS,
        chosen_by=lambda settings: settings.scoring_mode,
    ),
    Stage(
        "ordering",
        (tensors.FILTERED, tensors.SCORES),
        (tensors.ORDERED_IDS, tensors.ORDERED_SCORES),
        {"diverse_top_k": Variant((CATALOG_FILE,), "ordering.OrderingStage")},
    ),
)
NAMES = tuple(stage.name for stage in STAGES)


def stage(name: str) -> Stage:
    return next(s for s in STAGES if s.name == name)


def build(name: str, files: Path, context: Context) -> Operator:
    """Stage `name` from its version directory, as its spec there says."""
    settings = spec.ServingSpec.read(files)
    return stage(name).variant(settings).build(files, settings, context)


Loaded = tuple[tuple[Stage, Operator], ...]


@contextlib.contextmanager
def loaded(repository: Path, context: Context) -> Iterator[Loaded]:
    """Every stage of an exported model repository (<stage>/1/), closed afterwards."""
    with contextlib.ExitStack() as stack:
        built = []
        for s in STAGES:
            operator = build(s.name, repository / s.name / "1", context)
            stack.callback(operator.close)
            built.append((s, operator))
        yield tuple(built)


def run(stages: Loaded, inputs: Arrays) -> Arrays:
    """The graph offline: each stage takes its inputs from what came before it, as the
    ensemble passes them; the graph's outputs."""
    arrays = dict(inputs)
    for s, operator in stages:
        arrays.update(operator.transform({t.name: arrays[t.name] for t in s.inputs}))
    return {t.name: arrays[t.name] for t in OUTPUTS}
