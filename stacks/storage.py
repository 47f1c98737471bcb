"""S3 buckets and the stack's KMS key.

Buckets: the Triton model repository, the offline feature store (parquet), the Feast
registry, and the transfer bucket Ansible's SSM connection copies files through. Each is
versioned, encrypted with the stack key, closed to the public, reachable only over TLS,
and expires what it no longer needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

BUCKETS = ("models", "features", "registry", "transfer")


@dataclass
class StorageArgs:
    noncurrent_version_days: int
    # Let `recstack down` delete buckets that still hold objects. Off in production, where
    # destroying the stack must not take the model history and features with it.
    force_destroy: bool
    tags: dict[str, str]


class Storage(pulumi.ComponentResource):
    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("recstack:aws:Storage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"{name}: buckets, ElastiCache, MSK and secrets",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags={**args.tags, "Name": f"{name}-key"},
            opts=child,
        )
        self.buckets: dict[str, aws.s3.Bucket] = {}
        for purpose in BUCKETS:
            self.buckets[purpose] = self._bucket(name, purpose, args, child)
        self.register_outputs(
            {"key_arn": self.key.arn, **{p: b.bucket for p, b in self.buckets.items()}}
        )

    def _bucket(
        self, name: str, purpose: str, args: StorageArgs, child: pulumi.ResourceOptions
    ) -> aws.s3.Bucket:
        resource = f"{name}-{purpose}"
        tags = {**args.tags, "Name": resource}
        bucket = aws.s3.Bucket(
            resource,
            bucket_prefix=f"{resource}-",
            # Transfers are scratch space in every stack.
            force_destroy=args.force_destroy or purpose == "transfer",
            tags=tags,
            opts=child,
        )
        on_bucket = pulumi.ResourceOptions(parent=bucket)
        aws.s3.BucketVersioning(
            resource,
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=on_bucket,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            resource,
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": self.key.arn,
                    },
                    "bucket_key_enabled": True,
                }
            ],
            opts=on_bucket,
        )
        block = aws.s3.BucketPublicAccessBlock(
            resource,
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=on_bucket,
        )
        aws.s3.BucketPolicy(
            resource,
            bucket=bucket.id,
            policy=bucket.arn.apply(_tls_only),
            # S3 refuses policies while public access settings are being applied.
            opts=pulumi.ResourceOptions(parent=bucket, depends_on=[block]),
        )
        aws.s3.BucketLifecycleConfiguration(
            resource,
            bucket=bucket.id,
            rules=_lifecycle(purpose, args.noncurrent_version_days),
            opts=on_bucket,
        )
        return bucket


def _tls_only(arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def _lifecycle(purpose: str, noncurrent_days: int) -> list[dict]:
    rules = [
        {
            "id": "abort-incomplete-uploads",
            "status": "Enabled",
            "filter": {},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
        },
        {
            "id": "expire-old-versions",
            "status": "Enabled",
            "filter": {},
            "noncurrent_version_expiration": {"noncurrent_days": noncurrent_days},
        },
    ]
    if purpose == "transfer":
        # Ansible's SSM connection leaves only short-lived copies here.
        rules.append(
            {"id": "expire-transfers", "status": "Enabled", "filter": {}, "expiration": {"days": 1}}
        )
    return rules
