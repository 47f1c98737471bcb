"""No rule crashes on missing or unknown props: every resource rule, on every resource
type the rules know, with each part of a full example removed or made unknown in turn,
either returns (reporting or not) or raises pulumi-policy's UnknownValueError (the
engine's "checked again after the update")."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from policy import rules
from policy.rules.compute import EBS_VOLUME, INSTANCE, LAUNCH_TEMPLATE
from policy.rules.data_tiers import MSK_CLUSTER, REPLICATION_GROUP
from policy.rules.ingress import SECURITY_GROUP, SECURITY_GROUP_RULE, VPC_INGRESS_RULE
from policy.rules.s3 import PUBLIC_ACCESS_BLOCK, SSE_CONFIG_TYPES, s3_buckets_protected
from policy.rules.tags import AUTOSCALING_GROUP

from .support import (
    BLOCK_ALL,
    TAGS,
    UNKNOWN_LIST,
    UNKNOWN_OBJ,
    UNKNOWN_STR,
    run,
    run_stack,
    stack_resource,
)

EXAMPLES: dict[str, dict[str, Any]] = {
    SECURITY_GROUP: {
        "ingress": [
            {
                "protocol": "tcp",
                "fromPort": 8000.0,
                "toPort": 8002.0,
                "cidrBlocks": ["10.0.0.0/16"],
                "ipv6CidrBlocks": ["fd00::/8"],
                "securityGroups": ["sg-1"],
            }
        ],
        "tags": TAGS,
    },
    SECURITY_GROUP_RULE: {
        "type": "ingress",
        "protocol": "tcp",
        "fromPort": 9094.0,
        "toPort": 9094.0,
        "cidrBlocks": ["10.0.0.0/16"],
        "ipv6CidrBlocks": ["fd00::/8"],
    },
    VPC_INGRESS_RULE: {
        "ipProtocol": "tcp",
        "fromPort": 6379.0,
        "toPort": 6379.0,
        "cidrIpv4": "10.0.0.0/16",
        "cidrIpv6": "fd00::/8",
        "tags": TAGS,
    },
    LAUNCH_TEMPLATE: {
        "metadataOptions": {"httpTokens": "required"},
        "blockDeviceMappings": [{"deviceName": "/dev/sda1", "ebs": {"encrypted": "true"}}],
        "tags": TAGS,
    },
    INSTANCE: {
        "metadataOptions": {"httpTokens": "required"},
        "rootBlockDevice": {"encrypted": True},
        "ebsBlockDevices": [{"deviceName": "/dev/sdf", "encrypted": True}],
        "tags": TAGS,
    },
    EBS_VOLUME: {"encrypted": True, "tags": TAGS},
    PUBLIC_ACCESS_BLOCK: {"bucket": "b", **BLOCK_ALL},
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": {
        "bucket": "b",
        "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}],
    },
    REPLICATION_GROUP: {
        "transitEncryptionEnabled": True,
        "atRestEncryptionEnabled": True,
        "tags": TAGS,
    },
    MSK_CLUSTER: {
        "encryptionInfo": {
            "encryptionAtRestKmsKeyArn": "arn:k",
            "encryptionInTransit": {"clientBroker": "TLS", "inCluster": True},
        },
        "tags": TAGS,
    },
    AUTOSCALING_GROUP: {
        "tags": [{"key": k, "value": v, "propagateAtLaunch": True} for k, v in TAGS.items()]
    },
}

RESOURCE_RULES = [spec for spec in rules.RULES if spec.kind == "resource"]


def _paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from _paths(item, (*prefix, index))


def _variants(example: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The example with each part in turn removed, set to None, made unknown, or given a
    value of the wrong shape."""
    yield {}
    for path in _paths(example):
        for replacement in ("<delete>", None, UNKNOWN_STR, UNKNOWN_OBJ, UNKNOWN_LIST, 7.0, "x"):
            variant = copy.deepcopy(example)
            parent = variant
            for key in path[:-1]:
                parent = parent[key]
            if replacement == "<delete>":
                del parent[path[-1]]
            else:
                parent[path[-1]] = replacement
            yield variant


@pytest.mark.parametrize("spec", RESOURCE_RULES, ids=lambda spec: spec.name)
@pytest.mark.parametrize("resource_type", sorted(EXAMPLES))
def test_rule_survives_missing_and_unknown_props(spec, resource_type) -> None:
    assert run(spec.validator, resource_type, EXAMPLES[resource_type]) == []
    for variant in _variants(EXAMPLES[resource_type]):
        try:
            messages = run(spec.validator, resource_type, variant, name="x")
        except UnknownValueError:
            continue
        assert all(isinstance(m, str) and "'x'" in m and "Fix:" in m for m in messages), messages


@pytest.mark.parametrize(
    "bucket_props", [{}, {"bucket": UNKNOWN_STR}, {"id": 7.0}, {"bucket": "b", "id": "b"}]
)
@pytest.mark.parametrize(
    "attachment_props",
    [{}, {"bucket": UNKNOWN_STR}, {"bucket": None}, {"bucket": 3.0}, {"bucket": ["b"]}],
)
def test_stack_rule_survives_missing_and_unknown_props(bucket_props, attachment_props) -> None:
    resources = [
        stack_resource("aws:s3/bucket:Bucket", "b", bucket_props),
        stack_resource(PUBLIC_ACCESS_BLOCK, "b", attachment_props),
        stack_resource(next(iter(SSE_CONFIG_TYPES)), "b", attachment_props),
    ]
    try:
        reported = run_stack(s3_buckets_protected, resources)
    except UnknownValueError:
        return
    assert all("'b'" in message and "Fix:" in message for message, _ in reported)
