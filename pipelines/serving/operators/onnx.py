"""The stages' onnxruntime sessions."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


def onnx_session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    # Stage instances run side by side: one thread each avoids oversubscribing the cores.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
