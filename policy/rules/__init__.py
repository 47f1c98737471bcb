"""Security rules for the recstack AWS stacks, as pulumi-policy validator functions, and
``RULES``, the one registry of them that ``policy/__main__.py`` and ``policy/check.py`` use.

Every rule is one plain function, ``(args, report_violation) -> None``, taking
``pulumi_policy.ResourceValidationArgs`` (resource rules) or
``pulumi_policy.StackValidationArgs`` (stack rules). The functions live in one module per
rule family (``ingress``, ``compute``, ``s3``, ``data_tiers``, ``tags``; ``common`` holds
what several families share) and are listed here with their name, description, kind and
enforcement level. No module of this package constructs a ``PolicyPack`` (that starts the
analyzer's gRPC server and blocks forever); only ``policy/__main__.py`` does, from
``RULES``. ``policy/check.py`` runs the same functions over plain ``(type, name, props)``
triples for the stack's mock tests.

The package is imported as ``policy.rules`` (tests, ``python -m policy``) and as the
top-level ``rules`` when the Pulumi CLI runs ``python policy/``, so its modules import
each other relatively only.

Properties arrive as the engine sends them: camelCase input names, nested dicts and
lists, numbers as floats. During ``pulumi preview`` a value computed from another
resource's output is *unknown*: pulumi-policy wraps the props so that reading such a
value raises ``UnknownValueError``. The helpers in ``common`` never let that escape by
accident; each rule decides explicitly what an unknown value means:

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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

from .compute import ebs_encrypted, imdsv2_required
from .data_tiers import elasticache_encrypted, msk_tls_only
from .ingress import no_ssh_ingress, no_world_open_ingress
from .s3 import s3_buckets_protected, s3_kms_encryption, s3_public_access_blocked
from .tags import required_tags

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
