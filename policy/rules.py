"""Security rules for the recstack AWS stacks, as pulumi-policy validator functions.

Every rule is one plain function, ``(args, report_violation) -> None``, taking
``pulumi_policy.ResourceValidationArgs`` (resource rules) or
``pulumi_policy.StackValidationArgs`` (stack rules), and is listed in ``RULES`` with its
name, description, kind and enforcement level. This module never constructs a
``PolicyPack`` (that starts the analyzer's gRPC server and blocks forever); only
``policy/__main__.py`` does, from ``RULES``. ``policy/check.py`` runs the same functions
over plain ``(type, name, props)`` triples for the stack's mock tests.

Properties arrive as the engine sends them: camelCase input names, nested dicts and
lists, numbers as floats. During ``pulumi preview`` a value computed from another
resource's output is *unknown*: pulumi-policy wraps the props so that reading such a
value raises ``UnknownValueError``. The helpers below never let that escape by accident;
each rule decides explicitly what an unknown value means:

* fail closed: the rule reports a violation ("cannot be proven"). Used for settings a
  compliant program always writes as literals or from stack config (IMDS tokens, the
  encryption flags, the SSE algorithm, the MSK in-transit settings), so an unknown there
  never comes from a correct stack.
* defer: the rule reports what it can prove and then re-raises the ``UnknownValueError``.
  pulumi-policy turns that into an advisory "can't run policy during preview" note, and
  the rule runs again during ``pulumi up``, when every input is known, where it is
  enforced as usual. Used where values legitimately come from other resources' outputs
  (ingress CIDRs and ports, tag values, the ``bucket`` references of the stack rule).
* accept: an unknown value is as good as a set one. Used only for "is it set" checks of a
  reference (the MSK at-rest KMS key ARN): an unknown ARN is a key that will exist.

Absent (or ``None``) values take the AWS default, which is the insecure one for every
setting checked here, so absence is a violation unless stated otherwise per rule.
"""

from __future__ import annotations

import importlib
import inspect
import ipaddress
import json
import keyword
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)
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

# Resource type tokens (pulumi-aws v7).
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
VPC_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
EBS_VOLUME = "aws:ebs/volume:Volume"
BUCKET_TYPES = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE_CONFIG_TYPES = frozenset(
    {
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    }
)
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
MSK_CLUSTER = "aws:msk/cluster:Cluster"
AUTOSCALING_GROUP = "aws:autoscaling/group:Group"
AWS_PROVIDER = "pulumi:providers:aws"

INGRESS_TYPES = frozenset({SECURITY_GROUP, SECURITY_GROUP_RULE, VPC_INGRESS_RULE})
KMS_SSE_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})
PUBLIC_ACCESS_FLAGS = (
    ("blockPublicAcls", "block_public_acls"),
    ("blockPublicPolicy", "block_public_policy"),
    ("ignorePublicAcls", "ignore_public_acls"),
    ("restrictPublicBuckets", "restrict_public_buckets"),
)
REQUIRED_TAGS = ("project", "stack", "owner", "cost-center")
SSH_PORT = 22

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


# --------------------------------------------------------------------------------------
# Reading props safely


class Unknown:
    """A value the engine does not know yet (preview), with the error that tells
    pulumi-policy to skip the rule for now (see the module docstring)."""

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


class _Deferred:
    """Collects unknown values of a "defer" rule; ``raise_first`` re-raises one after the
    rule has reported everything it could prove."""

    def __init__(self) -> None:
        self._errors: list[UnknownValueError] = []

    def add(self, value: Unknown) -> None:
        self._errors.append(value.error)

    def raise_first(self) -> None:
        if self._errors:
            raise self._errors[0]


class _UndecidedError(UnknownValueError):
    """An UnknownValueError with a message of its own (pulumi-policy shows ``message``)."""

    def __init__(self, message: str) -> None:
        super().__init__(UNKNOWN_STRING_VALUE, [])
        self.message = message


def python_name(resource_type: str) -> str:
    """``aws:ec2/securityGroup:SecurityGroup`` -> ``aws.ec2.SecurityGroup``, the class the
    stack program writes."""
    parts = resource_type.split(":")
    if len(parts) == 3 and parts[0] == "aws":
        return f"aws.{parts[1].split('/')[0]}.{parts[2]}"
    return resource_type


def _where(resource_type: str, name: str) -> str:
    return f"{python_name(resource_type)} '{name}'"


def _describe(value: Any) -> str:
    return "not set" if value is None else f"{value!r}"


def _require_true(
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
        report_violation(f"{where}: {label} is {_describe(value)}, must be true. Fix: {fix}.", None)


# --------------------------------------------------------------------------------------
# 1. Ingress: no world-open CIDR, no SSH


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


def _ingress_entries(resource_type: str, props: Any, deferred: _Deferred) -> Iterator[_Ingress]:
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
    where = _where(args.resource_type, args.name)
    deferred = _Deferred()
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
    where = _where(args.resource_type, args.name)
    deferred = _Deferred()
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


# --------------------------------------------------------------------------------------
# 2. IMDSv2


def imdsv2_required(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Launch templates and instances set ``metadataOptions.httpTokens = "required"``.
    Fail closed: absent means AWS's default ``optional``; unknown cannot be proven. An
    instance must set it even when it is launched from a template."""
    if args.resource_type not in (LAUNCH_TEMPLATE, INSTANCE):
        return
    where = _where(args.resource_type, args.name)
    fix = "metadata_options={'http_tokens': 'required'}"
    tokens = get(args.props, "metadataOptions", "httpTokens")
    if isinstance(tokens, Unknown):
        report_violation(
            f"{where}: metadataOptions.httpTokens is not known before the update, so IMDSv2 "
            f"cannot be proven. Fix: {fix} as a literal value.",
            None,
        )
    elif tokens != "required":
        report_violation(
            f"{where}: metadataOptions.httpTokens is {_describe(tokens)} (IMDSv1 stays "
            f"reachable). Fix: {fix}.",
            None,
        )


# --------------------------------------------------------------------------------------
# 3. EBS encryption


def ebs_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Every EBS volume is encrypted: launch templates' ``blockDeviceMappings[].ebs.encrypted``
    (bool or the string "true"), instances' ``rootBlockDevice.encrypted`` and every
    ``ebsBlockDevices[].encrypted``, ``aws.ebs.Volume.encrypted``. Fail closed. A launch
    template with no EBS mapping, or an instance without ``rootBlockDevice``, violates:
    its root volume would take the AMI's settings, which need not be encrypted."""
    props, where = args.props, _where(args.resource_type, args.name)
    if args.resource_type == LAUNCH_TEMPLATE:
        fix = "block_device_mappings[...] ebs={'encrypted': 'true', ...}"
        has_ebs = False
        for i, mapping in enumerate(elements(get(props, "blockDeviceMappings"))):
            ebs = get(mapping, "ebs")
            if ebs is None:
                continue  # instance-store or suppressed device: no EBS volume
            has_ebs = True
            label = f"blockDeviceMappings[{i}].ebs.encrypted"
            _require_true(report_violation, where, label, get(ebs, "encrypted"), fix)
        if not has_ebs:
            report_violation(
                f"{where}: declares no EBS block device mapping, so the root volume takes the "
                "AMI's settings and is not proven encrypted. Fix: map the AMI's root device "
                "(and the data volume) with ebs={'encrypted': 'true', 'volume_type': 'gp3', "
                "...}.",
                None,
            )
    elif args.resource_type == INSTANCE:
        fix = "root_block_device={'encrypted': True, ...} and ebs_block_devices[...] encrypted=True"
        root = get(props, "rootBlockDevice")
        if root is None:
            report_violation(
                f"{where}: has no rootBlockDevice, so the root volume takes the AMI's settings "
                f"and is not proven encrypted. Fix: {fix}.",
                None,
            )
        else:
            label = "rootBlockDevice.encrypted"
            _require_true(report_violation, where, label, get(root, "encrypted"), fix)
        for i, device in enumerate(elements(get(props, "ebsBlockDevices"))):
            label = f"ebsBlockDevices[{i}].encrypted"
            _require_true(report_violation, where, label, get(device, "encrypted"), fix)
    elif args.resource_type == EBS_VOLUME:
        _require_true(
            report_violation, where, "encrypted", get(props, "encrypted"), "encrypted=True"
        )


# --------------------------------------------------------------------------------------
# 4. S3


def s3_public_access_blocked(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """A bucket public access block turns on all four of blockPublicAcls,
    blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets. Fail closed."""
    if args.resource_type != PUBLIC_ACCESS_BLOCK:
        return
    where = _where(args.resource_type, args.name)
    for prop, arg in PUBLIC_ACCESS_FLAGS:
        _require_true(report_violation, where, prop, get(args.props, prop), f"{arg}=True")


def s3_kms_encryption(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """A bucket server-side encryption configuration uses KMS: every
    ``rules[].applyServerSideEncryptionByDefault.sseAlgorithm`` is ``aws:kms`` or
    ``aws:kms:dsse``. Fail closed; a configuration without rules violates."""
    if args.resource_type not in SSE_CONFIG_TYPES:
        return
    where = _where(args.resource_type, args.name)
    fix = (
        "rules=[{'apply_server_side_encryption_by_default': {'sse_algorithm': 'aws:kms', "
        "'kms_master_key_id': <key arn>}, 'bucket_key_enabled': True}]"
    )
    rules = elements(get(args.props, "rules"))
    if not rules:
        report_violation(f"{where}: has no encryption rule. Fix: {fix}.", None)
    for i, rule in enumerate(rules):
        label = f"rules[{i}].applyServerSideEncryptionByDefault.sseAlgorithm"
        algorithm = get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")
        if isinstance(algorithm, Unknown):
            report_violation(
                f"{where}: {label} is not known before the update, so KMS encryption cannot "
                f"be proven. Fix: {fix}.",
                None,
            )
        elif algorithm not in KMS_SSE_ALGORITHMS:
            report_violation(
                f"{where}: {label} is {_describe(algorithm)}, must be aws:kms or aws:kms:dsse. "
                f"Fix: {fix}.",
                None,
            )


def _known_strings(*values: Any) -> set[str]:
    return {v for v in values if isinstance(v, str) and v}


def _attachment_status(bucket: PolicyResource, attachments: list[PolicyResource]) -> bool | None:
    """Whether one of ``attachments`` (public access blocks or encryption configurations)
    names ``bucket`` in its ``bucket`` prop: True, False, or None when undecidable now.

    A match is either a property dependency of ``bucket`` on the bucket resource (the
    engine sends these, and they hold in preview too) or an equal value: the
    attachment's ``bucket`` against the bucket's ``bucket`` (name) or ``id``."""
    identities = _known_strings(get(bucket.props, "bucket"), get(bucket.props, "id"))
    undecided = False
    for attachment in attachments:
        depends_on = attachment.property_dependencies.get("bucket") or []
        if any(dep.urn == bucket.urn for dep in depends_on):
            return True
        target = get(attachment.props, "bucket")
        if isinstance(target, Unknown):
            undecided = undecided or not depends_on
        elif isinstance(target, str) and target in identities:
            return True
        elif not identities and isinstance(target, str) and not depends_on:
            undecided = True  # the bucket's own name is unknown: it may be this one
    return None if undecided else False


def s3_buckets_protected(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Stack rule: every S3 bucket has a public access block and a server-side encryption
    configuration whose ``bucket`` refers to it. Defer: a bucket that nothing provably
    refers to while some reference is still unknown (preview, no dependency information)
    is left to the check after the update; every bucket proven uncovered is reported."""
    buckets = [r for r in args.resources if r.resource_type in BUCKET_TYPES]
    kinds = (
        (
            "public access block",
            [r for r in args.resources if r.resource_type == PUBLIC_ACCESS_BLOCK],
            "aws.s3.BucketPublicAccessBlock(bucket=<bucket>.id, block_public_acls=True, "
            "block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True)",
        ),
        (
            "server-side encryption configuration",
            [r for r in args.resources if r.resource_type in SSE_CONFIG_TYPES],
            "aws.s3.BucketServerSideEncryptionConfiguration(bucket=<bucket>.id, rules=[... "
            "sse_algorithm='aws:kms' ...])",
        ),
    )
    undecided: list[str] = []
    for bucket in buckets:
        where = _where(bucket.resource_type, bucket.name)
        for kind, attachments, fix in kinds:
            status = _attachment_status(bucket, attachments)
            if status is None:
                undecided.append(f"{bucket.name} ({kind})")
            elif not status:
                report_violation(
                    f"{where} has no {kind} whose bucket refers to it. Fix: declare {fix}.",
                    bucket.urn,
                )
    if undecided:
        pending = ", ".join(undecided)
        raise _UndecidedError(
            f"bucket references are not known yet for {pending}; checked again after the update"
        )


# --------------------------------------------------------------------------------------
# 5. ElastiCache


def elasticache_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """ElastiCache replication groups encrypt in transit (TLS) and at rest:
    ``transitEncryptionEnabled`` and ``atRestEncryptionEnabled`` true (bool or "true").
    Fail closed."""
    if args.resource_type != REPLICATION_GROUP:
        return
    where = _where(args.resource_type, args.name)
    for prop, arg in (
        ("transitEncryptionEnabled", "transit_encryption_enabled"),
        ("atRestEncryptionEnabled", "at_rest_encryption_enabled"),
    ):
        _require_true(report_violation, where, prop, get(args.props, prop), f"{arg}=True")


# --------------------------------------------------------------------------------------
# 6. MSK


def msk_tls_only(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """MSK clusters: client-broker traffic TLS only
    (``encryptionInfo.encryptionInTransit.clientBroker == "TLS"``, set explicitly), TLS
    inside the cluster (``inCluster`` not false; absent is AWS's default, true) and a KMS
    key at rest (``encryptionInfo.encryptionAtRestKmsKeyArn`` set). Fail closed for the
    two transit settings; an unknown key ARN is accepted (a key that will exist)."""
    if args.resource_type != MSK_CLUSTER:
        return
    props, where = args.props, _where(args.resource_type, args.name)
    transit_fix = (
        "encryption_info={'encryption_in_transit': {'client_broker': 'TLS', "
        "'in_cluster': True}, ...}"
    )
    client_broker = get(props, "encryptionInfo", "encryptionInTransit", "clientBroker")
    if isinstance(client_broker, Unknown):
        report_violation(
            f"{where}: encryptionInfo.encryptionInTransit.clientBroker is not known before the "
            f"update, so TLS-only cannot be proven. Fix: {transit_fix}.",
            None,
        )
    elif client_broker != "TLS":
        report_violation(
            f"{where}: encryptionInfo.encryptionInTransit.clientBroker is "
            f"{_describe(client_broker)}, must be 'TLS' (no plaintext listener). "
            f"Fix: {transit_fix}.",
            None,
        )
    in_cluster = get(props, "encryptionInfo", "encryptionInTransit", "inCluster")
    if isinstance(in_cluster, Unknown):
        report_violation(
            f"{where}: encryptionInfo.encryptionInTransit.inCluster is not known before the "
            f"update, so in-cluster TLS cannot be proven. Fix: {transit_fix}.",
            None,
        )
    elif is_false(in_cluster):
        report_violation(
            f"{where}: encryptionInfo.encryptionInTransit.inCluster is false (brokers talk "
            f"plaintext). Fix: {transit_fix}.",
            None,
        )
    key_arn = get(props, "encryptionInfo", "encryptionAtRestKmsKeyArn")
    if not isinstance(key_arn, Unknown) and not (isinstance(key_arn, str) and key_arn.strip()):
        report_violation(
            f"{where}: encryptionInfo.encryptionAtRestKmsKeyArn is {_describe(key_arn)}, so "
            "encryption at rest is not under the stack's KMS key. Fix: "
            "encryption_info={'encryption_at_rest_kms_key_arn': <kms key>.arn, ...}.",
            None,
        )


# --------------------------------------------------------------------------------------
# 7. Required tags


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
    where = _where(args.resource_type, args.name)
    deferred = _Deferred()
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


# --------------------------------------------------------------------------------------
# Specs: what policy/__main__.py turns into policies


ResourceValidator = Callable[[ResourceValidationArgs, ReportViolation], None]
StackValidator = Callable[[StackValidationArgs, ReportViolation], None]


@dataclass(frozen=True)
class RuleSpec:
    """One rule of the pack. Every field is mandatory. ``kind`` says which policy class
    and args object the validator takes: "resource" (ResourceValidationPolicy,
    ResourceValidationArgs) or "stack" (StackValidationPolicy, StackValidationArgs)."""

    name: str
    description: str
    validator: ResourceValidator | StackValidator
    enforcement_level: EnforcementLevel
    kind: Literal["resource", "stack"]

    def __post_init__(self) -> None:
        if not self.name or not self.description.strip():
            raise ValueError(f"rule {self.name!r} needs a name and a description")
        if not callable(self.validator):
            raise TypeError(f"rule {self.name!r}: validator is not callable")
        if not isinstance(self.enforcement_level, EnforcementLevel):
            raise TypeError(f"rule {self.name!r}: enforcement_level is not an EnforcementLevel")
        if self.kind not in ("resource", "stack"):
            raise ValueError(f"rule {self.name!r}: kind must be 'resource' or 'stack'")


MANDATORY = EnforcementLevel.MANDATORY

RULES: tuple[RuleSpec, ...] = (
    RuleSpec(
        name="no-world-open-ingress",
        description="Security groups and their rules never admit 0.0.0.0/0 or ::/0.",
        validator=no_world_open_ingress,
        enforcement_level=MANDATORY,
        kind="resource",
    ),
    RuleSpec(
        name="no-ssh-ingress",
        description=(
            "No ingress reaches TCP port 22 (or all protocols) from any source; hosts are "
            "reached through SSM Session Manager."
        ),
        validator=no_ssh_ingress,
        enforcement_level=MANDATORY,
        kind="resource",
    ),
    RuleSpec(
        name="imdsv2-required",
        description="Launch templates and instances require IMDSv2 (http_tokens = required).",
        validator=imdsv2_required,
        enforcement_level=MANDATORY,
        kind="resource",
    ),
    RuleSpec(
        name="ebs-encrypted",
        description=(
            "Every EBS volume (launch template mappings, instance root and data devices, "
            "standalone volumes) is encrypted."
        ),
        validator=ebs_encrypted,
        enforcement_level=MANDATORY,
        kind="resource",
    ),
    RuleSpec(
        name="s3-public-access-blocked",
        description="S3 public access blocks turn on all four blocking flags.",
        validator=s3_public_access_blocked,
        enforcement_level=MANDATORY,
        kind="resource",
    ),
    RuleSpec(
        name="s3-kms-encryption",
        description="S3 server-side encryption configurations use KMS (aws:kms or aws:kms:dsse).",
        validator=s3_kms_encryption,
        enforcement_level=MANDATORY,
        kind="resource",
    ),
    RuleSpec(
        name="s3-buckets-protected",
        description=(
            "Every S3 bucket has a public access block and a server-side encryption "
            "configuration that refer to it."
        ),
        validator=s3_buckets_protected,
        enforcement_level=MANDATORY,
        kind="stack",
    ),
    RuleSpec(
        name="elasticache-encrypted",
        description="ElastiCache replication groups encrypt in transit (TLS) and at rest.",
        validator=elasticache_encrypted,
        enforcement_level=MANDATORY,
        kind="resource",
    ),
    RuleSpec(
        name="msk-tls-only",
        description=(
            "MSK clusters accept TLS-only client traffic, use TLS between brokers and encrypt "
            "at rest with a KMS key."
        ),
        validator=msk_tls_only,
        enforcement_level=MANDATORY,
        kind="resource",
    ),
    RuleSpec(
        name="required-tags",
        description=(
            "Every taggable AWS resource carries non-empty project, stack, owner and "
            "cost-center tags."
        ),
        validator=required_tags,
        enforcement_level=MANDATORY,
        kind="resource",
    ),
)
