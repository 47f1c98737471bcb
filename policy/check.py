"""Run every rule of the pack over plain resources, without the Pulumi CLI.

For the stack's mock tests: record what the mocks see, then assert
``violations(recorded) == []``. The same validator functions as the pack run on real
``pulumi_policy`` argument objects, with the props wrapped in pulumi-policy's
unknown-checking proxy as the engine does.

Example, inside a ``pulumi.runtime.Mocks`` subclass::

    def new_resource(self, args):
        resource_id = f"{args.name}-id"
        self.recorded.append((args.typ, args.name, {**args.inputs, "id": resource_id}))
        return resource_id, args.inputs

    ...
    assert check.violations(mocks.recorded) == []

Props are the engine's camelCase inputs (``MockResourceArgs.inputs`` already are). Add
the id the mock returns as ``"id"`` to each bucket's props: the stack rule matches a
public access block's or encryption configuration's ``bucket`` against the bucket's
``bucket``/``id`` value, and plain triples carry no dependency information. Resources
are validated without a provider, so an AWS provider's ``default_tags`` do not count
here: required tags must be on the resources.

A rule that cannot decide because a value is unknown (the engine would skip it with an
advisory note during preview) is reported as a message too: a check that did not run
proves nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

try:
    from . import rules
except ImportError:  # policy/ itself is on sys.path
    import rules  # type: ignore[no-redef]

Resource = tuple[str, str, Mapping[str, Any]]


def urn(resource_type: str, name: str) -> str:
    return f"urn:pulumi:check::recstack::{resource_type}::{name}"


def options() -> PolicyResourceOptions:
    """Resource options as the engine would send them for a plain resource."""
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=None,
    )


def _collector(found: list[str], rule: str) -> ReportViolation:
    """A ``report_violation`` that appends ``[rule] message`` to ``found``."""

    def report(message: str, _urn: str | None = None) -> None:
        found.append(f"[{rule}] {message}")

    return report


def violations(resources: Sequence[Resource]) -> list[str]:
    """Violation messages of every rule over ``resources``, ``(type, name, props)``
    triples; empty when all pass. Each message starts with ``[rule-name]``."""
    found: list[str] = []
    prepared = [(t, n, unknown_checking_proxy(dict(p)), urn(t, n)) for t, n, p in resources]

    for spec in rules.RULES:
        if spec.kind != "resource":
            continue
        report = _collector(found, spec.name)
        for resource_type, name, props, resource_urn in prepared:
            args = ResourceValidationArgs(resource_type, props, resource_urn, name, options(), None)
            try:
                spec.validator(args, report)
            except UnknownValueError as err:
                found.append(f"[{spec.name}] {name}: not checked, {err.message}")

    stack_resources = [
        PolicyResource(resource_type, props, resource_urn, name, options(), None, None, [], {})
        for resource_type, name, props, resource_urn in prepared
    ]
    for spec in rules.RULES:
        if spec.kind != "stack":
            continue
        try:
            spec.validator(StackValidationArgs(stack_resources), _collector(found, spec.name))
        except UnknownValueError as err:
            found.append(f"[{spec.name}] not checked: {err.message}")
    return found
