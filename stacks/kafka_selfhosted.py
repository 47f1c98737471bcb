"""Self-hosted Kafka (KRaft) brokers on EC2, one per AZ in turn, each with a data volume.
The Apache Kafka role configures them; this component places and tags them."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from hosts import HostSpec, describe, host


@dataclass
class SelfHostedKafkaArgs:
    brokers: int
    instance_type: str
    volume_gb: int
    root_volume_gb: int
    ami_id: pulumi.Input[str]
    subnet_ids: list[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    instance_profile: pulumi.Input[str]
    region: str
    tags: dict[str, str]


class SelfHostedKafka(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: SelfHostedKafkaArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("recstack:aws:SelfHostedKafka", name, None, opts)
        nodes = []
        for broker in range(args.brokers):
            instance = host(
                HostSpec(
                    name=f"{name}-{broker}",
                    group="kafka",
                    instance_type=args.instance_type,
                    subnet_id=args.subnet_ids[broker % len(args.subnet_ids)],
                    security_group_id=args.security_group_id,
                    instance_profile=args.instance_profile,
                    ami_id=args.ami_id,
                    region=args.region,
                    root_volume_gb=args.root_volume_gb,
                    data_volume_gb=args.volume_gb,
                    tags=args.tags,
                    extra_tags={"recstack:broker-id": str(broker)},
                ),
                parent=self,
            )
            nodes.append(describe(instance, broker_id=str(broker)))
        self.nodes = pulumi.Output.all(*nodes)
        self.register_outputs({"nodes": self.nodes})
