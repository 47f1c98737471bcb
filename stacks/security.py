"""One security group per tier, least privilege: each port is open only to the tiers
that use it. No rule admits 0.0.0.0/0 and none opens SSH — hosts are reached through SSM
Session Manager."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

TRITON_PORTS = {"http": 8000, "grpc": 8001, "metrics": 8002}
REDIS_PORT = 6379
REDIS_BUS_PORT = 16379  # cluster bus: gossip and failover between self-hosted nodes
# Kafka client ports: self-hosted PLAINTEXT listener, MSK TLS+SCRAM and TLS+IAM.
KAFKA_PORTS = {"selfhosted": 9092, "scram": 9096, "iam": 9098}
KAFKA_CONTROLLER_PORT = 9093  # KRaft controllers, between self-hosted brokers only


@dataclass
class SecurityArgs:
    vpc_id: pulumi.Input[str]
    client_cidrs: tuple[str, ...]
    kafka_port: int
    # Self-hosted brokers replicate and hold their KRaft quorum among themselves; MSK's
    # brokers live in AWS's own network and need no rule for that.
    kafka_selfhosted: bool
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

        for port_name in ("http", "grpc"):
            port = TRITON_PORTS[port_name]
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
                TRITON_PORTS["metrics"],
                "metrics scrapers",
            )

        for source_name, source in (("serving", self.serving), ("trainer", self.trainer)):
            self._ingress(self.redis, f"redis-from-{source_name}", source, REDIS_PORT, source_name)
            self._ingress(
                self.kafka, f"kafka-from-{source_name}", source, args.kafka_port, source_name
            )
        # Between nodes of the same tier: replication, cluster bus, KRaft quorum.
        self._ingress(self.redis, "redis-replication", self.redis, REDIS_PORT, "redis nodes")
        self._ingress(self.redis, "redis-bus", self.redis, REDIS_BUS_PORT, "redis nodes")
        if args.kafka_selfhosted:
            self._ingress(self.kafka, "kafka-replication", self.kafka, args.kafka_port, "brokers")
            self._ingress(
                self.kafka, "kafka-controller", self.kafka, KAFKA_CONTROLLER_PORT, "brokers"
            )

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
        """The security group of a tier of self-managed hosts: trainer, redis or kafka."""
        return {"trainer": self.trainer, "redis": self.redis, "kafka": self.kafka}[tier]

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
