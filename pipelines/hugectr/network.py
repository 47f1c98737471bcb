"""The ranker's layer graph as a HugeCTR network JSON, and its weights in HugeCTR's order.

The graph is HugeCTR's DLRM: a Data layer (dense features, one key per slot), one
DistributedSlotSparseEmbeddingHash table shared by every slot, the bottom MLP, an
Interaction layer, the top MLP and BinaryCrossEntropyLoss (which inference replaces by
Sigmoid). The JSON is what HugeCTR's `graph_to_json` writes (no `name`s, no `inference`
section, which nothing has read since 3.1).

Weights differ from PyTorch's in two ways (HugeCTR `fully_connected_layer.cu`,
`interaction_layer.cu`):
- InnerProduct keeps W as [in][out] (PyTorch's Linear.weight transposed), then b.
- Interaction emits [bottom MLP, the pairwise dot products ordered by the second vector
  then the first ((0,1), (0,2), (1,2), (0,3), ...), one zero pad]. PyTorch's model orders
  its pairs by the first vector; the first top layer's rows are permuted to match, and
  the pad gets a zero row, so whatever the pad holds never reaches the score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..serving.hugectr_files import ExportedTable

DENSE_INPUT = "dense"
SPARSE_INPUT = "data1"
LABEL = "label"
# The vector of a key no table holds: HugeCTR's default_emb_vec_value, HPS's
# default_value_for_each_table.
DEFAULT_VALUE = 0.0
# One label, the click.
LABEL_DIM = 1
# Keys per slot and sample: each slot is one categorical column.
NNZ_PER_SLOT = 1
# The embedding layer types whose tables are folders of `key` and `emb_vector`.
EMBEDDING_LAYERS = ("DistributedSlotSparseEmbeddingHash", "LocalizedSlotSparseEmbeddingHash")
# HugeCTR sizes its training hash table from this; inference ignores it.
_WORKSPACE_MB = 64


class NetworkError(ValueError):
    """A network JSON that HugeCTR would refuse, or that this kit cannot evaluate."""


@dataclass(frozen=True)
class DlrmShape:
    n_dense: int
    slot_sizes: tuple[int, ...]  # rows of each slot's part of the table (its cardinality)
    vec_size: int
    bottom: tuple[int, ...]  # widths of the bottom MLP's layers; the last is vec_size
    top: tuple[int, ...]  # widths of the top MLP's layers; the last is 1 (the logit)

    @property
    def slots(self) -> int:
        return len(self.slot_sizes)


@dataclass(frozen=True)
class ServedShape:
    """What HPS's configuration needs of a model: dense features per sample, slots (one
    key each) and the embedding vector size."""

    n_dense: int
    slots: int
    vec_size: int

    @classmethod
    def of(cls, network: dict[str, Any]) -> ServedShape:
        data = network["layers"][0]
        return cls(
            n_dense=data["dense"]["dense_dim"],
            slots=data["sparse"][0]["slot_num"],
            vec_size=ExportedTable.of(network).vec_size,
        )


def interaction_width(vec_size: int, slots: int) -> int:
    """HugeCTR's Interaction output: the bottom MLP, n(n-1)/2 dot products, one pad."""
    n = 1 + slots
    return vec_size + n * (n + 1) // 2 - n + 1


def network_json(shape: DlrmShape, model_name: str, table_name: str) -> dict[str, Any]:
    layers: list[dict[str, Any]] = [
        {
            "type": "Data",
            "label": {"top": LABEL, "label_dim": LABEL_DIM},
            "dense": {"top": DENSE_INPUT, "dense_dim": shape.n_dense},
            "sparse": [
                {
                    "top": SPARSE_INPUT,
                    "type": "DistributedSlot",
                    "nnz_per_slot": NNZ_PER_SLOT,
                    "is_fixed_length": True,
                    "slot_num": shape.slots,
                }
            ],
        },
        {
            "type": "DistributedSlotSparseEmbeddingHash",
            "bottom": SPARSE_INPUT,
            "top": table_name,
            "sparse_embedding_hparam": {
                "workspace_size_per_gpu_in_mb": _WORKSPACE_MB,
                "max_vocabulary_size_global": sum(shape.slot_sizes),
                "embedding_vec_size": shape.vec_size,
                "combiner": "sum",
                "default_emb_vec_value": DEFAULT_VALUE,
                "slot_size_array": list(shape.slot_sizes),
            },
            "optimizer": {"type": "Adam", "update_type": "Global"},
        },
    ]
    bottom = _mlp(layers, "bottom", DENSE_INPUT, shape.bottom, relu_last=True)
    layers.append({"type": "Interaction", "bottom": [bottom, table_name], "top": "interaction"})
    logit = _mlp(layers, "top", "interaction", shape.top, relu_last=False)
    layers.append({"type": "BinaryCrossEntropyLoss", "bottom": [logit, LABEL], "top": "loss"})
    return {"layers": layers, "model_name": model_name}


def inner_products(network: dict[str, Any]) -> list[tuple[int, int]]:
    """(inputs, outputs) of each InnerProduct in graph order, inferred from the JSON."""
    layers = network.get("layers")
    if not isinstance(layers, list) or not layers or layers[0].get("type") != "Data":
        raise NetworkError("layers[0] must be the Data layer")
    data = layers[0]
    widths: dict[str, tuple[int, ...]] = {data["dense"]["top"]: (data["dense"]["dense_dim"],)}
    widths.update({s["top"]: (s["slot_num"],) for s in data["sparse"]})
    label = data["label"]["top"]
    shapes = []
    for layer in layers[1:]:
        kind, top = layer["type"], layer["top"]
        bottoms = layer["bottom"] if isinstance(layer["bottom"], list) else [layer["bottom"]]
        missing = [b for b in bottoms if b not in widths and b != label]
        if missing:
            raise NetworkError(f"{top}, bottom tensor name does not exists: {missing[0]}")
        if kind in EMBEDDING_LAYERS:
            vec = layer["sparse_embedding_hparam"]["embedding_vec_size"]
            widths[top] = (widths[bottoms[0]][0], vec)
        elif kind == "InnerProduct":
            (width,) = widths[bottoms[0]]
            out = layer["fc_param"]["num_output"]
            shapes.append((width, out))
            widths[top] = (out,)
        elif kind in ("ReLU", "Sigmoid"):
            widths[top] = widths[bottoms[0]]
        elif kind == "Interaction":
            (mlp,), (slots, vec) = widths[bottoms[0]], widths[bottoms[1]]
            if mlp != vec:
                raise NetworkError(f"{top}: the input tensors' widths must be the same")
            widths[top] = (interaction_width(vec, slots),)
        elif kind == "BinaryCrossEntropyLoss":
            widths[top] = (1,)
        else:
            raise NetworkError(f"No such layer: {kind} (this kit evaluates DLRM's layers only)")
    return shapes


def interaction_pairs(vectors: int) -> list[tuple[int, int]]:
    """The (first, second) vectors of each dot product the Interaction layer emits, in
    its order: by the second vector, then the first (`s_idx = col*(col-1)/2 + row`)."""
    return [(i, j) for j in range(vectors) for i in range(j)]


def dense_floats(network: dict[str, Any]) -> int:
    """How many floats the dense file of `network` holds (W and b of every InnerProduct)."""
    return sum(i * o + o for i, o in inner_products(network))


def _mlp(
    layers: list[dict[str, Any]], name: str, bottom: str, widths: tuple[int, ...], relu_last: bool
) -> str:
    """Append InnerProduct layers (each but the last followed by ReLU, the last too when
    relu_last) reading `bottom`; the name of the MLP's output tensor."""
    for position, width in enumerate(widths, start=1):
        fc = f"{name}_fc{position}"
        layers.append(
            {"type": "InnerProduct", "bottom": bottom, "top": fc, "fc_param": {"num_output": width}}
        )
        bottom = fc
        if relu_last or position < len(widths):
            bottom = f"{name}_relu{position}"
            layers.append({"type": "ReLU", "bottom": fc, "top": bottom})
    return bottom
