"""The one document the Ansible side needs, exported as the stack output `inventory`.

Hosts are listed per Ansible group with their instance ids (Ansible reaches them through
SSM Session Manager, copying files through the transfer bucket). Serving hosts belong to
an auto scaling group, so the document gives the tag filter that finds them at deploy
time. Secrets are not in it: the Redis password is its own secret output.
"""

from __future__ import annotations

from typing import Any

import pulumi

from hosts import GROUP_TAG
from security import TRITON_PORTS


def inventory_document(
    *,
    stack: str,
    region: str,
    transfer_bucket: pulumi.Input[str],
    buckets: dict[str, pulumi.Input[str]],
    autoscaling_group: pulumi.Input[str],
    load_balancer_dns: pulumi.Input[str],
    trainer_hosts: pulumi.Input[list[dict]],
    redis_hosts: pulumi.Input[list[dict]],
    redis: pulumi.Input[dict[str, Any]],
    kafka_hosts: pulumi.Input[list[dict]],
    kafka: pulumi.Input[dict[str, Any]],
) -> pulumi.Output[dict[str, Any]]:
    return pulumi.Output.all(
        transfer_bucket=transfer_bucket,
        buckets=buckets,
        autoscaling_group=autoscaling_group,
        load_balancer_dns=load_balancer_dns,
        trainer_hosts=trainer_hosts,
        redis_hosts=redis_hosts,
        redis=redis,
        kafka_hosts=kafka_hosts,
        kafka=kafka,
    ).apply(
        lambda a: {
            "stack": stack,
            "region": region,
            "connection": {
                "plugin": "community.aws.aws_ssm",
                "region": region,
                "bucket": a["transfer_bucket"],
            },
            "groups": {
                "triton": {
                    "autoscaling_group": a["autoscaling_group"],
                    "instance_filters": {f"tag:{GROUP_TAG}": "triton", "tag:stack": stack},
                },
                "trainer": {"hosts": a["trainer_hosts"]},
                "redis": {"hosts": a["redis_hosts"]},
                "kafka": {"hosts": a["kafka_hosts"]},
            },
            "endpoints": {
                "triton": {
                    "load_balancer": a["load_balancer_dns"],
                    "http_port": TRITON_PORTS["http"],
                    "grpc_port": TRITON_PORTS["grpc"],
                },
                "redis": a["redis"],
                "kafka": a["kafka"],
            },
            "buckets": a["buckets"],
        }
    )
