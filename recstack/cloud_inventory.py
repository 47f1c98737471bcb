"""Turn a cloud stack's `inventory` output into an Ansible inventory for the same
playbooks the local environment uses.

Written to the environment's state directory (never committed):
  group_vars/all.yml    the document's `variables`, unchanged: exactly what the plays
                        consume (read after inventories/common, so its values win)
  hosts.yml             trainer and redis hosts (by instance id) and the SSM connection
  triton.aws_ec2.yml    the serving hosts, found by tag at run time: they belong to an
                        auto scaling group, so no list made at deploy time stays true
The aws_ssm connection and the aws_ec2 plugin come from the amazon.aws and community.aws
collections (with boto3) on the controller. Secrets are not written here; they reach
Ansible as extra variables of a run. The variables are checked before anything is
written, so an incomplete stack output fails before any host is touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from recstack_contract.kafka import KafkaEndpoint, KafkaEndpointError
from recstack_contract.redis import FIELDS as REDIS_FIELDS
from recstack_contract.redis import MODES, RedisConnection

# The groups whose hosts the stack lists. Kafka has none on AWS (MSK runs the brokers;
# recstack_kafka says where), but every inventory has the four groups the playbooks
# address, so `kafka` stays, empty, beside `triton` (found at run time).
GROUPS = ("trainer", "redis")


class InventoryError(ValueError):
    """A stack output the playbooks could not deploy from; names the variable and the fix."""


def write(document: dict[str, Any], directory: Path) -> list[Path]:
    check_variables(document["variables"])
    written = [write_variables(document["variables"], directory)]
    hosts = directory / "hosts.yml"
    hosts.write_text(yaml.safe_dump(static_inventory(document), sort_keys=True))
    triton = directory / "triton.aws_ec2.yml"
    triton.write_text(yaml.safe_dump(serving_hosts(document), sort_keys=True))
    return [*written, hosts, triton]


def write_variables(variables: dict[str, Any], directory: Path) -> Path:
    """The stack's variables as the inventory's group_vars/all.yml."""
    path = directory / "group_vars" / "all.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(variables, sort_keys=True))
    return path


def check_variables(variables: dict[str, Any]) -> None:
    """Every variable the plays need is there and well-formed."""
    for name in REQUIRED:
        if name not in variables:
            raise InventoryError(
                f"the stack exported no {name}: the playbooks need it → run `recstack up` "
                "with this version of the kit so the stack exports it (stacks/inventory.py)"
            )
    mode = variables["recstack_redis_mode"]
    if mode not in MODES:
        raise InventoryError(
            f"recstack_redis_mode {mode!r} is unknown to the playbooks → use one of "
            f"{', '.join(MODES)}"
        )
    missing = sorted(set(REDIS_FIELDS) - set(variables["recstack_redis"]))
    if missing:
        raise InventoryError(
            f"recstack_redis has no {missing[0]}: a stack exports every field of the "
            f"connection ({', '.join(REDIS_FIELDS)}) → rerun `recstack up` with this version"
        )
    try:
        RedisConnection.from_mapping(variables["recstack_redis"])
    except (TypeError, ValueError) as error:
        raise InventoryError(f"recstack_redis: {error}") from None
    try:
        KafkaEndpoint.from_mapping(variables["recstack_kafka"])
    except KafkaEndpointError as error:
        raise InventoryError(f"recstack_kafka: {error}") from None
    hosts = variables["recstack_triton_hosts"]
    if not isinstance(hosts, list) or not hosts:
        raise InventoryError(
            "recstack_triton_hosts must list where clients reach Triton (the load "
            f"balancer's address), got {hosts!r}"
        )


REQUIRED = (
    "recstack_environment",
    "recstack_redis_mode",
    "recstack_redis",
    "recstack_kafka",
    "recstack_triton_hosts",
)


def static_inventory(document: dict[str, Any]) -> dict[str, Any]:
    connection = document["connection"]
    children: dict[str, Any] = {"triton": {}, "kafka": {}}
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
                # SSM sessions run as ssm-user; the roles install and configure as root.
                "recstack_become": True,
                "ansible_connection": connection["plugin"],
                "ansible_aws_ssm_region": connection["region"],
                "ansible_aws_ssm_bucket_name": connection["bucket"],
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
    """A readable, stable inventory name: group, then shard and role, else the id."""
    labels = [str(host[k]) for k in ("redis_shard", "redis_shard_role") if k in host]
    return "-".join([group, *labels]) if labels else f"{group}-{host['instance_id']}"
