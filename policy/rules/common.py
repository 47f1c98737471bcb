"""What several rule families share: reading props without tripping over unknown values,
and the wording of violation messages.

``get`` and ``elements`` never let pulumi-policy's ``UnknownValueError`` escape: a value
the engine does not know yet comes back as an ``Unknown``, and each rule decides what it
means (see the package docstring). ``Deferred`` collects them for the rules that defer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import ReportViolation
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

_UNKNOWN_SENTINELS = frozenset(
    {
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_OBJECT_VALUE,
        UNKNOWN_STRING_VALUE,
    }
)


class Unknown:
    """A value the engine does not know yet (preview), with the error that tells
    pulumi-policy to skip the rule for now (see the package docstring)."""

    __slots__ = ("error",)

    def __init__(self, error: UnknownValueError) -> None:
        self.error = error

    def __repr__(self) -> str:
        return f"<unknown: {self.error.message}>"


def _is_sentinel(value: Any) -> bool:
    return isinstance(value, str) and value in _UNKNOWN_SENTINELS


def get(obj: Any, *path: str) -> Any:
    """The value at ``path`` below ``obj``: ``None`` when absent, an ``Unknown`` when not
    known yet. Works on pulumi-policy's unknown-checking proxies and on plain dicts."""
    current = obj
    walked: list[str] = []
    for key in path:
        if isinstance(current, Unknown):
            return current
        if _is_sentinel(current):
            return Unknown(UnknownValueError(current, walked))
        if not isinstance(current, Mapping):
            return None
        walked.append(key)
        try:
            current = current.get(key)
        except UnknownValueError as err:
            return Unknown(err)
        if current is None:
            return None
    if _is_sentinel(current):
        return Unknown(UnknownValueError(current, walked))
    return current


def elements(value: Any) -> list[Any]:
    """The elements of a list value, each a plain value or an ``Unknown``. An unknown list
    yields one ``Unknown``; an absent value or a non-list yields nothing."""
    if isinstance(value, Unknown):
        return [value]
    if _is_sentinel(value):
        return [Unknown(UnknownValueError(value, []))]
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        return []
    result: list[Any] = []
    for index in range(len(value)):
        try:
            item = value[index]
        except UnknownValueError as err:
            item = Unknown(err)
        if _is_sentinel(item):
            item = Unknown(UnknownValueError(item, [str(index)]))
        result.append(item)
    return result


def is_true(value: Any) -> bool:
    """A boolean setting that is on: ``True`` or the string ``"true"`` (some pulumi-aws
    inputs, such as launch templates' ``ebs.encrypted``, are strings)."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


class Deferred:
    """Collects unknown values of a "defer" rule; ``raise_first`` re-raises one after the
    rule has reported everything it could prove."""

    def __init__(self) -> None:
        self._errors: list[UnknownValueError] = []

    def add(self, value: Unknown) -> None:
        self._errors.append(value.error)

    def raise_first(self) -> None:
        if self._errors:
            raise self._errors[0]


def python_name(resource_type: str) -> str:
    """``aws:ec2/securityGroup:SecurityGroup`` -> ``aws.ec2.SecurityGroup``, the class the
    stack program writes."""
    parts = resource_type.split(":")
    if len(parts) == 3 and parts[0] == "aws":
        return f"aws.{parts[1].split('/')[0]}.{parts[2]}"
    return resource_type


def display_name(resource_type: str, name: str) -> str:
    return f"{python_name(resource_type)} '{name}'"


def describe_value(value: Any) -> str:
    return "not set" if value is None else f"{value!r}"


def require_true(
    report_violation: ReportViolation, where: str, label: str, value: Any, fix: str
) -> None:
    """Fail-closed check of a boolean setting: unknown and absent both violate."""
    if isinstance(value, Unknown):
        report_violation(
            f"{where}: {label} is not known before the update, so it cannot be proven true. "
            f"Fix: {fix} as a literal value.",
            None,
        )
    elif not is_true(value):
        report_violation(
            f"{where}: {label} is {describe_value(value)}, must be true. Fix: {fix}.", None
        )
