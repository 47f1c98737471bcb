"""Cloud stacks through Pulumi's Automation API: preview, up (refresh first, so drift
is seen before changes are planned), destroy. The policy pack in policy/ is enforced on
every preview and up.

The Automation API drives the `pulumi` CLI; it runs the program in stacks/ with the
Pulumi environment (.venv-pulumi) named in Pulumi.yaml.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from . import PROJECT_ROOT

POLICY_PACK = PROJECT_ROOT / "policy"
Output = Callable[[str], None]


class PulumiMissing(RuntimeError):
    pass


class StackLike(Protocol):
    """The part of pulumi.automation.Stack this module uses."""

    def refresh(self, *, on_output: Output, color: str) -> Any: ...

    def preview(self, *, on_output: Output, color: str, policy_packs: list[str]) -> Any: ...

    def up(self, *, on_output: Output, color: str, policy_packs: list[str]) -> Any: ...

    def destroy(self, *, on_output: Output, color: str) -> Any: ...


StackFactory = Callable[[str], StackLike]


@dataclass(frozen=True)
class StackOutputs:
    values: dict[str, Any]
    # Names of outputs Pulumi holds as secrets: never printed or written to disk.
    secret_names: frozenset[str]


def automation_stack(name: str) -> StackLike:
    """The real stack: the project at the repository root (Pulumi.yaml)."""
    if shutil.which("pulumi") is None:
        raise PulumiMissing(
            "the pulumi CLI is not installed; install it (https://www.pulumi.com/docs/install/, "
            "e.g. `curl -fsSL https://get.pulumi.com | sh`), then `pulumi login`"
        )
    from pulumi import automation  # the import is only worth its time with a CLI present

    return automation.create_or_select_stack(stack_name=name, work_dir=str(PROJECT_ROOT))


def preview(name: str, on_output: Output, factory: StackFactory = automation_stack) -> None:
    factory(name).preview(on_output=on_output, color="never", policy_packs=[str(POLICY_PACK)])


def up(name: str, on_output: Output, factory: StackFactory = automation_stack) -> StackOutputs:
    stack = factory(name)
    stack.refresh(on_output=on_output, color="never")
    result = stack.up(on_output=on_output, color="never", policy_packs=[str(POLICY_PACK)])
    return StackOutputs(
        values={key: output.value for key, output in result.outputs.items()},
        secret_names=frozenset(key for key, output in result.outputs.items() if output.secret),
    )


def destroy(name: str, on_output: Output, factory: StackFactory = automation_stack) -> None:
    factory(name).destroy(on_output=on_output, color="never")
