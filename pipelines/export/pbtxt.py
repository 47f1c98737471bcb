"""Triton model configurations (config.pbtxt) for the stage models and the ensemble,
rendered from the serving graph (serving/graph.py: the stages, in order, and the tensors
each takes and gives); the ensemble passes each tensor by its one name.

Every model batches over users: the first dimension of every tensor is the user, left
out of `dims` as Triton wants for max_batch_size > 0. Clients see exactly the reference
contract — `user_id_raw` INT32 [-1, 1] in, `ordered_ids` INT32 [-1, -1] out — and the
stages' dynamic batching answers concurrent requests in one pass each.
"""

from __future__ import annotations

from recstack_contract.triton import ENSEMBLE

from ..serving.graph import INPUTS, OUTPUTS, STAGES, Stage
from ..serving.tensors import Tensor

# Users per request, and per dynamic batch of a stage.
MAX_USERS = 1024


def _render(tensor: Tensor) -> str:
    dims = ", ".join(str(d) for d in tensor.dims)
    return f'{{ name: "{tensor.name}" data_type: TYPE_{tensor.dtype} dims: [ {dims} ] }}'


def _tensors(kind: str, tensors: tuple[Tensor, ...]) -> str:
    body = ",\n".join(f"  {_render(t)}" for t in tensors)
    return f"{kind} [\n{body}\n]"


def stage_config(stage: Stage, instances: int, python_env: str) -> str:
    return "\n".join(
        (
            f'name: "{stage.name}"',
            'backend: "python"',
            f"max_batch_size: {MAX_USERS}",
            # No queue delay: requests waiting while an instance is busy form the batch.
            "dynamic_batching { }",
            _tensors("input", stage.inputs),
            _tensors("output", stage.outputs),
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
        maps = [f'input_map {{ key: "{t.name}" value: "{t.name}" }}' for t in stage.inputs]
        maps += [f'output_map {{ key: "{t.name}" value: "{t.name}" }}' for t in stage.outputs]
        lines = "\n      ".join((f'model_name: "{stage.name}"', "model_version: -1", *maps))
        steps.append(f"    {{\n      {lines}\n    }}")
    return "\n".join(
        (
            f'name: "{ENSEMBLE}"',
            'platform: "ensemble"',
            f"max_batch_size: {MAX_USERS}",
            _tensors("input", INPUTS),
            _tensors("output", OUTPUTS),
            "ensemble_scheduling {\n  step [\n" + ",\n".join(steps) + "\n  ]\n}",
            "",
        )
    )
