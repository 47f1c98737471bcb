"""The stack's configuration: parsed once, typed, and validated before anything is declared.

Keys live in Pulumi.<stack>.yaml under the `recstack:` namespace (objects with camelCase
keys) plus `aws:region`; stacks/README.md documents each one. Every error names the key
and what to change, and the whole config is checked before the program declares a single
resource, so a mistake never costs a half-created stack.

This package never imports Pulumi: the program imports it as `stack_config` (stacks/ is
the program's path), and `recstack cost` as `stacks.stack_config` from the kit's own
environment, which has no Pulumi providers. schema.py holds the dataclasses, parsing.py
turns config keys into them (each section through recstack_config, the builder the
pipeline config uses too, whose ConfigError this package re-exports), checks.py validates
them, layout.py holds the numbers the components and the Pulumi-free code share.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from recstack_config import ConfigError

from .checks import validate
from .layout import MAX_AZS, MAX_PREFIX, SSM_ENDPOINT_SERVICES
from .parsing import NAMESPACE, build
from .schema import MSK_AUTH_MODES, REDIS_MODES, StackConfig

__all__ = [
    "MAX_AZS",
    "MAX_PREFIX",
    "MSK_AUTH_MODES",
    "NAMESPACE",
    "REDIS_MODES",
    "SSM_ENDPOINT_SERVICES",
    "ConfigError",
    "StackConfig",
    "from_stack_file",
    "parse",
    "validate",
]


def parse(raw: dict[str, Any], project: str, stack: str) -> StackConfig:
    """Build and validate the config from `namespace:key -> value` pairs."""
    config = build(raw, project, stack)
    validate(config)
    return config


def from_stack_file(path: Path, project: str = "recstack") -> StackConfig:
    """Parse a committed Pulumi.<stack>.yaml (secure values are skipped)."""
    stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    raw = (yaml.safe_load(path.read_text()) or {}).get("config", {})
    return parse(raw, project, stack)
