"""The serving graph's wiring as the ensemble runs it, and the reference calling
convention."""

from __future__ import annotations

from pipelines.export import pbtxt
from pipelines.serving import graph
from pipelines.serving.tensors import Tensor
from recstack_contract.triton import ENSEMBLE


def test_ensemble_keeps_the_reference_contract() -> None:
    # With batching on, Triton prepends the user dimension: user_id_raw is [-1, 1] and
    # ordered_ids [-1, -1] on the wire, as in the reference ensemble.
    assert ENSEMBLE == "ensemble-model"
    assert (Tensor("user_id_raw", "INT32", (1,)),) == graph.INPUTS
    outputs = {t.name: t for t in graph.OUTPUTS}
    assert outputs["ordered_ids"] == Tensor("ordered_ids", "INT32", (-1,))
    assert outputs["ordered_scores"].dtype == "FP32"
    assert f"max_batch_size: {pbtxt.MAX_USERS}" in pbtxt.ensemble_config()


def test_every_step_input_exists_before_the_step_with_the_same_type() -> None:
    available = {t.name: t for t in graph.INPUTS}
    for stage in graph.STAGES:
        for tensor in stage.inputs:
            assert available.get(tensor.name) == tensor, f"{stage.name} needs {tensor.name}"
        for tensor in stage.outputs:
            assert tensor.name not in available, f"{stage.name} overwrites {tensor.name}"
            available[tensor.name] = tensor
    for tensor in graph.OUTPUTS:
        assert available.get(tensor.name) == tensor


def test_rendered_configs_name_every_tensor_and_the_environment() -> None:
    for stage in graph.STAGES:
        text = pbtxt.stage_config(stage, instances=3, python_env="/opt/env")
        assert f'name: "{stage.name}"' in text
        assert f"max_batch_size: {pbtxt.MAX_USERS}" in text
        assert "dynamic_batching" in text
        assert "count: 3" in text
        assert 'string_value: "/opt/env"' in text
        for tensor in (*stage.inputs, *stage.outputs):
            assert f'name: "{tensor.name}" data_type: TYPE_{tensor.dtype}' in text
    ensemble = pbtxt.ensemble_config()
    assert all(f'model_name: "{name}"' in ensemble for name in graph.NAMES)
    assert ensemble.index('"retrieval"') < ensemble.index('"ordering"')
