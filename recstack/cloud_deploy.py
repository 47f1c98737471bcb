"""`recstack up <stack>` for a cloud stack: Pulumi (refresh, then up), the inventory from
the stack's outputs, then the same site playbook the local environment runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import cloud, cloud_inventory
from .environments import Environment
from .runner import PlaybookResult, Progress

PlaybookRun = Callable[[Environment, str, Progress, dict[str, Any]], PlaybookResult]


def deploy(
    environment: Environment,
    on_output: cloud.Output,
    progress: Progress,
    run_playbook: PlaybookRun,
    factory: cloud.StackFactory | None = None,
) -> PlaybookResult:
    outputs = cloud.up(environment.name, on_output, factory)
    cloud_inventory.write(outputs["inventory"], environment.inventory)
    # Secrets travel as extra variables of this run only: ansible-runner keeps them in a
    # private directory that is deleted when the run ends.
    secrets = {"pipelines_redis_password": outputs["redis_password"]}
    return run_playbook(environment, "site.yml", progress, secrets)
