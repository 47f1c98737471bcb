"""The deployed stages called directly over gRPC, with the retrieval stage's real outputs
as the scoring stage's inputs: what the ensemble passes between them, without the
filtering stage. The deployed tests and the benchmarks probe the scoring stage so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import np_to_triton_dtype

from pipelines.serving.catalog import Catalog
from pipelines.serving.hps_layout import slot_keys
from pipelines.serving.hugectr_files import ExportedTable, InferenceFiles
from pipelines.serving.spec import HUGECTR_DIRECTORY
from recstack_contract import hps


def infer(
    triton: grpcclient.InferenceServerClient, model: str, arrays: dict, outputs: list[str]
) -> list[np.ndarray]:
    inputs = []
    for name, array in arrays.items():
        tensor = grpcclient.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    result = triton.infer(model, inputs)
    return [result.as_numpy(name) for name in outputs]


def scoring_inputs(
    triton: grpcclient.InferenceServerClient, users: list[int]
) -> dict[str, np.ndarray]:
    """The scoring stage's inputs for `users`, from the live retrieval stage."""
    candidates, user_sparse, user_dense, fallback = infer(
        triton,
        "retrieval",
        {"user_id_raw": np.array([[u] for u in users], dtype=np.int32)},
        ["candidate_ids", "user_sparse", "user_dense", "is_fallback"],
    )
    return {
        "user_sparse": user_sparse,
        "user_dense": user_dense,
        "filtered_ids": candidates,
        "is_fallback": fallback,
    }


def served_scores(
    triton: grpcclient.InferenceServerClient, arrays: dict[str, np.ndarray]
) -> np.ndarray:
    return infer(triton, "scoring", arrays, ["candidate_scores"])[0]


def item_id_keys(stage: Path, user_width: int, item_ids: np.ndarray) -> np.ndarray:
    """The HPS table keys of the items' item-id rows, as the scoring stage in `stage`
    (its version directory) looks them up: the item-id slot follows the user's
    `user_width` columns."""
    catalog = Catalog.load(stage)
    slot_sizes = ExportedTable.read(
        InferenceFiles.under(stage / HUGECTR_DIRECTORY, hps.MODEL).network
    ).slot_sizes
    rows, _ = catalog.rows(item_ids)
    codes = np.zeros((len(rows), len(slot_sizes)), np.int64)
    codes[:, user_width:] = catalog.sparse[rows]
    return slot_keys(codes, slot_sizes)[:, user_width]
