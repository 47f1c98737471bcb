"""Self-hosted Kafka (KRaft) brokers on EC2, one per AZ in turn, each with a data volume.
The Apache Kafka role configures them; this component places and tags them."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from hosts import HostPool, describe


@dataclass
class SelfHostedKafkaArgs:
    pool: HostPool
    brokers: int


class SelfHostedKafka(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: SelfHostedKafkaArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("recstack:aws:SelfHostedKafka", name, None, opts)
        nodes = []
        for broker in range(args.brokers):
            instance = args.pool.host(
                f"{name}-{broker}", broker, self, {"recstack:broker-id": str(broker)}
            )
            nodes.append(describe(instance, broker_id=str(broker)))
        self.nodes = pulumi.Output.all(*nodes)
        self.register_outputs({"nodes": self.nodes})
