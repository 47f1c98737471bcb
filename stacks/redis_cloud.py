"""Redis Enterprise Cloud (with the search module, so retrieval can use RediSearch):
a subscription deployed in the stack's region, a database, and VPC peering to the stack.

Needs the provider's API keys as secrets: `pulumi config set --secret rediscloud:apiKey`
and `rediscloud:secretKey`. The subscription's deployment CIDR must not overlap the VPC.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_rediscloud as rediscloud


@dataclass
class RedisCloudArgs:
    region: str
    deployment_cidr: str
    memory_limit_gb: float
    throughput_ops: int
    payment_method_id: str
    # Redis Cloud places its nodes by zone id (use1-az2), which is the same physical AZ in
    # every account, unlike zone names.
    zone_ids: pulumi.Input[list[str]]
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    route_table_ids: list[pulumi.Input[str]]
    password: pulumi.Input[str]
    tags: dict[str, str]


class RedisCloud(pulumi.ComponentResource):
    def __init__(self, name: str, args: RedisCloudArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("recstack:aws:RedisCloud", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        modules = [{"name": "RediSearch"}]
        zones = pulumi.Output.from_input(args.zone_ids)
        subscription = rediscloud.Subscription(
            name,
            name=name,
            payment_method="credit-card" if args.payment_method_id else "marketplace",
            payment_method_id=args.payment_method_id or None,
            cloud_provider={
                "provider": "AWS",
                "regions": [
                    {
                        "region": args.region,
                        "networking_deployment_cidr": args.deployment_cidr,
                        # Multi-AZ needs exactly three zones; with fewer, one zone.
                        "multiple_availability_zones": zones.apply(lambda ids: len(ids) >= 3),
                        "preferred_availability_zones": zones.apply(
                            lambda ids: ids[:3] if len(ids) >= 3 else ids[:1]
                        ),
                    }
                ],
            },
            creation_plan={
                "memory_limit_in_gb": args.memory_limit_gb,
                "quantity": 1,
                "replication": True,
                "throughput_measurement_by": "operations-per-second",
                "throughput_measurement_value": args.throughput_ops,
                "modules": [m["name"] for m in modules],
            },
            opts=child,
        )
        self.database = rediscloud.SubscriptionDatabase(
            name,
            subscription_id=subscription.id,
            name=name,
            memory_limit_in_gb=args.memory_limit_gb,
            replication=True,
            throughput_measurement_by="operations-per-second",
            throughput_measurement_value=args.throughput_ops,
            modules=modules,
            data_persistence="aof-every-1-second",
            enable_tls=True,
            password=args.password,
            # Only the peered VPC may connect; the public endpoint stays closed.
            source_ips=[args.vpc_cidr],
            opts=child,
        )
        account = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).account_id
        peering = rediscloud.SubscriptionPeering(
            name,
            subscription_id=subscription.id,
            region=args.region,
            aws_account_id=account,
            vpc_id=args.vpc_id,
            vpc_cidr=args.vpc_cidr,
            opts=child,
        )
        accepter = aws.ec2.VpcPeeringConnectionAccepter(
            name,
            vpc_peering_connection_id=peering.aws_peering_id,
            auto_accept=True,
            tags={**args.tags, "Name": name},
            opts=child,
        )
        for i, table in enumerate(args.route_table_ids):
            aws.ec2.Route(
                f"{name}-{i}",
                route_table_id=table,
                destination_cidr_block=args.deployment_cidr,
                vpc_peering_connection_id=accepter.id,
                opts=child,
            )
        self.endpoint = self.database.private_endpoint
        self.register_outputs({"endpoint": self.endpoint})
