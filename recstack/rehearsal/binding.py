"""Bind a cloud stack's `inventory` output to the testbed's hosts.

The rehearsal runs the stack's own variables (stacks/inventory.py) unchanged, except
for what names a machine or a service that exists only on AWS. Those substitutions are
the whole binding, and each is written here:

- hosts: instance ids and private addresses become testbed hosts and their addresses
  (stack trainers → trainer hosts, stack Redis nodes → redis hosts, the serving auto
  scaling group → every triton host), reached over SSH in place of SSM;
- Triton's load balancer (`recstack_triton_hosts`) → the triton hosts themselves, which
  have no GPU (`recstack_serving_gpu` false: they get the CPU build);
- `recstack_environment` → the rehearsal's own name, so that nothing it records lands
  in the real stack's state directory;
- managed Redis (ElastiCache, Redis Cloud): a stand-in with the same client path — TLS
  with verification and the AUTH token of the default user, a cluster when the stack
  says cluster — on the redis hosts; its addresses replace the service's, and `ca_file`
  names the rehearsal's CA where AWS clients use the system trust store;
- MSK: its authentication cannot run here (`pipelines/streaming/README.md` says what is
  tested instead), so clients reach the kit's broker on a kafka host over plain TCP;
- EBS data volumes: a loop device per volume id (volumes.py), linked where udev links an
  EBS volume (`data_volume_by_id_dir` names a directory in the host's own /run);
- the models bucket: the trainer exports the model repository into the testbed's
  shared directory, which every serving host reads (as on the testbed); on AWS nothing
  copies it from the bucket to the serving fleet yet;
- the Redis password: the environment's own generated secret in place of the stack's.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recstack import cloud_inventory
from recstack.testbed import plan
from recstack_contract.kafka import KafkaEndpoint
from recstack_contract.ports import PORTS

# Where hosts and the controller find the stand-in CA (the same path on both).
CA_FILE = Path("/etc/recstack/rehearsal/ca.pem")
# Where the stand-in EBS links live on each host (its /run is its own).
VOLUME_LINKS = Path("/run/recstack-rehearsal/by-id")
# Groups of the stand-ins for managed services; site.yml never names them.
STAND_IN_REDIS = "rehearsal_redis"
STAND_IN_BROKER = "rehearsal_broker"


class BindingError(ValueError):
    """The stack does not fit on the testbed."""


@dataclass(frozen=True)
class Binding:
    hosts: dict[str, Any]  # the inventory's hosts.yml
    variables: dict[str, Any]  # its group_vars/all.yml
    # Stand-in servers for managed Redis: (inventory name, address); empty when the
    # stack runs its own Redis.
    redis_stand_ins: tuple[tuple[str, str], ...]


def bind(
    document: dict[str, Any],
    environment: str,
    connection: dict[str, Any],
    model_repository: Path,
) -> Binding:
    """The rehearsal inventory `environment` for `document`; `connection` are the SSH
    variables and `model_repository` the shared directory standing in for the models
    bucket."""
    testbed = plan.by_group()
    address_of: dict[str, str] = {}
    children: dict[str, Any] = {}
    static = cloud_inventory.static_inventory(document)["all"]["children"]
    for group in cloud_inventory.GROUPS:
        hosts = static[group].get("hosts", {})
        if len(hosts) > len(testbed[group]):
            raise BindingError(
                f"the stack has {len(hosts)} {group} hosts, the testbed {len(testbed[group])}"
            )
        bound = {}
        for (name, host), target in zip(hosts.items(), testbed[group], strict=False):
            address_of[host["recstack_bind_address"]] = str(target.address)
            bound[name] = {**host, **_at(target)}
        children[group] = {"hosts": bound}
    children["triton"] = {"hosts": {h.name: _at(h) for h in testbed["triton"]}}
    children["kafka"] = {}

    variables = copy.deepcopy(document["variables"])
    redis = variables["recstack_redis"]
    stand_ins: tuple[tuple[str, str], ...] = ()
    if variables["recstack_redis_mode"] == "selfhosted":
        redis["hosts"] = [address_of[a] for a in redis["hosts"]]
    else:
        servers = testbed["redis"] if redis["cluster"] else testbed["redis"][:1]
        stand_ins = tuple((h.name, str(h.address)) for h in servers)
        redis["hosts"] = [address for _, address in stand_ins]
        redis["ca_file"] = str(CA_FILE)
        children[STAND_IN_REDIS] = {"hosts": {h.name: _at(h) for h in servers}}
    (broker,) = testbed["kafka"]
    children[STAND_IN_BROKER] = {"hosts": {broker.name: _at(broker)}}
    # The stand-in broker takes PLAINTEXT: the endpoint's defaults.
    variables["recstack_kafka"] = KafkaEndpoint(f"{broker.address}:{PORTS.kafka}").as_mapping()
    variables["recstack_triton_hosts"] = [str(h.address) for h in testbed["triton"]]
    variables["recstack_serving_gpu"] = False
    variables["recstack_environment"] = environment
    variables["triton_model_repository"] = str(model_repository)
    variables["data_volume_by_id_dir"] = str(VOLUME_LINKS)
    hosts = {"all": {"vars": connection, "children": children}}
    return Binding(hosts, variables, stand_ins)


def _at(host: plan.Host) -> dict[str, str]:
    address = str(host.address)
    return {"ansible_host": address, "recstack_bind_address": address}
