"""config.pbtxt of the GPU scoring model, for either backend, from the same settings and
network JSON as ps.json (HugeCTR backend 23.08 `ValidateModelConfig`, HPS backend
24.06 `model_state.cpp`).

- `hugectr`: the whole DLRM on the GPU. Inputs DES (dense features), CATCOLUMN (keys,
  sample-major), ROWINDEX (CSR row pointers per slot); output OUTPUT0, one probability
  per sample. Every parameter is a string; without them the backend falls back to
  built-in sizes and no network file.
- `hps`: the embedding lookup only. Inputs KEYS (table-major) and NUMKEYS; output
  OUTPUT0, the vectors; the dense part is another model.

The model's name is ps.json's model: HPS finds its configuration by it.
"""

from __future__ import annotations

from pathlib import Path

from recstack_contract import hps

from ..serving.hugectr_files import InferenceFiles
from .network import LABEL_DIM, NNZ_PER_SLOT, ServedShape
from .settings import GPUS, HpsSettings

OUTPUT = "OUTPUT0"
_INPUTS = {
    "hugectr": (("DES", "FP32"), ("CATCOLUMN", "INT64"), ("ROWINDEX", "INT32")),
    "hps": (("KEYS", "INT64"), ("NUMKEYS", "INT32")),
}


def model_config(settings: HpsSettings, shape: ServedShape) -> str:
    gpus = ", ".join(str(gpu) for gpu in GPUS)
    inputs = ",\n".join(
        f'  {{ name: "{name}" data_type: TYPE_{dtype} dims: [ -1 ] }}'
        for name, dtype in _INPUTS[settings.backend]
    )
    lines = [
        f'name: "{hps.MODEL}"',
        f'backend: "{settings.backend}"',
        f"max_batch_size: {settings.max_batch_size}",
        f"input [\n{inputs}\n]",
        f'output [\n  {{ name: "{OUTPUT}" data_type: TYPE_FP32 dims: [ -1 ] }}\n]',
        f"instance_group [ {{ count: {settings.instances} kind: KIND_GPU gpus: [ {gpus} ] }} ]",
    ]
    lines += [
        f'parameters: {{ key: "{key}" value: {{ string_value: "{value}" }} }}'
        for key, value in _parameters(settings, shape).items()
    ]
    return "\n".join(lines) + "\n"


def _parameters(settings: HpsSettings, shape: ServedShape) -> dict[str, str]:
    common = {"refresh_interval": str(settings.refresh_interval_s), "freeze_sparse": "false"}
    if settings.backend == "hps":
        return common
    return common | {
        "config": str(InferenceFiles.under(Path(settings.model_dir), hps.MODEL).network),
        "gpucache": _flag(settings.gpucache),
        "gpucacheper": str(settings.gpucacheper),
        "hit_rate_threshold": str(settings.hit_rate_threshold),
        "label_dim": str(LABEL_DIM),
        "slots": str(shape.slots),
        "cat_feature_num": str(shape.slots * NNZ_PER_SLOT),
        "des_feature_num": str(shape.n_dense),
        "max_nnz": str(NNZ_PER_SLOT),
        "embedding_vector_size": str(shape.vec_size),
        "embeddingkey_long_type": "true",
    }


def _flag(value: bool) -> str:
    return "true" if value else "false"
