"""The one document the Ansible side needs, exported as the stack output `inventory`.

`variables` holds exactly what the playbooks consume, under the names they consume it:
`recstack/cloud_inventory.py` writes it unchanged as the inventory's group_vars, so no
value is translated or dropped on the way. Hosts are listed per Ansible group with
their instance ids (Ansible reaches them through SSM Session Manager, copying files
through the transfer bucket). Serving hosts belong to an auto scaling group, so the
document gives the tag filter that finds them at deploy time. Kafka has no hosts: MSK
runs the brokers, and `recstack_kafka` says how to reach them. Secrets are not in it:
the Redis password is a secret output of its own.
"""

from __future__ import annotations

from typing import Any

import pulumi

from hosts import GROUP_TAG
from recstack_contract.redis import ACL_USER


def inventory_document(
    *,
    stack: str,
    region: str,
    transfer_bucket: pulumi.Input[str],
    autoscaling_group: pulumi.Input[str],
    load_balancer_dns: pulumi.Input[str],
    trainer_hosts: pulumi.Input[list[dict]],
    redis_hosts: pulumi.Input[list[dict]],
    redis_mode: str,
    redis: pulumi.Input[dict[str, Any]],
    redis_cluster_replicas: int,
    kafka: pulumi.Input[dict[str, Any]],
) -> pulumi.Output[dict[str, Any]]:
    return pulumi.Output.all(
        transfer_bucket=transfer_bucket,
        autoscaling_group=autoscaling_group,
        load_balancer_dns=load_balancer_dns,
        trainer_hosts=trainer_hosts,
        redis_hosts=redis_hosts,
        redis=redis,
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
            },
            "variables": {
                "recstack_environment": stack,
                "recstack_redis_mode": redis_mode,
                "recstack_redis": a["redis"],
                "recstack_kafka": a["kafka"],
                # Clients reach Triton through the load balancer.
                "recstack_triton_hosts": [a["load_balancer_dns"]],
                # The serving fleet's instance type has a GPU (validated in stack_config).
                "recstack_serving_gpu": True,
                **_server_variables(redis_mode, redis_cluster_replicas),
            },
        }
    )


def _server_variables(redis_mode: str, replicas: int) -> dict[str, Any]:
    """What the redis role needs to run the kit's own cluster on the `redis` hosts;
    managed Redis has no server for a role to configure."""
    if redis_mode != "selfhosted":
        return {}
    return {
        "redis_cluster_enabled": True,
        "redis_cluster_replicas": replicas,
        "redis_acl_user": ACL_USER,
    }
