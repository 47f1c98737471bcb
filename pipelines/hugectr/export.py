"""The train step's HugeCTR export: the ranker's files, published only if they score
exactly as the PyTorch model does.

The files go to `<version>/hugectr/` beside the ONNX models. The check runs the CPU
evaluator on real rows and allows 1e-5 (fp32 sums in another order); a layout mistake
(a transposed weight, a permuted interaction, a shifted key) is far larger.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from pipelines.train.dlrm import DLRM
from pipelines.train.errors import ExportError
from recstack_contract import hps

from ..serving.hps_layout import slot_keys
from ..serving.hugectr_files import InferenceFiles, SparseTable, write_dense
from ..serving.spec import HUGECTR_DIRECTORY
from .evaluator import HugeCTRModel
from .from_torch import dense_weights, dlrm_shape
from .network import network_json

TOLERANCE = 1e-5


def files_in(version_dir: Path) -> InferenceFiles:
    return InferenceFiles.under(version_dir / HUGECTR_DIRECTORY, hps.MODEL)


def write_inference_model(model: DLRM, version_dir: Path) -> InferenceFiles:
    shape = dlrm_shape(model)
    files = files_in(version_dir)
    files.network.parent.mkdir(parents=True, exist_ok=True)
    files.network.write_text(json.dumps(network_json(shape, hps.MODEL, hps.TABLE), indent=2))
    write_dense(files.dense, dense_weights(model))
    table = model.embed.table.weight.detach().numpy()
    SparseTable(np.arange(len(table), dtype=np.int64), table).write(files.sparse[0])
    return files


def check_inference_model(
    files: InferenceFiles,
    model: DLRM,
    sparse: np.ndarray,
    dense: np.ndarray,
    dense_model: Path | None = None,
) -> None:
    """Raise ExportError unless the files' scores match `model` on (sparse codes, dense),
    and, given `dense_model` (the ranker after its lookup, ONNX), unless that model fed
    with the files' own vectors scores as the files do: HPS serving in a nutshell."""
    keys = slot_keys(sparse, dlrm_shape(model).slot_sizes)
    evaluator = HugeCTRModel(files)
    got = evaluator.predict(dense, keys)
    with torch.no_grad():
        want = model(torch.from_numpy(sparse), torch.from_numpy(dense)).numpy()
    _within_tolerance(got, want, f"{files.network.parent}: HugeCTR files", "PyTorch")
    if dense_model is None:
        return
    session = ort.InferenceSession(str(dense_model), providers=["CPUExecutionProvider"])
    embedded = evaluator.embeddings(keys)
    served = session.run(None, {"embedded": embedded, "dense": dense})[0]
    _within_tolerance(served, got, f"{dense_model.name} on the files' vectors", "the files")


def _within_tolerance(got: np.ndarray, want: np.ndarray, what: str, reference: str) -> None:
    difference = float(np.abs(got - want).max())
    if difference > TOLERANCE:
        raise ExportError(
            f"{what} score up to {difference:.2e} away from {reference} (tolerance "
            f"{TOLERANCE}); the layout in pipelines/hugectr/network.py no longer matches "
            "the model"
        )
