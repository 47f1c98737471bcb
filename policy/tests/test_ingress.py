"""no-world-open-ingress and no-ssh-ingress."""

from __future__ import annotations

import pytest
from pulumi_policy.proxy import UnknownValueError

from policy.rules.ingress import (
    SECURITY_GROUP,
    SECURITY_GROUP_RULE,
    VPC_INGRESS_RULE,
    no_ssh_ingress,
    no_world_open_ingress,
)

from .support import (
    UNKNOWN_LIST,
    UNKNOWN_NUM,
    UNKNOWN_STR,
    assert_one_violation,
    resource_args,
    run,
)

TRITON_SG = {
    "vpcId": "vpc-1",
    "ingress": [
        {"protocol": "tcp", "fromPort": 8000.0, "toPort": 8002.0, "cidrBlocks": ["10.20.0.0/16"]},
        {"protocol": "tcp", "fromPort": 8000.0, "toPort": 8001.0, "securityGroups": ["sg-nlb"]},
    ],
    # Egress to anywhere is fine: the rules only look at ingress.
    "egress": [{"protocol": "-1", "fromPort": 0.0, "toPort": 0.0, "cidrBlocks": ["0.0.0.0/0"]}],
}
REDIS_RULE = {
    "securityGroupId": "sg-redis",
    "ipProtocol": "tcp",
    "fromPort": 6379.0,
    "toPort": 6379.0,
    "referencedSecurityGroupId": "sg-serving",
}
KAFKA_RULE = {
    "type": "ingress",
    "securityGroupId": "sg-kafka",
    "protocol": "tcp",
    "fromPort": 9094.0,
    "toPort": 9094.0,
    "cidrBlocks": ["10.20.1.0/24", "10.20.2.0/24"],
}

BOTH = (no_world_open_ingress, no_ssh_ingress)


@pytest.mark.parametrize("validator", BOTH)
@pytest.mark.parametrize(
    ("resource_type", "props"),
    [
        (SECURITY_GROUP, TRITON_SG),
        (VPC_INGRESS_RULE, REDIS_RULE),
        (VPC_INGRESS_RULE, {**REDIS_RULE, "cidrIpv4": "10.20.0.0/16"}),
        (SECURITY_GROUP_RULE, KAFKA_RULE),
        # Egress rules are not ingress, whatever they allow.
        (
            SECURITY_GROUP_RULE,
            {**KAFKA_RULE, "type": "egress", "protocol": "-1", "cidrBlocks": ["0.0.0.0/0"]},
        ),
        # UDP 22 and ICMP are not SSH.
        (VPC_INGRESS_RULE, {**REDIS_RULE, "ipProtocol": "udp", "fromPort": 22.0, "toPort": 22.0}),
        (VPC_INGRESS_RULE, {**REDIS_RULE, "ipProtocol": "icmp", "fromPort": -1.0, "toPort": -1.0}),
        (SECURITY_GROUP, {"vpcId": "vpc-1"}),
        (SECURITY_GROUP, {"ingress": []}),
    ],
)
def test_least_privilege_ingress_passes(validator, resource_type, props) -> None:
    assert run(validator, resource_type, props, name="triton") == []


@pytest.mark.parametrize(
    ("resource_type", "props", "shown"),
    [
        (
            SECURITY_GROUP,
            {"ingress": [{**TRITON_SG["ingress"][0], "cidrBlocks": ["10.0.0.0/8", "0.0.0.0/0"]}]},
            "ingress[0].cidrBlocks[1] = 0.0.0.0/0",
        ),
        (
            SECURITY_GROUP,
            {
                "ingress": [
                    {**TRITON_SG["ingress"][0], "cidrBlocks": [], "ipv6CidrBlocks": ["::/0"]}
                ]
            },
            "ingress[0].ipv6CidrBlocks[0] = ::/0",
        ),
        (VPC_INGRESS_RULE, {**REDIS_RULE, "cidrIpv4": "0.0.0.0/0"}, "cidrIpv4 = 0.0.0.0/0"),
        (VPC_INGRESS_RULE, {**REDIS_RULE, "cidrIpv6": "::/0"}, "cidrIpv6 = ::/0"),
        (
            SECURITY_GROUP_RULE,
            {**KAFKA_RULE, "cidrBlocks": ["0.0.0.0/0"]},
            "cidrBlocks[0] = 0.0.0.0/0",
        ),
        (
            SECURITY_GROUP_RULE,
            {**KAFKA_RULE, "cidrBlocks": [], "ipv6CidrBlocks": ["::/0"]},
            "ipv6CidrBlocks[0] = ::/0",
        ),
        # Another spelling of a zero-length prefix.
        (VPC_INGRESS_RULE, {**REDIS_RULE, "cidrIpv4": "10.1.2.3/0"}, "cidrIpv4 = 10.1.2.3/0"),
    ],
)
def test_world_open_ingress_is_refused(resource_type, props, shown) -> None:
    messages = run(no_world_open_ingress, resource_type, props, name="redis-sg")
    assert_one_violation(messages, shown, "redis-sg")


def test_every_world_open_entry_is_reported() -> None:
    props = {
        "ingress": [
            {"protocol": "tcp", "fromPort": 443.0, "toPort": 443.0, "cidrBlocks": ["0.0.0.0/0"]},
            {"protocol": "tcp", "fromPort": 80.0, "toPort": 80.0, "ipv6CidrBlocks": ["::/0"]},
        ]
    }
    assert len(run(no_world_open_ingress, SECURITY_GROUP, props)) == 2


@pytest.mark.parametrize(
    ("resource_type", "props", "shown"),
    [
        (
            SECURITY_GROUP,
            {
                "ingress": [
                    {
                        "protocol": "tcp",
                        "fromPort": 22.0,
                        "toPort": 22.0,
                        "cidrBlocks": ["10.0.0.0/8"],
                    }
                ]
            },
            "TCP 22-22",
        ),
        # A range that contains 22, from a security group rather than a CIDR.
        (
            SECURITY_GROUP,
            {
                "ingress": [
                    {"protocol": "6", "fromPort": 0.0, "toPort": 1024.0, "securityGroups": ["sg-x"]}
                ]
            },
            "TCP 0-1024",
        ),
        (
            SECURITY_GROUP,
            {"ingress": [{"protocol": "-1", "fromPort": 0.0, "toPort": 0.0, "self": True}]},
            "protocol -1",
        ),
        (
            VPC_INGRESS_RULE,
            {**REDIS_RULE, "fromPort": 22.0, "toPort": 22.0, "cidrIpv4": "10.0.0.1/32"},
            "TCP 22-22",
        ),
        (VPC_INGRESS_RULE, {"ipProtocol": "-1", "cidrIpv4": "10.0.0.0/16"}, "protocol -1"),
        (SECURITY_GROUP_RULE, {**KAFKA_RULE, "fromPort": 20.0, "toPort": 30.0}, "TCP 20-30"),
        (
            SECURITY_GROUP_RULE,
            {**KAFKA_RULE, "protocol": "all", "fromPort": 0.0, "toPort": 65535.0},
            "protocol -1",
        ),
        # Ports left out count as the whole range.
        (VPC_INGRESS_RULE, {"ipProtocol": "tcp", "cidrIpv4": "10.0.0.0/16"}, "TCP 0-65535"),
    ],
)
def test_ssh_is_refused(resource_type, props, shown) -> None:
    messages = run(no_ssh_ingress, resource_type, props, name="serving-sg")
    assert_one_violation(messages, shown, "serving-sg")
    assert "SSM" in messages[0]


def test_ssh_from_the_world_breaks_both_rules() -> None:
    props = {
        "ingress": [
            {"protocol": "tcp", "fromPort": 22.0, "toPort": 22.0, "cidrBlocks": ["0.0.0.0/0"]}
        ]
    }
    assert len(run(no_world_open_ingress, SECURITY_GROUP, props)) == 1
    assert len(run(no_ssh_ingress, SECURITY_GROUP, props)) == 1


# Unknown values (preview): both rules defer, re-raising pulumi-policy's UnknownValueError
# so the engine records an advisory note and checks again during the update.


@pytest.mark.parametrize(
    ("resource_type", "props"),
    [
        (SECURITY_GROUP, {"ingress": UNKNOWN_LIST}),
        (
            SECURITY_GROUP,
            {
                "ingress": [
                    {
                        "protocol": "tcp",
                        "fromPort": 8000.0,
                        "toPort": 8000.0,
                        "cidrBlocks": [UNKNOWN_STR],
                    }
                ]
            },
        ),
        (
            SECURITY_GROUP,
            {
                "ingress": [
                    {
                        "protocol": "tcp",
                        "fromPort": 8000.0,
                        "toPort": 8000.0,
                        "cidrBlocks": UNKNOWN_LIST,
                    }
                ]
            },
        ),
        (VPC_INGRESS_RULE, {**REDIS_RULE, "cidrIpv4": UNKNOWN_STR}),
        (SECURITY_GROUP_RULE, {**KAFKA_RULE, "type": UNKNOWN_STR}),
    ],
)
def test_unknown_cidr_defers(resource_type, props) -> None:
    with pytest.raises(UnknownValueError):
        run(no_world_open_ingress, resource_type, props)


@pytest.mark.parametrize(
    "rule",
    [
        {"ipProtocol": UNKNOWN_STR, "cidrIpv4": "10.0.0.0/16"},
        {"ipProtocol": "tcp", "fromPort": UNKNOWN_NUM, "toPort": 8000.0, "cidrIpv4": "10.0.0.0/16"},
        {"ipProtocol": "tcp", "fromPort": 8000.0, "toPort": UNKNOWN_NUM, "cidrIpv4": "10.0.0.0/16"},
    ],
)
def test_unknown_protocol_or_port_defers(rule) -> None:
    with pytest.raises(UnknownValueError):
        run(no_ssh_ingress, VPC_INGRESS_RULE, rule)


def test_known_violations_are_reported_before_deferring() -> None:
    props = {
        "ingress": [
            {"protocol": "tcp", "fromPort": 443.0, "toPort": 443.0, "cidrBlocks": ["0.0.0.0/0"]},
            {"protocol": "tcp", "fromPort": 8000.0, "toPort": 8000.0, "cidrBlocks": [UNKNOWN_STR]},
        ]
    }
    messages: list[str] = []
    with pytest.raises(UnknownValueError):
        no_world_open_ingress(
            resource_args(SECURITY_GROUP, props, "web"), lambda m, u=None: messages.append(m)
        )
    assert len(messages) == 1
    assert "0.0.0.0/0" in messages[0]


def test_other_types_are_ignored() -> None:
    props = {"cidrBlocks": ["0.0.0.0/0"], "fromPort": 22.0, "toPort": 22.0, "protocol": "tcp"}
    for validator in BOTH:
        assert run(validator, "aws:ec2/networkAclRule:NetworkAclRule", props) == []
