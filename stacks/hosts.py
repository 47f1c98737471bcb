"""Self-managed EC2 hosts (trainer, self-hosted Redis), all built one way:
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
            # Retried: the NAT route or the S3 endpoint may still be settling at boot.
            "curl -fsSL --retry 30 --retry-delay 5 --retry-all-errors "
            f"-o /tmp/amazon-ssm-agent.deb {url}",
            "dpkg -i /tmp/amazon-ssm-agent.deb",
            "systemctl enable --now amazon-ssm-agent",
            "",
        )
    )


@dataclass
class HostPool:
    """What every host of one tier shares; `host()` places one of them."""

    group: str
    instance_type: str
    data_volume_gb: int
    root_volume_gb: int
    ami_id: pulumi.Input[str]
    subnet_ids: list[pulumi.Input[str]]  # one per AZ
    security_group_id: pulumi.Input[str]
    instance_profile: pulumi.Input[str]
    region: str
    tags: dict[str, str]
    # Resources the hosts' first boot needs: routes out through NAT and the S3 endpoint.
    network_ready: list[pulumi.Resource]

    def host(
        self, name: str, zone: int, parent: pulumi.Resource, labels: dict[str, str] | None = None
    ) -> aws.ec2.Instance:
        """An instance in the `zone`-th AZ (modulo the AZ count); labels become tags."""
        tags = {**self.tags, "Name": name, GROUP_TAG: self.group, **(labels or {})}
        return aws.ec2.Instance(
            name,
            ami=self.ami_id,
            instance_type=self.instance_type,
            subnet_id=self.subnet_ids[zone % len(self.subnet_ids)],
            vpc_security_group_ids=[self.security_group_id],
            iam_instance_profile=self.instance_profile,
            associate_public_ip_address=False,
            metadata_options={"http_tokens": "required", "http_endpoint": "enabled"},
            root_block_device={
                "volume_type": "gp3",
                "volume_size": self.root_volume_gb,
                "encrypted": True,
                "tags": tags,
            },
            ebs_block_devices=[
                {
                    "device_name": DATA_DEVICE,
                    "volume_type": "gp3",
                    "volume_size": self.data_volume_gb,
                    "encrypted": True,
                    "tags": tags,
                }
            ],
            user_data=ssm_agent_user_data(self.region),
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=parent,
                depends_on=self.network_ready,
                # A new AMI in the SSM parameter must not replace data hosts (and their
                # volumes) in an unrelated update: hosts are rolled deliberately.
                ignore_changes=["ami"],
            ),
        )


def describe(instance: aws.ec2.Instance, **labels: str | int) -> pulumi.Output[dict]:
    """What the inventory needs to reach a host through SSM and to place it, and the id
    of its data volume, by which the data_volume role finds that volume's disk."""
    return pulumi.Output.all(
        instance_id=instance.id,
        private_ip=instance.private_ip,
        availability_zone=instance.availability_zone,
        data_volume_id=instance.ebs_block_devices.apply(_data_volume_id),
    ).apply(lambda a: {**a, **labels})


def _data_volume_id(devices: list[aws.ec2.outputs.InstanceEbsBlockDevice]) -> str:
    (volume_id,) = (d.volume_id for d in devices if d.device_name == DATA_DEVICE)
    return volume_id
