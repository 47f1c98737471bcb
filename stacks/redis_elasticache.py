"""ElastiCache for Redis in cluster mode: shards with replicas across AZs, automatic
failover, TLS in transit, encryption at rest with the stack key, an AUTH token."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from recstack_contract.ports import PORTS


@dataclass
class ElastiCacheArgs:
    replication_group_id: str
    shards: int
    replicas_per_shard: int
    node_type: str
    engine_version: str
    multi_az: bool
    subnet_ids: list[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    auth_token: pulumi.Input[str]
    snapshot_retention_days: int
    tags: dict[str, str]


class ElastiCacheRedis(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: ElastiCacheArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("recstack:aws:ElastiCacheRedis", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {**args.tags, "Name": name}
        subnets = aws.elasticache.SubnetGroup(
            name, subnet_ids=args.subnet_ids, description=f"{name} subnets", tags=tags, opts=child
        )
        major = args.engine_version.split(".")[0]
        # AWS names the families redis6.x and redis7.
        family = "redis6.x" if major == "6" else f"redis{major}"
        parameters = aws.elasticache.ParameterGroup(
            name,
            family=family,
            description=f"{name}: cluster mode",
            parameters=[{"name": "cluster-enabled", "value": "yes"}],
            tags=tags,
            opts=child,
        )
        self.group = aws.elasticache.ReplicationGroup(
            name,
            replication_group_id=args.replication_group_id,
            description=f"{name}: online features, histories, embeddings",
            engine="redis",
            engine_version=args.engine_version,
            node_type=args.node_type,
            port=PORTS.redis,
            parameter_group_name=parameters.name,
            subnet_group_name=subnets.name,
            security_group_ids=[args.security_group_id],
            num_node_groups=args.shards,
            replicas_per_node_group=args.replicas_per_shard,
            automatic_failover_enabled=True,
            multi_az_enabled=args.multi_az,
            transit_encryption_enabled=True,
            at_rest_encryption_enabled=True,
            kms_key_id=args.kms_key_arn,
            auth_token=args.auth_token,
            snapshot_retention_limit=args.snapshot_retention_days,
            tags=tags,
            opts=child,
        )
        self.endpoint = self.group.configuration_endpoint_address
        self.register_outputs({"endpoint": self.endpoint})
