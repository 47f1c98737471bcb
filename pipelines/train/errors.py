"""Failures of the train step that an operator acts on (the CLI prints them, no traceback)."""

from __future__ import annotations


class QualityGateError(RuntimeError):
    """A trained model scored below its configured floor; nothing was published."""


class ExportError(RuntimeError):
    """An exported ONNX model does not reproduce the PyTorch model it came from."""
