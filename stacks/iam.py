"""Instance roles: each tier gets SSM Session Manager access (the only way in), the
transfer bucket Ansible copies files through, and only the data it works on."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

SSM_CORE = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


@dataclass
class IamArgs:
    region: str
    bucket_arns: dict[str, pulumi.Input[str]]  # purpose -> ARN (storage.BUCKETS)
    key_arn: pulumi.Input[str]
    kafka_cluster_name: str
    tags: dict[str, str]


class InstanceRoles(pulumi.ComponentResource):
    def __init__(self, name: str, args: IamArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("recstack:aws:InstanceRoles", name, None, opts)
        self._name = name
        self._args = args
        account = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).account_id
        kafka = account.apply(lambda a: _kafka_resources(args.region, a, args.kafka_cluster_name))
        # What each tier may do beyond SSM: (S3 buckets read-only, read-write, Kafka).
        grants = {
            "serving": (("models",), (), True),
            "trainer": ((), ("models", "features", "registry"), True),
            "data": ((), (), False),
        }
        self.profiles: dict[str, aws.iam.InstanceProfile] = {}
        for tier, (read, write, uses_kafka) in grants.items():
            self.profiles[tier] = self._profile(tier, read, write, kafka if uses_kafka else None)
        self.register_outputs({tier: p.arn for tier, p in self.profiles.items()})

    def _profile(
        self,
        tier: str,
        read: tuple[str, ...],
        write: tuple[str, ...],
        kafka: pulumi.Output[list[str]] | None,
    ) -> aws.iam.InstanceProfile:
        child = pulumi.ResourceOptions(parent=self)
        resource = f"{self._name}-{tier}"
        tags = {**self._args.tags, "Name": resource}
        role = aws.iam.Role(
            resource,
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "ec2.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(resource, role=role.name, policy_arn=SSM_CORE, opts=child)
        buckets = self._args.bucket_arns
        policy = pulumi.Output.all(
            read=[buckets[p] for p in read],
            write=[buckets[p] for p in (*write, "transfer")],
            key=self._args.key_arn,
            kafka=kafka if kafka is not None else [],
        ).apply(lambda a: _policy(a["read"], a["write"], a["key"], a["kafka"]))
        aws.iam.RolePolicy(resource, role=role.id, policy=policy, opts=child)
        return aws.iam.InstanceProfile(resource, role=role.name, tags=tags, opts=child)


def _objects(arns: list[str]) -> list[str]:
    return [*arns, *(f"{arn}/*" for arn in arns)]


def _policy(read: list[str], write: list[str], key: str, kafka: list[str]) -> str:
    statements = [
        {
            "Sid": "ReadWriteBuckets",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
            "Resource": _objects(write),
        },
        {
            "Sid": "UseStackKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": [key],
        },
    ]
    if read:
        statements.append(
            {
                "Sid": "ReadBuckets",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": _objects(read),
            }
        )
    if kafka:
        statements.append(
            {
                "Sid": "KafkaClient",
                "Effect": "Allow",
                "Action": [
                    "kafka-cluster:Connect",
                    "kafka-cluster:DescribeCluster",
                    "kafka-cluster:DescribeTopic",
                    "kafka-cluster:ReadData",
                    "kafka-cluster:WriteData",
                    "kafka-cluster:DescribeGroup",
                    "kafka-cluster:AlterGroup",
                ],
                "Resource": kafka,
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _kafka_resources(region: str, account: str, cluster: str) -> list[str]:
    """MSK IAM resources by cluster name, so roles need not wait for the cluster."""
    base = f"arn:aws:kafka:{region}:{account}"
    return [f"{base}:{kind}/{cluster}/*" for kind in ("cluster", "topic", "group")]
