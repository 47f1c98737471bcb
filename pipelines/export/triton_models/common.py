"""Helpers shared by the stage models (copied into each model as `stage_common.py`)."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


def version_dir(args: dict) -> Path:
    return Path(args["model_repository"]) / args["model_version"]


def run_each(requests: list, stage: str, handle: Callable) -> list:
    """Answer each request with handle(request) -> {name: array}, or an error response."""
    responses = []
    for request in requests:
        try:
            outputs = handle(request)
            tensors = [pb_utils.Tensor(name, value) for name, value in outputs.items()]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
        except Exception as exc:  # one bad request must not fail the others
            pb_utils.Logger.log_error(f"{stage}: {traceback.format_exc()}")
            responses.append(
                pb_utils.InferenceResponse(
                    error=pb_utils.TritonError(f"{stage} stage failed: {exc}")
                )
            )
    return responses


def tensor(request, name: str) -> np.ndarray:
    return pb_utils.get_input_tensor_by_name(request, name).as_numpy()


def onnx_session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    # Stage instances run side by side: one thread each avoids oversubscribing the cores.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
