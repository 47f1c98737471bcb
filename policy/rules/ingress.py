"""Ingress rules: no world-open CIDR (``no-world-open-ingress``) and no SSH
(``no-ssh-ingress``), over security groups' inline ingress, security group rules and VPC
ingress rules. Both defer on unknown values: CIDRs and ports often come from other
resources' outputs."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs

from .common import Deferred, Unknown, display_name, elements, get

# Resource type tokens (pulumi-aws v7).
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
VPC_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"

INGRESS_TYPES = frozenset({SECURITY_GROUP, SECURITY_GROUP_RULE, VPC_INGRESS_RULE})
SSH_PORT = 22


@dataclass(frozen=True)
class _Ingress:
    """One ingress permission, whatever resource declared it."""

    label: str
    protocol: Any
    from_port: Any
    to_port: Any
    cidrs: tuple[tuple[str, Any], ...]


def _cidr_list(props: Any, key: str, prefix: str) -> list[tuple[str, Any]]:
    return [(f"{prefix}{key}[{i}]", c) for i, c in enumerate(elements(get(props, key)))]


def _ingress_entries(resource_type: str, props: Any, deferred: Deferred) -> Iterator[_Ingress]:
    """The ingress permissions of one resource; an entry (or a rule type) that is not known
    yet goes to ``deferred`` instead."""
    if resource_type == SECURITY_GROUP:
        for i, rule in enumerate(elements(get(props, "ingress"))):
            if isinstance(rule, Unknown):
                deferred.add(rule)
                continue
            prefix = f"ingress[{i}]."
            yield _Ingress(
                label=f"ingress[{i}]",
                protocol=get(rule, "protocol"),
                from_port=get(rule, "fromPort"),
                to_port=get(rule, "toPort"),
                cidrs=tuple(
                    _cidr_list(rule, "cidrBlocks", prefix)
                    + _cidr_list(rule, "ipv6CidrBlocks", prefix)
                ),
            )
    elif resource_type == SECURITY_GROUP_RULE:
        rule_type = get(props, "type")
        if isinstance(rule_type, Unknown):
            deferred.add(rule_type)
            return
        if not isinstance(rule_type, str) or rule_type.strip().lower() != "ingress":
            return
        yield _Ingress(
            label="the rule",
            protocol=get(props, "protocol"),
            from_port=get(props, "fromPort"),
            to_port=get(props, "toPort"),
            cidrs=tuple(
                _cidr_list(props, "cidrBlocks", "") + _cidr_list(props, "ipv6CidrBlocks", "")
            ),
        )
    elif resource_type == VPC_INGRESS_RULE:
        cidrs = [
            (key, value)
            for key in ("cidrIpv4", "cidrIpv6")
            if (value := get(props, key)) is not None
        ]
        yield _Ingress(
            label="the rule",
            protocol=get(props, "ipProtocol"),
            from_port=get(props, "fromPort"),
            to_port=get(props, "toPort"),
            cidrs=tuple(cidrs),
        )


def _is_world(cidr: Any) -> bool:
    """0.0.0.0/0, ::/0 and any other spelling of a zero-length prefix."""
    if not isinstance(cidr, str):
        return False
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False).prefixlen == 0
    except ValueError:
        return False  # not a CIDR at all: the provider rejects it


def no_world_open_ingress(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Security groups, security group rules and VPC ingress rules never admit 0.0.0.0/0
    or ::/0. Unknown CIDRs defer (they are often another resource's output, such as the
    VPC's CIDR block)."""
    if args.resource_type not in INGRESS_TYPES:
        return
    where = display_name(args.resource_type, args.name)
    deferred = Deferred()
    for entry in _ingress_entries(args.resource_type, args.props, deferred):
        for label, cidr in entry.cidrs:
            if isinstance(cidr, Unknown):
                deferred.add(cidr)
            elif _is_world(cidr):
                report_violation(
                    f"{where}: {label} = {cidr} admits the whole internet. Fix: allow only the "
                    "declared client CIDRs, the VPC CIDR or a source security group (the NLB, "
                    "serving or pipeline hosts); never 0.0.0.0/0 or ::/0.",
                    None,
                )
    deferred.raise_first()


def _protocol(value: Any) -> str | Unknown:
    """``"all"``, ``"tcp"`` or ``"other"``. An absent protocol counts as all traffic (the
    conservative reading; AWS requires one anyway)."""
    if isinstance(value, Unknown):
        return value
    if value is None:
        return "all"
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(int(value))
    text = str(value).strip().lower()
    if text in ("-1", "all"):
        return "all"
    if text in ("tcp", "6"):
        return "tcp"
    return "other"


def _port(value: Any, default: int) -> int | Unknown:
    if isinstance(value, Unknown):
        return value
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default  # absent or unreadable: assume the widest range


def no_ssh_ingress(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """No ingress permission reaches TCP port 22, from any source (CIDR, prefix list or
    security group): port 22 inside fromPort..toPort, or protocol -1 (all traffic). Hosts
    are reached through SSM Session Manager only. Unknown protocols and ports defer;
    absent ports count as the full range."""
    if args.resource_type not in INGRESS_TYPES:
        return
    where = display_name(args.resource_type, args.name)
    deferred = Deferred()
    for entry in _ingress_entries(args.resource_type, args.props, deferred):
        protocol = _protocol(entry.protocol)
        if isinstance(protocol, Unknown):
            deferred.add(protocol)
            continue
        if protocol == "all":
            report_violation(
                f"{where}: {entry.label} allows all protocols and ports (protocol -1), which "
                "includes SSH on port 22. Fix: allow only the TCP ports the tier serves; hosts "
                "are reached through SSM Session Manager, never SSH.",
                None,
            )
        elif protocol == "tcp":
            low, high = _port(entry.from_port, 0), _port(entry.to_port, 65535)
            if isinstance(low, Unknown):
                deferred.add(low)
                continue
            if isinstance(high, Unknown):
                deferred.add(high)
                continue
            if low <= SSH_PORT <= high:
                report_violation(
                    f"{where}: {entry.label} allows TCP {low}-{high}, which includes SSH "
                    "(port 22). Fix: narrow the port range to the ports the tier serves; hosts "
                    "are reached through SSM Session Manager, never SSH.",
                    None,
                )
    deferred.raise_first()
