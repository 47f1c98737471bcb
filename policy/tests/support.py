"""Real pulumi_policy argument objects, built the way the analyzer builds them: props
deep-copied and wrapped in pulumi-policy's unknown-checking proxy."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import (
    PolicyProviderResource,
    PolicyResource,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    unknown_checking_proxy,
)

from policy.check import options, urn

# What the engine sends for values it does not know yet (preview).
UNKNOWN_STR = UNKNOWN_STRING_VALUE
UNKNOWN_BOOL = UNKNOWN_BOOLEAN_VALUE
UNKNOWN_NUM = UNKNOWN_NUMBER_VALUE
UNKNOWN_LIST = UNKNOWN_ARRAY_VALUE
UNKNOWN_OBJ = UNKNOWN_OBJECT_VALUE

TAGS = {"project": "recstack", "stack": "staging", "owner": "platform", "cost-center": "ml-42"}
PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
BLOCK_ALL = dict.fromkeys(PUBLIC_ACCESS_FLAGS, True)


def changed(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``changes`` applied, leaving out every key whose value is
    None: the prop is absent, as when a program does not set it."""
    merged = {**base, **changes}
    return {key: value for key, value in merged.items() if value is not None}


def resource_args(
    resource_type: str,
    props: Mapping[str, Any],
    name: str = "res",
    provider: PolicyProviderResource | None = None,
) -> ResourceValidationArgs:
    proxied = unknown_checking_proxy(copy.deepcopy(dict(props)))
    return ResourceValidationArgs(
        resource_type, proxied, urn(resource_type, name), name, options(), provider
    )


def run(
    validator: Callable[..., None],
    resource_type: str,
    props: Mapping[str, Any],
    name: str = "res",
    provider: PolicyProviderResource | None = None,
) -> list[str]:
    """The messages ``validator`` reports for one resource."""
    messages: list[str] = []

    def report(message: str, _urn: str | None = None) -> None:
        messages.append(message)

    validator(resource_args(resource_type, props, name, provider), report)
    return messages


def stack_resource(
    resource_type: str,
    name: str,
    props: Mapping[str, Any],
    property_dependencies: dict[str, list[PolicyResource]] | None = None,
) -> PolicyResource:
    proxied = unknown_checking_proxy(copy.deepcopy(dict(props)))
    return PolicyResource(
        resource_type,
        proxied,
        urn(resource_type, name),
        name,
        options(),
        None,
        None,
        [dep for deps in (property_dependencies or {}).values() for dep in deps],
        property_dependencies or {},
    )


def run_stack(
    validator: Callable[..., None], resources: list[PolicyResource]
) -> list[tuple[str, str | None]]:
    """``(message, urn)`` pairs ``validator`` reports for the stack."""
    reported: list[tuple[str, str | None]] = []

    def report(message: str, resource_urn: str | None = None) -> None:
        reported.append((message, resource_urn))

    validator(StackValidationArgs(resources), report)
    return reported


def assert_names_resource_and_fix(messages: list[str], name: str) -> None:
    assert messages, "expected a violation"
    for message in messages:
        assert f"'{name}'" in message, message
        assert "Fix:" in message, message


def assert_one_violation(messages: list[str], shown: str, name: str) -> None:
    """Exactly one message, which says ``shown`` and names the resource and the fix."""
    assert len(messages) == 1, messages
    assert shown in messages[0], messages[0]
    assert_names_resource_and_fix(messages, name)
