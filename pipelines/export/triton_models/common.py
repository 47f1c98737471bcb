"""Helpers shared by the stage models (copied into each model as `stage_common.py`)."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

Arrays = dict[str, np.ndarray]


def version_dir(args: dict) -> Path:
    return Path(args["model_repository"]) / args["model_version"]


def input_names(args: dict) -> tuple[str, ...]:
    """The model's inputs as its config.pbtxt declares them (pbtxt.py is their source)."""
    return tuple(spec["name"] for spec in json.loads(args["model_config"])["input"])


def run_batched(
    requests: list, stage: str, inputs: tuple[str, ...], handle: Callable[[Arrays], Arrays]
) -> list:
    """Answer a dynamic batch with one handle() call over all its requests' users.

    Inputs are joined along the user dimension and the outputs split back per request,
    so a Redis round trip, an ONNX run or a FAISS search serves the whole batch. If the
    batch fails, every request in it gets the error; the instance keeps serving.
    """
    try:
        per_request = [{name: tensor(request, name) for name in inputs} for request in requests]
        sizes = [len(arrays[inputs[0]]) for arrays in per_request]
        joined = {name: np.concatenate([arrays[name] for arrays in per_request]) for name in inputs}
        outputs = handle(joined)
        bounds = np.cumsum(sizes)[:-1]
        parts = {name: np.split(value, bounds) for name, value in outputs.items()}
        return [
            pb_utils.InferenceResponse(
                output_tensors=[pb_utils.Tensor(name, parts[name][i]) for name in parts]
            )
            for i in range(len(requests))
        ]
    except Exception as exc:
        pb_utils.Logger.log_error(f"{stage}: {traceback.format_exc()}")
        error = pb_utils.TritonError(f"{stage} stage failed: {exc}")
        return [pb_utils.InferenceResponse(error=error) for _ in requests]


def tensor(request, name: str) -> np.ndarray:
    return pb_utils.get_input_tensor_by_name(request, name).as_numpy()
