"""Data tier rules: the ElastiCache feature store (``elasticache-encrypted``) and the MSK
event bus (``msk-tls-only``) encrypt in transit and at rest. Fail closed, except that an
unknown MSK at-rest key ARN is accepted."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs

from .common import Unknown, describe_value, display_name, get, is_false, require_true

# Resource type tokens (pulumi-aws v7).
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
MSK_CLUSTER = "aws:msk/cluster:Cluster"


def elasticache_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """ElastiCache replication groups encrypt in transit (TLS) and at rest:
    ``transitEncryptionEnabled`` and ``atRestEncryptionEnabled`` true (bool or "true").
    Fail closed."""
    if args.resource_type != REPLICATION_GROUP:
        return
    where = display_name(args.resource_type, args.name)
    for prop, arg in (
        ("transitEncryptionEnabled", "transit_encryption_enabled"),
        ("atRestEncryptionEnabled", "at_rest_encryption_enabled"),
    ):
        require_true(report_violation, where, prop, get(args.props, prop), f"{arg}=True")


def msk_tls_only(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """MSK clusters: client-broker traffic TLS only
    (``encryptionInfo.encryptionInTransit.clientBroker == "TLS"``, set explicitly), TLS
    inside the cluster (``inCluster`` not false; absent is AWS's default, true) and a KMS
    key at rest (``encryptionInfo.encryptionAtRestKmsKeyArn`` set). Fail closed for the
    two transit settings; an unknown key ARN is accepted (a key that will exist)."""
    if args.resource_type != MSK_CLUSTER:
        return
    props, where = args.props, display_name(args.resource_type, args.name)
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
            f"{describe_value(client_broker)}, must be 'TLS' (no plaintext listener). "
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
            f"{where}: encryptionInfo.encryptionAtRestKmsKeyArn is {describe_value(key_arn)}, so "
            "encryption at rest is not under the stack's KMS key. Fix: "
            "encryption_info={'encryption_at_rest_kms_key_arn': <kms key>.arn, ...}.",
            None,
        )
