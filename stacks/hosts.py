"""Self-managed EC2 hosts (trainer, self-hosted Redis and Kafka), all built one way:
private subnet, no public address, IMDSv2 only, encrypted gp3 root and data volumes, the
SSM agent (the only way in), and tags that name the Ansible group."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

DATA_DEVICE = "/dev/sdf"
GROUP_TAG = "recstack:group"


def ssm_agent_user_data(region: str) -> str:
    # Debian AMIs ship without the SSM agent; its package comes from the region's own
    # bucket (reached through the S3 gateway endpoint).
    url = f"https://s3.{region}.amazonaws.com/amazon-ssm-{region}/latest/debian_amd64/amazon-ssm-agent.deb"
    return "\n".join(
        (
            "#!/bin/bash",
            "set -euo pipefail",
            f"curl -fsSL -o /tmp/amazon-ssm-agent.deb {url}",
            "dpkg -i /tmp/amazon-ssm-agent.deb",
            "systemctl enable --now amazon-ssm-agent",
            "",
        )
    )


@dataclass
class HostSpec:
    """One host; `extra_tags` say what it is to Ansible (group, shard, role)."""

    name: str
    group: str
    instance_type: str
    subnet_id: pulumi.Input[str]
    security_group_id: pulumi.Input[str]
    instance_profile: pulumi.Input[str]
    ami_id: pulumi.Input[str]
    region: str
    root_volume_gb: int
    data_volume_gb: int
    tags: dict[str, str]
    extra_tags: dict[str, str] | None = None


def host(spec: HostSpec, parent: pulumi.Resource) -> aws.ec2.Instance:
    tags = {**spec.tags, "Name": spec.name, GROUP_TAG: spec.group, **(spec.extra_tags or {})}
    return aws.ec2.Instance(
        spec.name,
        ami=spec.ami_id,
        instance_type=spec.instance_type,
        subnet_id=spec.subnet_id,
        vpc_security_group_ids=[spec.security_group_id],
        iam_instance_profile=spec.instance_profile,
        associate_public_ip_address=False,
        metadata_options={"http_tokens": "required", "http_endpoint": "enabled"},
        root_block_device={
            "volume_type": "gp3",
            "volume_size": spec.root_volume_gb,
            "encrypted": True,
            "tags": tags,
        },
        ebs_block_devices=[
            {
                "device_name": DATA_DEVICE,
                "volume_type": "gp3",
                "volume_size": spec.data_volume_gb,
                "encrypted": True,
                "tags": tags,
            }
        ],
        user_data=ssm_agent_user_data(spec.region),
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def describe(instance: aws.ec2.Instance, **labels: str) -> pulumi.Output[dict]:
    """What the inventory needs to reach a host through SSM and to place it."""
    return pulumi.Output.all(
        instance_id=instance.id,
        private_ip=instance.private_ip,
        availability_zone=instance.availability_zone,
    ).apply(lambda a: {**a, **labels})
