"""A self-hosted Redis cluster on EC2: shards x (1 + replicas) nodes spread over the AZs
so that no replica shares an AZ (or host) with its master. The redis role forms the
cluster; this component only places the nodes and tags each with its shard and role."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from hosts import HostSpec, describe, host


@dataclass
class SelfHostedRedisArgs:
    shards: int
    replicas_per_shard: int
    instance_type: str
    data_volume_gb: int
    root_volume_gb: int
    ami_id: pulumi.Input[str]
    subnet_ids: list[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    instance_profile: pulumi.Input[str]
    region: str
    tags: dict[str, str]


def placement(shard: int, copy: int, zones: int) -> int:
    """The AZ of a shard's master (copy 0) or replica: masters round-robin over the AZs,
    each replica one AZ further on."""
    return (shard + copy) % zones


class SelfHostedRedis(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: SelfHostedRedisArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("recstack:aws:SelfHostedRedis", name, None, opts)
        zones = len(args.subnet_ids)
        nodes = []
        for shard in range(args.shards):
            for copy in range(1 + args.replicas_per_shard):
                role = "master" if copy == 0 else "replica"
                instance = host(
                    HostSpec(
                        name=f"{name}-{shard}-{copy}",
                        group="redis",
                        instance_type=args.instance_type,
                        subnet_id=args.subnet_ids[placement(shard, copy, zones)],
                        security_group_id=args.security_group_id,
                        instance_profile=args.instance_profile,
                        ami_id=args.ami_id,
                        region=args.region,
                        root_volume_gb=args.root_volume_gb,
                        data_volume_gb=args.data_volume_gb,
                        tags=args.tags,
                        extra_tags={"recstack:shard": str(shard), "recstack:role": role},
                    ),
                    parent=self,
                )
                nodes.append(describe(instance, shard=str(shard), role=role))
        self.nodes = pulumi.Output.all(*nodes)
        self.register_outputs({"nodes": self.nodes})
