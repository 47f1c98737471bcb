"""The GPU serving fleet: a launch template on the Deep Learning Base GPU AMI (looked up,
never hard-coded), an auto scaling group over the private subnets that scales on CPU, and
a network load balancer for Triton's HTTP and gRPC ports, health-checked on
/v2/health/ready.

The group replaces instances only when EC2 finds them broken: a new instance serves only
once the Triton role has configured it, so replacing it for failing the load balancer's
readiness check would replace every new instance before it is ready. The load balancer
still sends traffic only to ready targets."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from hosts import DATA_DEVICE, GROUP_TAG
from recstack_contract.ports import PORTS
from security import TRITON_CLIENT_PORTS

READY_PATH = "/v2/health/ready"
ROOT_DEVICE = "/dev/sda1"  # the Ubuntu-based GPU AMI's root device


@dataclass
class ServingFleetArgs:
    instance_type: str
    min_size: int
    max_size: int
    desired_capacity: int
    root_volume_gb: int
    data_volume_gb: int
    ami_id: pulumi.Input[str]
    target_cpu_percent: float
    vpc_id: pulumi.Input[str]
    subnet_ids: list[pulumi.Input[str]]
    load_balancer_subnet_ids: list[pulumi.Input[str]]
    internal_load_balancer: bool
    serving_security_group_id: pulumi.Input[str]
    load_balancer_security_group_id: pulumi.Input[str]
    instance_profile_arn: pulumi.Input[str]
    tags: dict[str, str]


class ServingFleet(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: ServingFleetArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("recstack:aws:ServingFleet", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {**args.tags, "Name": f"{name}-triton", GROUP_TAG: "triton"}

        def volume(device: str, size: int) -> dict:
            return {
                "device_name": device,
                "ebs": {
                    "volume_type": "gp3",
                    "volume_size": size,
                    "encrypted": "true",
                    "delete_on_termination": "true",
                },
            }

        template = aws.ec2.LaunchTemplate(
            f"{name}-triton",
            image_id=args.ami_id,
            instance_type=args.instance_type,
            iam_instance_profile={"arn": args.instance_profile_arn},
            vpc_security_group_ids=[args.serving_security_group_id],
            # IMDSv2 only; hop limit 2 lets the Triton container reach the metadata service.
            metadata_options={
                "http_tokens": "required",
                "http_endpoint": "enabled",
                "http_put_response_hop_limit": 2,
            },
            block_device_mappings=[
                volume(ROOT_DEVICE, args.root_volume_gb),
                volume(DATA_DEVICE, args.data_volume_gb),
            ],
            tag_specifications=[
                {"resource_type": "instance", "tags": tags},
                {"resource_type": "volume", "tags": tags},
            ],
            tags=tags,
            opts=child,
        )

        self.load_balancer = aws.lb.LoadBalancer(
            f"{name}-triton",
            load_balancer_type="network",
            internal=args.internal_load_balancer,
            subnets=args.load_balancer_subnet_ids,
            security_groups=[args.load_balancer_security_group_id],
            enable_cross_zone_load_balancing=True,
            tags=tags,
            opts=child,
        )
        self.target_groups: dict[str, aws.lb.TargetGroup] = {}
        for protocol, port in TRITON_CLIENT_PORTS.items():
            group = aws.lb.TargetGroup(
                f"{name}-{protocol}",
                port=port,
                protocol="TCP",
                vpc_id=args.vpc_id,
                target_type="instance",
                # Triton answers readiness over HTTP; the gRPC port counts as healthy when
                # the server is ready.
                health_check={
                    "protocol": "HTTP",
                    "port": str(PORTS.triton_http),
                    "path": READY_PATH,
                    "matcher": "200",
                    "interval": 10,
                    "healthy_threshold": 3,
                    "unhealthy_threshold": 3,
                },
                deregistration_delay=30,
                tags={**tags, "Name": f"{name}-{protocol}"},
                opts=child,
            )
            aws.lb.Listener(
                f"{name}-{protocol}",
                load_balancer_arn=self.load_balancer.arn,
                port=port,
                protocol="TCP",
                default_actions=[{"type": "forward", "target_group_arn": group.arn}],
                tags={**tags, "Name": f"{name}-{protocol}"},
                opts=child,
            )
            self.target_groups[protocol] = group

        self.group = aws.autoscaling.Group(
            f"{name}-triton",
            min_size=args.min_size,
            max_size=args.max_size,
            desired_capacity=args.desired_capacity,
            vpc_zone_identifiers=args.subnet_ids,
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            target_group_arns=[g.arn for g in self.target_groups.values()],
            health_check_type="EC2",
            health_check_grace_period=300,
            instance_refresh={"strategy": "Rolling", "preferences": {"min_healthy_percentage": 50}},
            tags=[
                {"key": key, "value": value, "propagate_at_launch": True}
                for key, value in sorted(tags.items())
            ],
            # The scaling policy owns the size between min and max.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desired_capacity"]),
        )
        aws.autoscaling.Policy(
            f"{name}-triton-cpu",
            autoscaling_group_name=self.group.name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration={
                "predefined_metric_specification": {
                    "predefined_metric_type": "ASGAverageCPUUtilization"
                },
                "target_value": args.target_cpu_percent,
            },
            opts=child,
        )
        self.register_outputs(
            {"load_balancer_dns": self.load_balancer.dns_name, "autoscaling_group": self.group.name}
        )
