"""One security group per tier, least privilege: each port is open only to the tiers
that use it. No rule admits 0.0.0.0/0 and none opens SSH — hosts are reached through SSM
Session Manager."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from recstack_contract.ports import PORTS

# What clients reach through the load balancer; the metrics port is scraped directly.
TRITON_CLIENT_PORTS = {"http": PORTS.triton_http, "grpc": PORTS.triton_grpc}


@dataclass
class SecurityArgs:
    vpc_id: pulumi.Input[str]
    client_cidrs: tuple[str, ...]
    # MSK's client port for the stack's authentication mode. Its brokers replicate inside
    # AWS's own network, so the group needs no rule between brokers.
    kafka_port: int
    tags: dict[str, str]


class SecurityGroups(pulumi.ComponentResource):
    def __init__(self, name: str, args: SecurityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("recstack:aws:SecurityGroups", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)

        self.load_balancer = self._group("lb", "Triton load balancer: clients in, serving out")
        self.serving = self._group("serving", "Triton serving hosts")
        self.trainer = self._group("trainer", "Pipeline and training hosts")
        self.redis = self._group("redis", "Redis nodes")
        self.kafka = self._group("kafka", "Kafka brokers")

        for port_name, port in TRITON_CLIENT_PORTS.items():
            for i, cidr in enumerate(args.client_cidrs):
                self._ingress(self.load_balancer, f"lb-{port_name}-{i}", cidr, port, "clients")
            self._ingress(
                self.serving, f"serving-{port_name}", self.load_balancer, port, "load balancer"
            )
        for i, cidr in enumerate(args.client_cidrs):
            self._ingress(
                self.serving,
                f"serving-metrics-{i}",
                cidr,
                PORTS.triton_metrics,
                "metrics scrapers",
            )

        for source_name, source in (("serving", self.serving), ("trainer", self.trainer)):
            self._ingress(self.redis, f"redis-from-{source_name}", source, PORTS.redis, source_name)
            self._ingress(
                self.kafka, f"kafka-from-{source_name}", source, args.kafka_port, source_name
            )
        # Between self-hosted Redis nodes: replication and the cluster bus.
        self._ingress(self.redis, "redis-replication", self.redis, PORTS.redis, "redis nodes")
        self._ingress(self.redis, "redis-bus", self.redis, PORTS.redis_cluster_bus, "redis nodes")

        self.register_outputs(
            {
                group: sg.id
                for group, sg in (
                    ("load_balancer", self.load_balancer),
                    ("serving", self.serving),
                    ("trainer", self.trainer),
                    ("redis", self.redis),
                    ("kafka", self.kafka),
                )
            }
        )

    def group(self, tier: str) -> aws.ec2.SecurityGroup:
        """The security group of a tier of self-managed hosts: trainer or redis."""
        return {"trainer": self.trainer, "redis": self.redis}[tier]

    def _group(self, tier: str, description: str) -> aws.ec2.SecurityGroup:
        group = aws.ec2.SecurityGroup(
            f"{self._name}-{tier}",
            vpc_id=self._args.vpc_id,
            description=description,
            tags=self._tags(tier),
            opts=self._child,
        )
        # Hosts fetch packages, models and reach AWS APIs; what they answer is the
        # ingress rules' business.
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-{tier}-egress",
            security_group_id=group.id,
            cidr_ipv4="0.0.0.0/0",
            ip_protocol="-1",
            description="all outbound",
            tags=self._tags(f"{tier}-egress"),
            opts=self._child,
        )
        return group

    def _ingress(
        self,
        group: aws.ec2.SecurityGroup,
        rule: str,
        source: str | aws.ec2.SecurityGroup,
        port: int,
        who: str,
    ) -> None:
        """TCP `port` into `group` from a CIDR or from the members of another group."""
        peer = (
            {"cidr_ipv4": source}
            if isinstance(source, str)
            else {"referenced_security_group_id": source.id}
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-{rule}",
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description=f"{port} from {who}",
            tags=self._tags(rule),
            opts=self._child,
            **peer,
        )

    def _tags(self, suffix: str) -> dict[str, str]:
        return {**self._args.tags, "Name": f"{self._name}-{suffix}"}
