"""Instance roles: each tier gets SSM Session Manager access (the only way in) and only
the data it works on. Ansible's SSM connection moves files through URLs the controller
signs, so hosts need no access to the transfer bucket."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

SSM_CORE = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
# MSK IAM actions of a client that reads and writes topics and consumer groups.
KAFKA_CLIENT = (
    "kafka-cluster:Connect",
    "kafka-cluster:DescribeCluster",
    "kafka-cluster:DescribeTopic",
    "kafka-cluster:ReadData",
    "kafka-cluster:WriteData",
    "kafka-cluster:DescribeGroup",
    "kafka-cluster:AlterGroup",
)
# Topics are created by the deployment (automatic creation is off), from a trainer host.
KAFKA_TOPIC_ADMIN = ("kafka-cluster:CreateTopic", "kafka-cluster:AlterTopic")


@dataclass(frozen=True)
class Grant:
    """What one tier may do beyond SSM."""

    read: tuple[str, ...] = ()  # bucket purposes (storage.BUCKETS)
    write: tuple[str, ...] = ()
    kafka: tuple[str, ...] = ()  # MSK IAM actions (with SCRAM: read the user's secret)


GRANTS = {
    "serving": Grant(read=("models",), kafka=KAFKA_CLIENT),
    "trainer": Grant(
        write=("models", "features", "registry"), kafka=KAFKA_CLIENT + KAFKA_TOPIC_ADMIN
    ),
    "data": Grant(),  # self-hosted Redis nodes
}


@dataclass
class IamArgs:
    region: str
    bucket_arns: dict[str, pulumi.Input[str]]  # purpose -> ARN
    key_arn: pulumi.Input[str]
    kafka_cluster_name: str
    msk_auth: str  # iam: IAM authorizes each Kafka action; scram: a user in Secrets Manager
    tags: dict[str, str]


class InstanceRoles(pulumi.ComponentResource):
    def __init__(self, name: str, args: IamArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("recstack:aws:InstanceRoles", name, None, opts)
        self._name = name
        self._args = args
        self._account = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).account_id
        self.profiles = {tier: self._profile(tier, grant) for tier, grant in GRANTS.items()}
        self.register_outputs({tier: p.arn for tier, p in self.profiles.items()})

    def _profile(self, tier: str, grant: Grant) -> aws.iam.InstanceProfile:
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
        if grant != Grant():  # the data tier needs nothing beyond SSM
            policy = pulumi.Output.all(
                read=[self._args.bucket_arns[p] for p in grant.read],
                write=[self._args.bucket_arns[p] for p in grant.write],
                key=self._args.key_arn,
                account=self._account,
            ).apply(lambda a: self._policy(grant, a["read"], a["write"], a["key"], a["account"]))
            aws.iam.RolePolicy(resource, role=role.id, policy=policy, opts=child)
        return aws.iam.InstanceProfile(resource, role=role.name, tags=tags, opts=child)

    def _policy(
        self, grant: Grant, read: list[str], write: list[str], key: str, account: str
    ) -> str:
        statements: list[dict] = []
        if read:
            statements.append(
                _allow("ReadBuckets", ["s3:GetObject", "s3:ListBucket"], _objects(read))
            )
        if write:
            actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"]
            statements.append(_allow("ReadWriteBuckets", actions, _objects(write)))
        if read or write:
            # The buckets are encrypted with the stack key.
            actions = ["kms:Decrypt"] + (["kms:Encrypt", "kms:GenerateDataKey"] if write else [])
            statements.append(_allow("UseStackKey", actions, [key]))
        cluster = self._args.kafka_cluster_name
        if grant.kafka and self._args.msk_auth == "iam":
            base = f"arn:aws:kafka:{self._args.region}:{account}"
            # By cluster name, so roles need not wait for the cluster to exist.
            resources = [f"{base}:{kind}/{cluster}/*" for kind in ("cluster", "topic", "group")]
            statements.append(_allow("KafkaClient", list(grant.kafka), resources))
        elif grant.kafka:
            # SCRAM clients authenticate as the user in this secret; MSK does not consult
            # IAM for their Kafka actions, so granting those would be dead permissions.
            region = self._args.region
            secret = f"arn:aws:secretsmanager:{region}:{account}:secret:AmazonMSK_{cluster}-*"
            statements.append(
                _allow("KafkaCredentials", ["secretsmanager:GetSecretValue"], [secret])
            )
            statements.append(_allow("KafkaCredentialsKey", ["kms:Decrypt"], [key]))
        return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _allow(sid: str, actions: list[str], resources: list[str]) -> dict:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}


def _objects(arns: list[str]) -> list[str]:
    return [*arns, *(f"{arn}/*" for arn in arns)]
