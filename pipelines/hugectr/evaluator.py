"""Click probabilities from HugeCTR model files alone, on CPU, as HugeCTR's layers compute them.

This is the reference the kit holds every other scorer to: the export step publishes the
files only when this evaluation matches PyTorch, and the HPS scoring stage must match
this evaluation. It reads nothing but the network JSON, the dense file and the sparse
tables, so a mistake in any of them shows up as a wrong score here.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..serving.hugectr_files import InferenceFiles, SparseTable, read_dense
from .network import EMBEDDING_LAYERS, NetworkError, dense_floats, inner_products, interaction_pairs


class HugeCTRModel:
    def __init__(self, files: InferenceFiles) -> None:
        self.network: dict[str, Any] = json.loads(files.network.read_text())
        self._layers = self.network["layers"]
        flat = read_dense(files.dense, dense_floats(self.network))
        self._weights: list[tuple[np.ndarray, np.ndarray]] = []
        start = 0
        for inputs, outputs in inner_products(self.network):
            w = flat[start : start + inputs * outputs].reshape(inputs, outputs)
            start += inputs * outputs
            self._weights.append((w, flat[start : start + outputs]))
            start += outputs
        embeddings = [layer for layer in self._layers if layer["type"] in EMBEDDING_LAYERS]
        if len(embeddings) != len(files.sparse):
            raise NetworkError(
                f"{files.network}: {len(embeddings)} embedding layers, but "
                f"{len(files.sparse)} sparse tables were given"
            )
        self._tables = {
            layer["top"]: _Lookup(layer, SparseTable.read(folder, _vec_size(layer)))
            for layer, folder in zip(embeddings, files.sparse, strict=True)
        }

    def embeddings(self, keys: np.ndarray) -> np.ndarray:
        """keys int64 [B, slots] of the (first) table -> its vectors [B, slots, vec_size]."""
        return next(iter(self._tables.values()))(np.asarray(keys, np.int64))

    def predict(self, dense: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """dense float32 [B, dense_dim], keys int64 [B, slots] -> probabilities float32 [B]."""
        data = self._layers[0]
        tensors: dict[str, np.ndarray] = {
            data["dense"]["top"]: np.asarray(dense, np.float32),
            data["sparse"][0]["top"]: np.asarray(keys, np.int64),
        }
        weights = iter(self._weights)
        for layer in self._layers[1:]:
            bottoms = layer["bottom"] if isinstance(layer["bottom"], list) else [layer["bottom"]]
            x = tensors.get(bottoms[0])
            kind = layer["type"]
            if kind in EMBEDDING_LAYERS:
                out = self._tables[layer["top"]](x)
            elif kind == "InnerProduct":
                w, b = next(weights)
                out = x @ w + b
            elif kind == "ReLU":
                out = np.maximum(x, 0)
            elif kind in ("Sigmoid", "BinaryCrossEntropyLoss"):
                # Inference replaces the loss by a sigmoid of its first input.
                out = 1 / (1 + np.exp(-x))
            elif kind == "Interaction":
                out = _interaction(x, tensors[bottoms[1]])
            else:
                raise NetworkError(f"No such layer: {kind}")
            tensors[layer["top"]] = out.astype(np.float32)
        return tensors[self._layers[-1]["top"]].reshape(-1)


class _Lookup:
    """One embedding table: a key's row, or default_emb_vec_value for an unknown key,
    combined over each slot's keys (one per slot here, so sum and mean agree)."""

    def __init__(self, layer: dict[str, Any], table: SparseTable) -> None:
        hparam = layer["sparse_embedding_hparam"]
        if hparam.get("combiner", "sum") not in ("sum", "mean"):
            raise NetworkError("combiner need to be sum or mean")
        order = np.argsort(table.keys)
        self._keys = table.keys[order]
        default = np.full((1, table.vectors.shape[1]), hparam.get("default_emb_vec_value", 0.0))
        self._rows = np.concatenate([table.vectors[order], default.astype(np.float32)])

    def __call__(self, keys: np.ndarray) -> np.ndarray:
        position = np.searchsorted(self._keys, keys).clip(max=len(self._keys) - 1)
        found = self._keys[position] == keys
        return self._rows[np.where(found, position, len(self._keys))]


def _interaction(mlp: np.ndarray, embedded: np.ndarray) -> np.ndarray:
    """[mlp, dot products of (mlp, e_1, ..., e_s) pairs by second vector then first, 0]."""
    vectors = np.concatenate([mlp[:, None, :], embedded], axis=1)
    gram = vectors @ vectors.transpose(0, 2, 1)
    first, second = zip(*interaction_pairs(vectors.shape[1]), strict=True)
    pad = np.zeros((len(mlp), 1), np.float32)
    return np.concatenate([mlp, gram[:, list(first), list(second)], pad], axis=1)


def _vec_size(layer: dict[str, Any]) -> int:
    return int(layer["sparse_embedding_hparam"]["embedding_vec_size"])
