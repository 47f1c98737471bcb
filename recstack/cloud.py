"""Cloud stacks through Pulumi's Automation API: preview, up (refresh first, so drift
is seen before changes are planned), destroy. The policy pack in policy/ is enforced on
every preview and up.

The Automation API drives the `pulumi` CLI; it runs the program in stacks/ with the
Pulumi environment (.venv-pulumi) named in Pulumi.yaml.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
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


def automation_stack(name: str) -> StackLike:
    """The real stack: the project at the repository root (Pulumi.yaml)."""
    if shutil.which("pulumi") is None:
        raise PulumiMissing(
            "the pulumi CLI is not installed; install it (https://www.pulumi.com/docs/install/, "
            "e.g. `curl -fsSL https://get.pulumi.com | sh`), then `pulumi login`"
        )
    from pulumi import automation  # the import is only worth its time with a CLI present

    return automation.create_or_select_stack(stack_name=name, work_dir=str(PROJECT_ROOT))


def _stack(name: str, factory: StackFactory | None) -> StackLike:
    # Looked up at call time, so tests can stand in for the Automation API.
    return (factory or automation_stack)(name)


def preview(name: str, on_output: Output, factory: StackFactory | None = None) -> None:
    _stack(name, factory).preview(
        on_output=on_output, color="never", policy_packs=[str(POLICY_PACK)]
    )


def up(name: str, on_output: Output, factory: StackFactory | None = None) -> dict[str, Any]:
    """Refresh, then update; returns the stack outputs (secrets included: callers keep
    them out of logs and files)."""
    stack = _stack(name, factory)
    stack.refresh(on_output=on_output, color="never")
    result = stack.up(on_output=on_output, color="never", policy_packs=[str(POLICY_PACK)])
    return {key: output.value for key, output in result.outputs.items()}


def destroy(name: str, on_output: Output, factory: StackFactory | None = None) -> None:
    _stack(name, factory).destroy(on_output=on_output, color="never")
