"""Typed configs read from YAML: one builder and one error for all of them.

The pipeline config (pipelines/config.py: snake_case keys) and the Pulumi stack config
(stacks/stack_config/: camelCase keys under `recstack:`) both turn the mapping their
caller read from YAML into frozen dataclasses here, refusing unknown keys and wrong
types with the dotted key and the fix, and share the range checks of their validation.
It imports nothing but the standard library, so the Pulumi program's environment, which
has none of the kit's dependencies, imports it as well as the kit does.
"""

from __future__ import annotations

from .builder import DataclassBuilder, as_written, snake_to_camel
from .errors import ConfigError
from .rules import at_least, between, one_of

__all__ = [
    "ConfigError",
    "DataclassBuilder",
    "as_written",
    "at_least",
    "between",
    "one_of",
    "snake_to_camel",
]
