"""ONNX export of the serving models, checked against PyTorch before anything is published.

The exported graphs are what Triton and the batch scorer run, so a model is only
published after onnxruntime reproduces the PyTorch outputs on real rows, with a batch
size different from the one used to trace (which proves the batch dimension is dynamic).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from pipelines.train.errors import ExportError

TOLERANCE = 1e-4


def export_onnx(model: nn.Module, inputs: dict[str, np.ndarray], output: str, path: Path) -> None:
    """Write `model` to `path` with the given input and output names, batch dim dynamic.

    `inputs` must follow the order of the model's forward() arguments.
    """
    # One shared dimension: every input of a model has the same batch size.
    batch = torch.export.Dim("batch")
    # The exporter logs and warns about things these models do not use (torchvision
    # ops, its own deprecated internals, the shared batch dim's name); they would bury
    # real problems in the step's output. check_onnx() is what vouches for the graph.
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", message="# The axis name")
        torch.onnx.export(
            model,
            tuple(torch.from_numpy(value) for value in inputs.values()),
            str(path),
            dynamo=True,
            # One self-contained file: Triton's model repository copies it as is.
            external_data=False,
            input_names=list(inputs),
            output_names=[output],
            dynamic_shapes=tuple({0: batch} for _ in inputs),
            verbose=False,
        )


def check_onnx(path: Path, model: nn.Module, inputs: dict[str, np.ndarray], output: str) -> None:
    """Raise ExportError unless onnxruntime matches `model` on `inputs` within TOLERANCE."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [node.name for node in session.get_outputs()]
    if names != [output]:
        raise ExportError(f"{path.name}: outputs are {names}, expected [{output!r}]")
    got = session.run([output], inputs)[0]
    with torch.no_grad():
        want = model(*(torch.from_numpy(value) for value in inputs.values())).numpy()
    if got.shape != want.shape or not np.allclose(got, want, atol=TOLERANCE, rtol=0.0):
        difference = np.abs(got - want).max() if got.shape == want.shape else "n/a"
        raise ExportError(
            f"{path.name}: onnxruntime output {got.shape} differs from PyTorch "
            f"{want.shape} (max abs difference {difference}, tolerance {TOLERANCE})"
        )
