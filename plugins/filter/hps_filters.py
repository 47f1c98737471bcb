"""`pipelines_config | hps_problems(recstack_redis, recstack_kafka, recstack_serving_gpu)`:
the HPS consistency rules (pipelines/hugectr/validate.py) over what this environment
would deploy, as a list of problems, each naming the file or setting, the key and the
fix. The pre-flight play fails on any, before a host is changed."""

from __future__ import annotations

from typing import Any

from pipelines.hugectr.validate import problems


def hps_problems(
    pipeline_config: dict[str, Any],
    redis: dict[str, Any],
    kafka: dict[str, Any],
    gpu_serving: bool,
) -> list[str]:
    return problems(pipeline_config, redis, kafka, bool(gpu_serving))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"hps_problems": hps_problems}
