"""The ensemble's wiring and the reference calling convention."""

from __future__ import annotations

from pipelines.export import pbtxt


def test_ensemble_keeps_the_reference_contract() -> None:
    # With batching on, Triton prepends the user dimension: user_id_raw is [-1, 1] and
    # ordered_ids [-1, -1] on the wire, as in the reference ensemble.
    assert pbtxt.ENSEMBLE == "ensemble-model"
    assert (pbtxt.Tensor("user_id_raw", "INT32", (1,)),) == pbtxt.ENSEMBLE_INPUTS
    outputs = {t.name: t for t in pbtxt.ENSEMBLE_OUTPUTS}
    assert outputs["ordered_ids"] == pbtxt.Tensor("ordered_ids", "INT32", (-1,))
    assert outputs["ordered_scores"].dtype == "FP32"
    assert f"max_batch_size: {pbtxt.MAX_USERS}" in pbtxt.ensemble_config()


def test_every_step_input_exists_before_the_step_with_the_same_type() -> None:
    available = {t.name: t for t in pbtxt.ENSEMBLE_INPUTS}
    for stage in pbtxt.STAGES:
        inputs, outputs = pbtxt.SIGNATURES[stage]
        for tensor in inputs:
            assert available.get(tensor.name) == tensor, f"{stage} needs {tensor.name}"
        for tensor in outputs:
            assert tensor.name not in available, f"{stage} overwrites {tensor.name}"
            available[tensor.name] = tensor
    for tensor in pbtxt.ENSEMBLE_OUTPUTS:
        assert available.get(tensor.name) == tensor


def test_rendered_configs_name_every_tensor_and_the_environment() -> None:
    for stage in pbtxt.STAGES:
        text = pbtxt.stage_config(stage, instances=3, python_env="/opt/env")
        inputs, outputs = pbtxt.SIGNATURES[stage]
        assert f'name: "{stage}"' in text
        assert f"max_batch_size: {pbtxt.MAX_USERS}" in text
        assert "dynamic_batching" in text
        assert "count: 3" in text
        assert 'string_value: "/opt/env"' in text
        for tensor in (*inputs, *outputs):
            assert f'name: "{tensor.name}" data_type: TYPE_{tensor.dtype}' in text
    ensemble = pbtxt.ensemble_config()
    assert all(f'model_name: "{stage}"' in ensemble for stage in pbtxt.STAGES)
    assert ensemble.index('"retrieval"') < ensemble.index('"ordering"')
