"""`recstack up <stack>` after Pulumi: the inventory from the stack's outputs, then the
same site playbook the local environment runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from recstack_contract.secrets import REDIS_PASSWORD

from . import cloud_inventory, secrets
from .environments import Environment
from .runner import PlaybookResult, Progress

PlaybookRun = Callable[[Environment, str, Progress, dict[str, Any]], PlaybookResult]


def configure(
    environment: Environment,
    outputs: dict[str, Any],
    progress: Progress,
    run_playbook: PlaybookRun,
) -> PlaybookResult:
    """Write the inventory from `outputs` (what `cloud.up` returned) and run site.yml."""
    cloud_inventory.write(outputs["inventory"], environment.inventory)
    # The stack's Redis password is kept like every environment's secrets (the tools read
    # it for status, recommend and smoke) and reaches each run as the extra variable the
    # group_vars derive every service's credentials from.
    secrets.store(environment, REDIS_PASSWORD, outputs["redis_password"])
    return run_playbook(environment, "site.yml", progress, secrets.playbook_variables(environment))
