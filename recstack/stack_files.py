"""The committed Pulumi stack files (Pulumi.<stack>.yaml), read with the program's own parser.

The typed config lives beside the Pulumi program (stacks/stack_config/) so the CLI and the
program can never disagree about what a stack file means. That package imports no Pulumi
module, so this environment, which has no Pulumi providers, imports it as
`stacks.stack_config` (pyproject.toml packages it alone, not the program around it).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from stacks.stack_config import ConfigError, StackConfig, from_stack_file

from . import PROJECT_ROOT
from .environments import cloud_stacks

# Stack names are path components here: refuse anything that could leave PROJECT_ROOT.
_STACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class StackFileError(Exception):
    """A stack cannot be read: its file is missing or its config is invalid."""


class UnknownStack(StackFileError):
    pass


class InvalidStack(StackFileError):
    pass


def stack_file(stack: str) -> Path:
    return PROJECT_ROOT / f"Pulumi.{stack}.yaml"


def _project_name() -> str:
    # Resource names start with the project name, so read it where Pulumi does.
    project_file = PROJECT_ROOT / "Pulumi.yaml"
    if project_file.is_file():
        name = (yaml.safe_load(project_file.read_text()) or {}).get("name")
        if isinstance(name, str) and name:
            return name
    return "recstack"


def load_stack(stack: str) -> StackConfig:
    """Parse and validate PROJECT_ROOT/Pulumi.<stack>.yaml exactly as the program will."""
    path = stack_file(stack)
    if not _STACK_NAME.fullmatch(stack) or not path.is_file():
        known = ", ".join(cloud_stacks()) or "none"
        raise UnknownStack(f"no stack file Pulumi.{stack}.yaml in {PROJECT_ROOT}; stacks: {known}")
    try:
        return from_stack_file(path, project=_project_name())
    except ConfigError as exc:
        raise InvalidStack(f"{path.name}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise InvalidStack(f"{path.name} is not valid YAML: {exc}") from exc
