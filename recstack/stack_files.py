"""The committed Pulumi stack files (Pulumi.<stack>.yaml), read with the program's own parser.

The typed config lives in the Pulumi program (stacks/stack_config.py) so the CLI and the
program can never disagree about what a stack file means. That program is a flat
directory whose modules import each other by top-level name (`import aws_catalog`), so it
is made importable here once, on first use, rather than at import of the CLI.
"""

from __future__ import annotations

import functools
import importlib
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import yaml

from . import PROJECT_ROOT
from .environments import cloud_stacks

if TYPE_CHECKING:  # the program's module, importable only once program() has run
    from stack_config import StackConfig

STACKS_DIR = PROJECT_ROOT / "stacks"
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


@functools.cache
def program() -> ModuleType:
    """stacks/stack_config.py, imported under its own name as the Pulumi program does it."""
    # Appended, not prepended: the program's modules must never shadow installed packages.
    if str(STACKS_DIR) not in sys.path:
        sys.path.append(str(STACKS_DIR))
    module = importlib.import_module("stack_config")
    origin = Path(module.__file__ or "").resolve().parent
    if origin != STACKS_DIR.resolve():
        raise ImportError(f"`stack_config` resolved to {origin}, not the program in {STACKS_DIR}")
    return module


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
    module = program()
    try:
        return module.from_stack_file(path, project=_project_name())
    except module.ConfigError as exc:
        raise InvalidStack(f"{path.name}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise InvalidStack(f"{path.name} is not valid YAML: {exc}") from exc
