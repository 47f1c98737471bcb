"""The ranker served beside HPS: its embeddings from HPS's tiers (hps_lookup.py), the rest
of the DLRM (bottom MLP, interactions, top MLP) in onnxruntime (`ranker_dense.onnx`).

It answers like the ranker's ONNX session, `run(None, {"sparse", "dense"}) -> [scores]`,
so the scoring stage takes either. The raw codes become the table's keys as the
exported network defines them (each slot's rows offset by the slots before it, codes
folded modulo the slot's size), the same keys HPS serves on a GPU host.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from .hps_layout import slot_keys
from .hps_lookup import HpsLookup


class HpsRanker:
    def __init__(
        self, lookup: HpsLookup, dense_part: ort.InferenceSession, slot_sizes: tuple[int, ...]
    ) -> None:
        self.lookup = lookup
        self._dense_part = dense_part
        self._slot_sizes = slot_sizes

    def run(self, _outputs: None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        embedded = self.lookup.lookup(slot_keys(feeds["sparse"], self._slot_sizes))
        return self._dense_part.run(None, {"embedded": embedded, "dense": feeds["dense"]})
