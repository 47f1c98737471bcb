"""Turn a cloud stack's `inventory` output into an Ansible inventory for the same
playbooks the local environment uses.

Written to the environment's state directory (never committed):
  hosts.yml             trainer, redis and kafka hosts (by instance id), the SSM
                        connection, and the endpoints of managed services as variables
  triton.aws_ec2.yml    the serving hosts, found by tag at run time: they belong to an
                        auto scaling group, so no list made at deploy time stays true
The aws_ssm connection and the aws_ec2 plugin come from the amazon.aws and community.aws
collections (with boto3) on the controller. Secrets are not written here; they reach
Ansible as extra variables of a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

GROUPS = ("trainer", "redis", "kafka")


def write(document: dict[str, Any], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    hosts = directory / "hosts.yml"
    hosts.write_text(yaml.safe_dump(static_inventory(document), sort_keys=True))
    triton = directory / "triton.aws_ec2.yml"
    triton.write_text(yaml.safe_dump(serving_hosts(document), sort_keys=True))
    return [hosts, triton]


def static_inventory(document: dict[str, Any]) -> dict[str, Any]:
    connection = document["connection"]
    children: dict[str, Any] = {"triton": {}}
    for group in GROUPS:
        children[group] = {
            "hosts": {
                _host_name(group, host): {
                    "ansible_host": host["instance_id"],
                    "recstack_bind_address": host["private_ip"],
                    "availability_zone": host["availability_zone"],
                    **{k: v for k, v in host.items() if k not in _HOST_KEYS},
                }
                for host in document["groups"][group]["hosts"]
            }
        }
    return {
        "all": {
            "vars": {
                "recstack_environment": document["stack"],
                "ansible_connection": connection["plugin"],
                "ansible_aws_ssm_region": connection["region"],
                "ansible_aws_ssm_bucket_name": connection["bucket"],
                "recstack_endpoints": document["endpoints"],
                "recstack_buckets": document["buckets"],
            },
            "children": children,
        }
    }


def serving_hosts(document: dict[str, Any]) -> dict[str, Any]:
    triton = document["groups"]["triton"]
    return {
        "plugin": "amazon.aws.aws_ec2",
        "regions": [document["region"]],
        "filters": {**triton["instance_filters"], "instance-state-name": "running"},
        "hostnames": ["instance-id"],
        "groups": {"triton": "true"},
        "compose": {"ansible_host": "instance_id", "recstack_bind_address": "private_ip_address"},
    }


_HOST_KEYS = ("instance_id", "private_ip", "availability_zone")


def _host_name(group: str, host: dict[str, Any]) -> str:
    """A readable, stable inventory name: group, then shard/role or broker id, else the id."""
    labels = [host[k] for k in ("shard", "role", "broker_id") if k in host]
    return "-".join([group, *labels]) if labels else f"{group}-{host['instance_id']}"
