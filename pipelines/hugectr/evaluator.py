"""Click probabilities from HugeCTR model files alone, on CPU, as HugeCTR's layers compute them.

This is the reference the kit holds every other scorer to: the export step publishes the
files only when this evaluation matches PyTorch, and the HPS scoring stage must match
this evaluation. It reads nothing but the network JSON, the dense file and the sparse
tables, so a mistake in any of them shows up as a wrong score here.

DenseNetwork is everything after the embedding lookup, from the network JSON and the
dense file: the probabilities for given embedding vectors, and the gradient of the
loss with respect to those vectors (what online training changes, the dense weights
staying fixed as they do between HPS's model versions).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..serving.hugectr_files import InferenceFiles, SparseTable, read_dense
from .network import EMBEDDING_LAYERS, NetworkError, dense_floats, inner_products, interaction_pairs


class DenseNetwork:
    def __init__(self, network_file: Path, dense_file: Path) -> None:
        self.network: dict[str, Any] = json.loads(network_file.read_text())
        self._layers = self.network["layers"]
        flat = read_dense(dense_file, dense_floats(self.network))
        self._weights: list[tuple[np.ndarray, np.ndarray]] = []
        start = 0
        for inputs, outputs in inner_products(self.network):
            w = flat[start : start + inputs * outputs].reshape(inputs, outputs)
            start += inputs * outputs
            self._weights.append((w, flat[start : start + outputs]))
            start += outputs
        self.embedding_layers = [
            layer for layer in self._layers if layer["type"] in EMBEDDING_LAYERS
        ]
        if len(self.embedding_layers) != 1:
            raise NetworkError(
                f"{network_file}: {len(self.embedding_layers)} embedding layers; this kit "
                "evaluates networks of one table"
            )

    def probabilities(self, dense: np.ndarray, embedded: np.ndarray) -> np.ndarray:
        """dense float32 [B, dense_dim], embedded [B, slots, vec_size] -> float32 [B]."""
        return self._forward(dense, embedded)[self._layers[-1]["top"]].reshape(-1)

    def embedding_gradient(
        self, dense: np.ndarray, embedded: np.ndarray, labels: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The probabilities [B] and the gradient of each sample's binary cross-entropy
        (the training loss) with respect to its embedding vectors [B, slots, vec_size]."""
        tensors = self._forward(dense, embedded)
        loss = self._layers[-1]
        if loss["type"] != "BinaryCrossEntropyLoss":
            raise NetworkError(f"the last layer is {loss['type']}, not BinaryCrossEntropyLoss")
        probabilities = tensors[loss["top"]].reshape(-1)
        # d BCE / d logit of a sigmoid output.
        grads = {loss["bottom"][0]: (probabilities - labels).reshape(-1, 1).astype(np.float32)}
        weights = reversed(self._weights)
        for layer in reversed(self._layers[1:-1]):
            kind, top = layer["type"], layer["top"]
            bottoms = layer["bottom"] if isinstance(layer["bottom"], list) else [layer["bottom"]]
            if kind == "InnerProduct":
                w, _ = next(weights)
            if top not in grads or kind in EMBEDDING_LAYERS:
                continue
            g = grads.pop(top)
            if kind == "InnerProduct":
                _accumulate(grads, bottoms[0], g @ w.T)
            elif kind == "ReLU":
                _accumulate(grads, bottoms[0], g * (tensors[bottoms[0]] > 0))
            elif kind == "Interaction":
                d_mlp, d_embedded = _interaction_gradient(
                    tensors[bottoms[0]], tensors[bottoms[1]], g
                )
                _accumulate(grads, bottoms[0], d_mlp)
                _accumulate(grads, bottoms[1], d_embedded)
            else:
                raise NetworkError(f"no gradient for layer {kind} (this kit trains DLRM's layers)")
        return probabilities, grads[self.embedding_layers[0]["top"]]

    def _forward(self, dense: np.ndarray, embedded: np.ndarray) -> dict[str, np.ndarray]:
        data = self._layers[0]
        tensors: dict[str, np.ndarray] = {
            data["dense"]["top"]: np.asarray(dense, np.float32),
            self.embedding_layers[0]["top"]: np.asarray(embedded, np.float32),
        }
        weights = iter(self._weights)
        for layer in self._layers[1:]:
            kind = layer["type"]
            if kind in EMBEDDING_LAYERS:
                continue
            bottoms = layer["bottom"] if isinstance(layer["bottom"], list) else [layer["bottom"]]
            x = tensors.get(bottoms[0])
            if kind == "InnerProduct":
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
        return tensors


class HugeCTRModel:
    """The exported files as one model: the sparse table's lookup, then DenseNetwork."""

    def __init__(self, files: InferenceFiles) -> None:
        self.dense = DenseNetwork(files.network, files.dense)
        self.network = self.dense.network
        if len(files.sparse) != 1:
            raise NetworkError(
                f"{files.network}: 1 embedding layer, but {len(files.sparse)} sparse tables "
                "were given"
            )
        layer = self.dense.embedding_layers[0]
        self._table = _Lookup(layer, SparseTable.read(files.sparse[0], _vec_size(layer)))

    def embeddings(self, keys: np.ndarray) -> np.ndarray:
        """keys int64 [B, slots] of the table -> its vectors [B, slots, vec_size]."""
        return self._table(np.asarray(keys, np.int64))

    def predict(self, dense: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """dense float32 [B, dense_dim], keys int64 [B, slots] -> probabilities float32 [B]."""
        return self.dense.probabilities(dense, self.embeddings(keys))


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


def _interaction_gradient(
    mlp: np.ndarray, embedded: np.ndarray, g: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The Interaction layer's input gradients: the mlp part passes through, and the dot
    product of vectors i and j sends its gradient times v_j to v_i and times v_i to v_j
    (the pad depends on nothing)."""
    vectors = np.concatenate([mlp[:, None, :], embedded], axis=1)
    width, n = mlp.shape[1], vectors.shape[1]
    first, second = zip(*interaction_pairs(n), strict=True)
    pairs = np.zeros((len(mlp), n, n), np.float32)
    pairs[:, list(first), list(second)] = g[:, width : width + len(first)]
    d_vectors = (pairs + pairs.transpose(0, 2, 1)) @ vectors
    return g[:, :width] + d_vectors[:, 0], d_vectors[:, 1:]


def _accumulate(grads: dict[str, np.ndarray], name: str, value: np.ndarray) -> None:
    grads[name] = grads[name] + value if name in grads else value


def _vec_size(layer: dict[str, Any]) -> int:
    return int(layer["sparse_embedding_hparam"]["embedding_vec_size"])
