"""The tensors the serving stages pass each other, each declared once: its name, its
Triton type and its shape after the user dimension (every tensor's first dimension is
the user). The stages read and write them by these names (operators/), the
graph says which stage takes and gives which (graph.py), and the export renders them
into the Triton configs (export/pbtxt.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tensor:
    name: str
    dtype: str  # Triton's type name, without TYPE_
    dims: tuple[int, ...] = (-1,)


USER_ID = Tensor("user_id_raw", "INT32", (1,))
CANDIDATES = Tensor("candidate_ids", "INT64")
# The user's model columns (schema.USER_MODEL_SPARSE, USER_RANKER_DENSE).
USER_SPARSE = Tensor("user_sparse", "INT64")
USER_DENSE = Tensor("user_dense", "FP32")
IS_FALLBACK = Tensor("is_fallback", "BOOL", (1,))
# A stage could not read Redis and answered with less (see serving/resilience.py).
RETRIEVAL_DEGRADED = Tensor("retrieval_degraded", "BOOL", (1,))
IS_DEGRADED = Tensor("is_degraded", "BOOL", (1,))
FILTERED = Tensor("filtered_ids", "INT64")
SCORES = Tensor("candidate_scores", "FP32")
ORDERED_IDS = Tensor("ordered_ids", "INT32")
ORDERED_SCORES = Tensor("ordered_scores", "FP32")
