"""A self-hosted Redis cluster on EC2: shards x (1 + replicas) nodes, one per host, spread
over the AZs. With at least as many AZs as copies of a shard, no replica shares an AZ
with its master (or another copy); with fewer, some copies share an AZ but never a host.
The redis role forms the cluster; this component places the nodes and tags each with
its shard and role."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from hosts import HostPool, describe


@dataclass
class SelfHostedRedisArgs:
    pool: HostPool
    shards: int
    replicas_per_shard: int


def placement(shard: int, copy: int) -> int:
    """The AZ (modulo the AZ count) of a shard's master (copy 0) or replica: masters
    round-robin over the AZs, replica c sits c AZs further on."""
    return shard + copy


class SelfHostedRedis(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: SelfHostedRedisArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("recstack:aws:SelfHostedRedis", name, None, opts)
        nodes = []
        for shard in range(args.shards):
            for copy in range(1 + args.replicas_per_shard):
                role = "master" if copy == 0 else "replica"
                instance = args.pool.host(
                    f"{name}-{shard}-{copy}",
                    placement(shard, copy),
                    self,
                    {"recstack:shard": str(shard), "recstack:role": role},
                )
                # The redis role forms the cluster in this layout (its host variables).
                nodes.append(describe(instance, redis_shard=shard, redis_shard_role=role))
        self.nodes = pulumi.Output.all(*nodes)
        self.register_outputs({"nodes": self.nodes})
