"""Triton model configurations (config.pbtxt) for the stage models and the ensemble.

Every tensor's name, type and shape is declared once here; the ensemble's wiring is
checked against these declarations by a unit test, so a rename cannot silently break it.

Every model batches over users: the first dimension of every tensor is the user, left
out of `dims` as Triton wants for max_batch_size > 0. Clients see exactly the reference
contract — `user_id_raw` INT32 [-1, 1] in, `ordered_ids` INT32 [-1, -1] out — and the
stages' dynamic batching answers concurrent requests in one pass each.
"""

from __future__ import annotations

from dataclasses import dataclass

from recstack_contract.triton import ENSEMBLE

STAGES = ("retrieval", "filtering", "scoring", "ordering")
# Users per request, and per dynamic batch of a stage.
MAX_USERS = 1024


@dataclass(frozen=True)
class Tensor:
    name: str
    dtype: str
    dims: tuple[int, ...] = (-1,)  # after the user dimension

    def render(self) -> str:
        dims = ", ".join(str(d) for d in self.dims)
        return f'{{ name: "{self.name}" data_type: TYPE_{self.dtype} dims: [ {dims} ] }}'


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

# stage -> (inputs, outputs), in pipeline order.
SIGNATURES: dict[str, tuple[tuple[Tensor, ...], tuple[Tensor, ...]]] = {
    "retrieval": (
        (USER_ID,),
        (CANDIDATES, USER_SPARSE, USER_DENSE, IS_FALLBACK, RETRIEVAL_DEGRADED),
    ),
    "filtering": ((USER_ID, CANDIDATES, RETRIEVAL_DEGRADED), (FILTERED, IS_DEGRADED)),
    "scoring": ((USER_SPARSE, USER_DENSE, FILTERED, IS_FALLBACK), (SCORES,)),
    "ordering": ((FILTERED, SCORES), (ORDERED_IDS, ORDERED_SCORES)),
}
ENSEMBLE_INPUTS = (USER_ID,)
ENSEMBLE_OUTPUTS = (ORDERED_IDS, ORDERED_SCORES, IS_FALLBACK, IS_DEGRADED)


def _tensors(kind: str, tensors: tuple[Tensor, ...]) -> str:
    body = ",\n".join(f"  {t.render()}" for t in tensors)
    return f"{kind} [\n{body}\n]"


def stage_config(stage: str, instances: int, python_env: str) -> str:
    inputs, outputs = SIGNATURES[stage]
    return "\n".join(
        (
            f'name: "{stage}"',
            'backend: "python"',
            f"max_batch_size: {MAX_USERS}",
            # No queue delay: requests waiting while an instance is busy form the batch.
            "dynamic_batching { }",
            _tensors("input", inputs),
            _tensors("output", outputs),
            f"instance_group [ {{ kind: KIND_CPU count: {instances} }} ]",
            "parameters: {",
            '  key: "EXECUTION_ENV_PATH"',
            f'  value: {{ string_value: "{python_env}" }}',
            "}",
            "",
        )
    )


def ensemble_config() -> str:
    steps = []
    for stage in STAGES:
        inputs, outputs = SIGNATURES[stage]
        maps = [f'input_map {{ key: "{t.name}" value: "{t.name}" }}' for t in inputs]
        maps += [f'output_map {{ key: "{t.name}" value: "{t.name}" }}' for t in outputs]
        lines = "\n      ".join(maps)
        steps.append(
            f'    {{\n      model_name: "{stage}"\n      model_version: -1\n      {lines}\n    }}'
        )
    return "\n".join(
        (
            f'name: "{ENSEMBLE}"',
            'platform: "ensemble"',
            f"max_batch_size: {MAX_USERS}",
            _tensors("input", ENSEMBLE_INPUTS),
            _tensors("output", ENSEMBLE_OUTPUTS),
            "ensemble_scheduling {\n  step [\n" + ",\n".join(steps) + "\n  ]\n}",
            "",
        )
    )
