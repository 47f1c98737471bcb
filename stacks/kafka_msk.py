"""Amazon MSK: TLS only between clients and brokers and inside the cluster, IAM or SCRAM
authentication (never unauthenticated), encryption at rest with the stack key, brokers
spread evenly over the AZs, and a configuration sized for embedding-update messages with
automatic topic creation off."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random


@dataclass
class MskArgs:
    cluster_name: str
    kafka_version: str
    brokers: int
    broker_type: str
    volume_gb: int
    auth: str  # iam | scram
    message_max_bytes: int
    subnet_ids: list[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    tags: dict[str, str]


def server_properties(brokers: int, message_max_bytes: int) -> str:
    replication = min(3, brokers)
    return "\n".join(
        (
            # Topics are created by the deployment (pipelines/streaming/topics.py), with
            # their partition counts; a typo
            # in a client must not create one.
            "auto.create.topics.enable=false",
            f"message.max.bytes={message_max_bytes}",
            f"replica.fetch.max.bytes={message_max_bytes}",
            f"default.replication.factor={replication}",
            f"min.insync.replicas={max(1, replication - 1)}",
            "",
        )
    )


class Msk(pulumi.ComponentResource):
    def __init__(self, name: str, args: MskArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("recstack:aws:Msk", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {**args.tags, "Name": args.cluster_name}
        configuration = aws.msk.Configuration(
            name,
            kafka_versions=[args.kafka_version],
            server_properties=server_properties(args.brokers, args.message_max_bytes),
            opts=child,
        )
        self.cluster = aws.msk.Cluster(
            name,
            cluster_name=args.cluster_name,
            kafka_version=args.kafka_version,
            number_of_broker_nodes=args.brokers,
            broker_node_group_info={
                "instance_type": args.broker_type,
                "client_subnets": args.subnet_ids,
                "security_groups": [args.security_group_id],
                "storage_info": {"ebs_storage_info": {"volume_size": args.volume_gb}},
            },
            encryption_info={
                "encryption_at_rest_kms_key_arn": args.kms_key_arn,
                "encryption_in_transit": {"client_broker": "TLS", "in_cluster": True},
            },
            client_authentication={
                "unauthenticated": False,
                "sasl": {"iam": args.auth == "iam", "scram": args.auth == "scram"},
            },
            configuration_info={
                "arn": configuration.arn,
                "revision": configuration.latest_revision,
            },
            tags=tags,
            opts=child,
        )
        if args.auth == "scram":
            # Clients read the credentials from this secret (their roles may).
            self.credentials_secret: pulumi.Output[str] | None = self._scram_user(name, args, tags)
            self.bootstrap = self.cluster.bootstrap_brokers_sasl_scram
        else:
            self.credentials_secret = None
            self.bootstrap = self.cluster.bootstrap_brokers_sasl_iam
        self.register_outputs({"bootstrap": self.bootstrap})

    def _scram_user(self, name: str, args: MskArgs, tags: dict[str, str]) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        password = random.RandomPassword(f"{name}-scram", length=32, special=False, opts=child)
        # MSK only accepts SCRAM secrets named AmazonMSK_* and encrypted with a customer key.
        secret = aws.secretsmanager.Secret(
            f"{name}-scram",
            name_prefix=f"AmazonMSK_{args.cluster_name}-",
            kms_key_id=args.kms_key_arn,
            tags=tags,
            opts=child,
        )
        version = aws.secretsmanager.SecretVersion(
            f"{name}-scram",
            secret_id=secret.id,
            secret_string=pulumi.Output.json_dumps(
                {"username": "recstack", "password": password.result}
            ),
            opts=child,
        )
        aws.msk.SingleScramSecretAssociation(
            f"{name}-scram",
            cluster_arn=self.cluster.arn,
            secret_arn=secret.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[version]),
        )
        return secret.arn
