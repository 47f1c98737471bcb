"""The Pulumi program's entry point: the only place that reads configuration.

The whole config is parsed and validated before anything is declared; outputs are
registered last.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

import stack_config
from program import deploy


def _raw_config() -> dict[str, Any]:
    """Every config key of the stack (objects arrive JSON-encoded), for validation to
    see unknown keys too."""
    raw: dict[str, Any] = {}
    for key, value in runtime_config.CONFIG.get().items():
        try:
            raw[key] = json.loads(value) if key.startswith(f"{stack_config.NAMESPACE}:") else value
        except (TypeError, json.JSONDecodeError):
            raw[key] = value
    return raw


try:
    config = stack_config.parse(_raw_config(), pulumi.get_project(), pulumi.get_stack())
except stack_config.ConfigError as error:
    # A clean one-line failure instead of a traceback; nothing has been declared yet.
    raise pulumi.RunError(f"invalid stack config: {error}") from None

redis_password = pulumi.Config(stack_config.NAMESPACE).get_secret("redisAuthToken")
for name, value in deploy(config, redis_password).items():
    pulumi.export(name, value)
