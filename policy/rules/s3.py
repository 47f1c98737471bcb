"""S3 rules: public access blocks turn on every flag (``s3-public-access-blocked``),
encryption configurations use KMS (``s3-kms-encryption``), both fail closed; and the stack
rule that every bucket has both attached (``s3-buckets-protected``), which defers while a
bucket reference is unknown."""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from .common import Unknown, describe_value, display_name, elements, get, require_true

# Resource type tokens (pulumi-aws v7).
BUCKET_TYPES = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE_CONFIG_TYPES = frozenset(
    {
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    }
)

KMS_SSE_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})
PUBLIC_ACCESS_FLAGS = (
    ("blockPublicAcls", "block_public_acls"),
    ("blockPublicPolicy", "block_public_policy"),
    ("ignorePublicAcls", "ignore_public_acls"),
    ("restrictPublicBuckets", "restrict_public_buckets"),
)


class _UndecidedError(UnknownValueError):
    """An UnknownValueError with a message of its own (pulumi-policy shows ``message``)."""

    def __init__(self, message: str) -> None:
        super().__init__(UNKNOWN_STRING_VALUE, [])
        self.message = message


def s3_public_access_blocked(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """A bucket public access block turns on all four of blockPublicAcls,
    blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets. Fail closed."""
    if args.resource_type != PUBLIC_ACCESS_BLOCK:
        return
    where = display_name(args.resource_type, args.name)
    for prop, arg in PUBLIC_ACCESS_FLAGS:
        require_true(report_violation, where, prop, get(args.props, prop), f"{arg}=True")


def s3_kms_encryption(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """A bucket server-side encryption configuration uses KMS: every
    ``rules[].applyServerSideEncryptionByDefault.sseAlgorithm`` is ``aws:kms`` or
    ``aws:kms:dsse``. Fail closed; a configuration without rules violates."""
    if args.resource_type not in SSE_CONFIG_TYPES:
        return
    where = display_name(args.resource_type, args.name)
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
                f"{where}: {label} is {describe_value(algorithm)}, must be aws:kms or "
                f"aws:kms:dsse. Fix: {fix}.",
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
        where = display_name(bucket.resource_type, bucket.name)
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
