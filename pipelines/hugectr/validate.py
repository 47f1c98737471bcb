"""Every HPS consistency rule over what an environment would deploy, from its settings.

The pre-flight play runs this on the controller (the `hps_problems` filter) before any
host is changed, and `recstack validate <env>` runs that play alone. It generates ps.json
and the GPU model's config.pbtxt from the environment's pipeline config (its `hps`
section and the ranker's size), Redis and Kafka endpoints, and checks them
(consistency.py). The exported model files are checked where they are, by the `hps` step
(consistency.file_problems). With no GPU serving hosts the checks still run, except that
a standalone Redis is fine where HPS never connects to it. No broker limit is passed:
HPS's own consumer reads only the kit's local broker (MSK needs authentication it lacks),
whose message size the kit does not cap.
"""

from __future__ import annotations

import json
from typing import Any

from recstack_config import ConfigError
from recstack_contract.kafka import KafkaEndpoint
from recstack_contract.redis import RedisConnection

from .. import schema
from ..config import from_mapping
from .consistency import HpsDeployment, check
from .network import ServedShape
from .ps_json import ps_json
from .triton_config import model_config


def problems(
    pipeline_config: Any,
    redis: dict[str, Any],
    kafka: dict[str, Any],
    gpu_serving: bool,
    broker_message_max_bytes: int | None = None,
) -> list[str]:
    """What is wrong, one line each naming the file (or setting), the key and the fix."""
    try:
        cfg = from_mapping(pipeline_config).validate()
    except ConfigError as error:
        return [f"pipelines_config: {error}"]
    settings = cfg.hps
    shape = ServedShape(
        n_dense=len(schema.RANKER_DENSE),
        slots=len(schema.RANKER_SPARSE),
        vec_size=cfg.train.embedding_dim,
    )
    connection = RedisConnection.from_mapping(redis)
    endpoint = KafkaEndpoint.from_mapping(kafka)
    deployment = HpsDeployment.parse(
        settings.backend,
        json.dumps(ps_json(settings, connection, endpoint, shape)),
        model_config(settings, shape),
        redis=connection,
        kafka=endpoint,
        gpu_serving=gpu_serving,
        broker_message_max_bytes=broker_message_max_bytes,
    )
    return [str(problem) for problem in check(deployment)]
