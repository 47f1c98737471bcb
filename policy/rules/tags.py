"""Tag rule: every taggable AWS resource carries the cost and ownership tags
(``required-tags``). Taggable is read from pulumi-aws itself. Unknown tag values defer."""

from __future__ import annotations

import importlib
import inspect
import json
import keyword
from collections.abc import Mapping
from functools import cache
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs

from .common import Deferred, Unknown, display_name, elements, get

# Resource type tokens (pulumi-aws v7).
AUTOSCALING_GROUP = "aws:autoscaling/group:Group"
AWS_PROVIDER = "pulumi:providers:aws"

REQUIRED_TAGS = ("project", "stack", "owner", "cost-center")


def _aws_resource_class(resource_type: str) -> type | None:
    """The pulumi-aws class for an ``aws:`` resource token, or None. The token's module
    (``ec2`` in ``aws:ec2/vpc:Vpc``) is the Python submodule, with a trailing underscore
    when it is a Python keyword (``aws:lambda/...`` lives in ``pulumi_aws.lambda_``)."""
    parts = resource_type.split(":")
    if len(parts) != 3 or parts[0] != "aws" or not parts[1] or not parts[2]:
        return None
    module_name = parts[1].split("/")[0]
    if keyword.iskeyword(module_name):
        module_name += "_"
    try:
        module = importlib.import_module(f"pulumi_aws.{module_name}")
    except ImportError:
        return None
    cls = getattr(module, parts[2], None)
    if not isinstance(cls, type):
        return None
    # pulumi-aws classes carry their token (pulumi.type_token); refuse a mismatch.
    token = getattr(cls, "pulumi_type", None)
    if token is not None and token != resource_type:
        return None
    return cls


@cache
def tag_support(resource_type: str) -> bool | None:
    """Whether pulumi-aws's class for ``resource_type`` accepts a ``tags`` argument: True or
    False, or None when the type is not an ``aws:`` resource that pulumi-aws knows.
    Cached per type."""
    cls = _aws_resource_class(resource_type)
    if cls is None:
        return None
    init = getattr(cls, "_internal_init", None)
    if init is not None and "tags" in inspect.signature(init).parameters:
        return True
    args_cls = getattr(importlib.import_module(cls.__module__), f"{cls.__name__}Args", None)
    return isinstance(args_cls, type) and "tags" in inspect.signature(args_cls).parameters


def _provider_default_tags(args: ResourceValidationArgs) -> dict[str, Any]:
    """The AWS provider's ``defaultTags.tags``; they land on every map-tagged resource.
    Provider inputs carry nested objects as JSON strings."""
    provider = args.provider
    if provider is None or provider.resource_type != AWS_PROVIDER:
        return {}
    default_tags = get(provider.props, "defaultTags")
    if isinstance(default_tags, str):
        try:
            default_tags = json.loads(default_tags)
        except ValueError:
            return {}
    tags = get(default_tags, "tags")
    if not isinstance(tags, Mapping):
        return {}
    return {key: get(tags, key) for key in tags}


def required_tags(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Every taggable AWS resource carries non-empty ``project``, ``stack``, ``owner`` and
    ``cost-center`` tags. Taggable means pulumi-aws's class for the type accepts ``tags``;
    non-``aws:`` types (components, random, providers) are exempt. ``tags_all`` is an output
    and does not count; the AWS provider's default tags do (not for auto scaling groups,
    whose ``tags`` is a list of key/value blocks). Unknown tag values defer."""
    if not tag_support(args.resource_type):
        return
    raw = get(args.props, "tags")
    if isinstance(raw, Unknown):
        raise raw.error  # the whole tag set is unknown: nothing can be proven missing yet
    where = display_name(args.resource_type, args.name)
    deferred = Deferred()
    tags: dict[str, Any] = {}
    if args.resource_type != AUTOSCALING_GROUP:
        tags.update(_provider_default_tags(args))
    if isinstance(raw, Mapping):
        tags.update({key: get(raw, key) for key in raw})
    else:  # auto scaling groups: [{key, value, propagateAtLaunch}]
        for block in elements(raw):
            key = get(block, "key")  # an unknown block yields itself
            if isinstance(key, Unknown):
                deferred.add(key)
            elif isinstance(key, str):
                tags[key] = get(block, "value")
    missing = []
    for key in REQUIRED_TAGS:
        value = tags.get(key)
        if isinstance(value, Unknown):
            deferred.add(value)
        elif not isinstance(value, str) or not value.strip():
            missing.append(key)
    if missing:
        report_violation(
            f"{where}: missing or empty tags: {', '.join(missing)}. Fix: pass tags with "
            "non-empty 'project', 'stack', 'owner' and 'cost-center' (for example the "
            "stack's common tags dict); tags_all is computed and does not count.",
            None,
        )
    deferred.raise_first()
