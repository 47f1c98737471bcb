"""required-tags, with taggability derived from pulumi-aws."""

from __future__ import annotations

import json

import pytest
from pulumi_policy import PolicyProviderResource
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from policy.rules.tags import required_tags, tag_support

from .support import (
    TAGS,
    UNKNOWN_OBJ,
    UNKNOWN_STR,
    assert_names_resource_and_fix,
    assert_one_violation,
    changed,
    resource_args,
    run,
)

VPC = "aws:ec2/vpc:Vpc"
ROUTE_TABLE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
ASG = "aws:autoscaling/group:Group"


@pytest.mark.parametrize(
    ("resource_type", "taggable"),
    [
        (VPC, True),
        ("aws:ec2/launchTemplate:LaunchTemplate", True),
        ("aws:s3/bucket:Bucket", True),
        ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", True),
        ("aws:autoscaling/group:Group", True),
        ("aws:lambda/function:Function", True),  # lives in pulumi_aws.lambda_
        (ROUTE_TABLE_ASSOCIATION, False),
        ("aws:ec2/securityGroupRule:SecurityGroupRule", False),
        ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", False),
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", False),
        # Not aws: resources pulumi-aws knows.
        ("recstack:index:ServingFleet", None),
        ("random:index/randomPassword:RandomPassword", None),
        ("pulumi:providers:aws", None),
        ("aws:nosuchmodule/thing:Thing", None),
        ("aws:ec2/noSuchThing:NoSuchThing", None),
        ("aws:ec2/vpc:Subnet", None),  # class exists, but its token is not this one
    ],
)
def test_tag_support_comes_from_pulumi_aws(resource_type, taggable) -> None:
    assert tag_support(resource_type) is taggable


def test_tag_support_is_cached() -> None:
    tag_support(VPC)
    hits = tag_support.cache_info().hits
    tag_support(VPC)
    assert tag_support.cache_info().hits == hits + 1


@pytest.mark.parametrize(
    ("resource_type", "props"),
    [
        (VPC, {"cidrBlock": "10.20.0.0/16", "tags": {**TAGS, "Name": "recstack-staging"}}),
        (
            ASG,
            {
                "maxSize": 3.0,
                "tags": [
                    {"key": k, "value": v, "propagateAtLaunch": True} for k, v in TAGS.items()
                ],
            },
        ),
        # Non-taggable and non-AWS types are exempt.
        (ROUTE_TABLE_ASSOCIATION, {"routeTableId": "rtb-1", "subnetId": "subnet-1"}),
        ("aws:ec2/securityGroupRule:SecurityGroupRule", {"type": "ingress"}),
        ("recstack:index:ServingFleet", {}),
        ("random:index/randomPassword:RandomPassword", {"length": 32.0}),
        ("pulumi:providers:aws", {"region": "eu-west-1"}),
    ],
)
def test_tagged_or_exempt_resources_pass(resource_type, props) -> None:
    assert run(required_tags, resource_type, props) == []


@pytest.mark.parametrize(
    ("tags", "missing"),
    [
        (None, "project, stack, owner, cost-center"),
        ({}, "project, stack, owner, cost-center"),
        ({k: v for k, v in TAGS.items() if k != "owner"}, "owner"),
        ({**TAGS, "cost-center": ""}, "cost-center"),
        ({**TAGS, "project": "   "}, "project"),
        ({**TAGS, "stack": None}, "stack"),
        # tagsAll is an output: it does not count.
        ({"Name": "x"}, "project, stack, owner, cost-center"),
    ],
)
def test_missing_tags_are_refused(tags, missing) -> None:
    props = changed({"cidrBlock": "10.20.0.0/16", "tagsAll": TAGS}, {"tags": tags})
    messages = run(required_tags, VPC, props, name="vpc")
    assert_one_violation(messages, f"missing or empty tags: {missing}.", "vpc")


def test_taggable_ingress_rule_needs_tags() -> None:
    messages = run(
        required_tags,
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        {"ipProtocol": "tcp"},
        name="redis-from-serving",
    )
    assert_names_resource_and_fix(messages, "redis-from-serving")


def test_autoscaling_group_list_tags_are_read() -> None:
    tags = [{"key": "project", "value": "recstack", "propagateAtLaunch": True}]
    messages = run(required_tags, ASG, {"tags": tags}, name="serving")
    assert "missing or empty tags: stack, owner, cost-center." in messages[0]


def _aws_provider(default_tags) -> PolicyProviderResource:
    props = unknown_checking_proxy({"region": "eu-west-1", "defaultTags": default_tags})
    return PolicyProviderResource("pulumi:providers:aws", props, "urn:provider", "aws-staging")


@pytest.mark.parametrize("encode", [json.dumps, lambda value: value])
def test_provider_default_tags_count(encode) -> None:
    provider = _aws_provider(encode({"tags": TAGS}))
    assert run(required_tags, VPC, {"tags": {"Name": "x"}}, provider=provider) == []
    # A resource's own empty value overrides the provider's.
    messages = run(required_tags, VPC, {"tags": {"owner": ""}}, provider=provider)
    assert "missing or empty tags: owner." in messages[0]


def test_provider_default_tags_do_not_reach_autoscaling_groups() -> None:
    provider = _aws_provider(json.dumps({"tags": TAGS}))
    messages = run(required_tags, ASG, {"maxSize": 1.0}, name="serving", provider=provider)
    assert_one_violation(
        messages, "missing or empty tags: project, stack, owner, cost-center.", "serving"
    )


@pytest.mark.parametrize("tags", [UNKNOWN_OBJ, {**TAGS, "owner": UNKNOWN_STR}])
def test_unknown_tags_defer(tags) -> None:
    with pytest.raises(UnknownValueError):
        run(required_tags, VPC, {"tags": tags})


def test_unknown_tag_value_still_reports_missing_ones() -> None:
    messages: list[str] = []
    with pytest.raises(UnknownValueError):
        required_tags(
            resource_args(VPC, {"tags": {"project": "p", "owner": UNKNOWN_STR}}, "vpc"),
            lambda message, urn=None: messages.append(message),
        )
    assert "missing or empty tags: stack, cost-center." in messages[0]
