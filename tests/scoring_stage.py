"""The reference the deployed scoring stage is held to in `hps` mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hps_tier import redis_rows

from pipelines.hugectr.evaluator import DenseNetwork
from pipelines.serving.catalog import Catalog
from pipelines.serving.hps_layout import slot_keys
from pipelines.serving.hugectr_files import ExportedTable, InferenceFiles
from pipelines.serving.scoring import Scoring
from pipelines.serving.spec import HUGECTR_DIRECTORY, ServingSpec
from recstack_contract import hps


class TierRanker:
    """The reference for the deployed stage in `hps` mode: the exported dense part,
    evaluated from the HugeCTR files, on the rows the Redis tier holds now (online
    training and updates change them), read here as HPS reads them."""

    def __init__(self, stage: Path, client) -> None:
        spec = ServingSpec.read(stage)
        files = InferenceFiles.under(stage / HUGECTR_DIRECTORY, hps.MODEL)
        self._network = DenseNetwork(files.network, files.dense)
        table = ExportedTable.read(files.network)
        self._slot_sizes, self._vec_size = table.slot_sizes, table.vec_size
        self._default = table.default_value
        self._client, self._partitions = client, spec.hps_partitions

    def run(self, _outputs: None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        table_keys = slot_keys(feeds["sparse"], self._slot_sizes)
        unique, inverse = np.unique(table_keys, return_inverse=True)
        rows = redis_rows(self._client, hps.table_tag(), unique, self._partitions)
        vectors = np.array(
            [[self._default] * self._vec_size if r is None else r for r in rows], np.float32
        )
        embedded = vectors[inverse.reshape(table_keys.shape)]
        return [self._network.probabilities(feeds["dense"], embedded)]


def tier_scoring(stage: Path, client) -> Scoring:
    """The scoring stage's reference in `hps` mode (TierRanker) over the stage's catalog."""
    return Scoring(TierRanker(stage, client), Catalog.load(stage))
