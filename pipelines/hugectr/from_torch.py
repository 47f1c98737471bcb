"""The PyTorch DLRM's shape and weights as HugeCTR's layers hold them (network.py says
how the two differ: W as [in][out], and the Interaction layer's pair order and pad)."""

from __future__ import annotations

import numpy as np
from torch import nn

from pipelines.train.dlrm import DLRM

from .network import DlrmShape, NetworkError, interaction_pairs


def dlrm_shape(model: DLRM) -> DlrmShape:
    bottom = _linears(model.bottom, relu_last=True)
    top = _linears(model.top, relu_last=False)
    return DlrmShape(
        n_dense=bottom[0].in_features,
        slot_sizes=tuple(int(n) for n in model.embed.cardinality),
        vec_size=model.embed.table.embedding_dim,
        bottom=tuple(layer.out_features for layer in bottom),
        top=tuple(layer.out_features for layer in top),
    )


def dense_weights(model: DLRM) -> list[np.ndarray]:
    """Every InnerProduct's W [in][out] then b, in graph order (the dense file's content)."""
    shape = dlrm_shape(model)
    weights = []
    for position, layer in enumerate(
        (*_linears(model.bottom, relu_last=True), *_linears(model.top, relu_last=False))
    ):
        w = layer.weight.detach().numpy().T
        if position == len(shape.bottom):  # the first top layer reads the interactions
            w = _interaction_rows(w, shape.vec_size, shape.slots, model.pairs.tolist())
        weights += [w, layer.bias.detach().numpy()]
    return weights


def _linears(block: nn.Sequential, relu_last: bool) -> list[nn.Linear]:
    """The Linear layers of an MLP that alternates Linear and ReLU; refuses any other."""
    modules = list(block)
    linears, relus = modules[0::2], modules[1::2]
    expected_relus = len(linears) if relu_last else len(linears) - 1
    shaped = len(relus) == expected_relus and all(isinstance(m, nn.ReLU) for m in relus)
    if not shaped or not all(isinstance(m, nn.Linear) for m in linears):
        raise NetworkError(
            "the DLRM's MLP is no longer Linear/ReLU pairs; teach pipelines/hugectr its new "
            "layers before exporting it"
        )
    return linears


def _interaction_rows(w: np.ndarray, vec_size: int, slots: int, pairs: list[int]) -> np.ndarray:
    """The first top layer's rows [bottom, PyTorch's pairs] in HugeCTR's order [bottom,
    pairs by second vector, zero pad]. `pairs` are the model's own flat positions
    (first * vectors + second) in the order it concatenates them."""
    vectors = 1 + slots
    torch_position = {(p // vectors, p % vectors): i for i, p in enumerate(pairs)}
    hugectr_order = [torch_position[pair] for pair in interaction_pairs(vectors)]
    rows = w[vec_size:][hugectr_order]
    return np.concatenate([w[:vec_size], rows, np.zeros((1, w.shape[1]), w.dtype)])
