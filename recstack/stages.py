"""The deployed stages called directly over gRPC, with the retrieval stage's real outputs
as the scoring stage's inputs: what the ensemble passes between them, without the
filtering stage. The deployed tests and the benchmarks probe the scoring stage so."""

from __future__ import annotations

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import np_to_triton_dtype


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
