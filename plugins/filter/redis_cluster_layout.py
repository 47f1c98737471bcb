"""The shape of the Redis cluster the redis role forms: which node masters which shard,
and which master each replica follows.

`redis-cli --cluster create --cluster-replicas N` places replicas by itself and only
keeps a replica off its master's IP address; it knows nothing of availability zones. The
stacks place each shard's copies in different AZs and say so per host (`redis_shard`,
`redis_shard_role`); the role forms the cluster from exactly that layout: the masters
first, then each replica attached to its own shard's master. Hosts that say nothing get
a layout derived from their order in the play (the first masters, then replicas round
robin), so every environment forms its cluster the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

ROLES = ("master", "replica")
MIN_MASTERS = 3  # Redis Cluster needs three masters to agree on a failover.


class LayoutError(ValueError):
    """A layout no cluster can have; says which host or shard and what to set."""


def redis_cluster_layout(
    play_hosts: Sequence[str], hostvars: Mapping[str, Mapping[str, Any]], replicas: int
) -> dict[str, Any]:
    """The filter: cluster_layout's answer, its refusals as Ansible's filter errors."""
    # Imported here: importing Ansible patches the interpreter (sys.intern), which the
    # layout's tests, running in one process with torch, must not get.
    from ansible.errors import AnsibleFilterError

    try:
        return cluster_layout(play_hosts, hostvars, replicas)
    except LayoutError as error:
        raise AnsibleFilterError(str(error)) from None


def cluster_layout(
    play_hosts: Sequence[str], hostvars: Mapping[str, Mapping[str, Any]], replicas: int
) -> dict[str, Any]:
    """{"masters": [host by shard], "replicas": [{"host", "master"}]} (inventory names)."""
    replicas = int(replicas)
    # Unset and null (the role's default) both mean "not declared".
    labelled = [
        h
        for h in play_hosts
        if hostvars[h].get("redis_shard") is not None
        or hostvars[h].get("redis_shard_role") is not None
    ]
    if not labelled:
        return _derived(list(play_hosts), replicas)
    unlabelled = [h for h in play_hosts if h not in labelled]
    if unlabelled:
        raise LayoutError(
            f"redis_shard and redis_shard_role are set on {', '.join(labelled)} but not on "
            f"{', '.join(unlabelled)}: set both on every Redis host, or on none (the role then "
            "derives the layout from the play's order)."
        )
    return _declared(
        [
            (h, hostvars[h].get("redis_shard"), hostvars[h].get("redis_shard_role"))
            for h in play_hosts
        ],
        replicas,
    )


def _derived(hosts: list[str], replicas: int) -> dict[str, Any]:
    copies = 1 + replicas
    if len(hosts) % copies or len(hosts) // copies < MIN_MASTERS:
        raise LayoutError(
            f"{len(hosts)} Redis hosts cannot form a cluster of masters with "
            f"redis_cluster_replicas={replicas} each: the play needs a multiple of {copies} "
            f"hosts, at least {MIN_MASTERS * copies}."
        )
    masters = hosts[: len(hosts) // copies]
    followers = hosts[len(masters) :]
    return {
        "masters": masters,
        "replicas": [
            {"host": host, "master": masters[index % len(masters)]}
            for index, host in enumerate(followers)
        ],
    }


def _declared(hosts: list[tuple[str, Any, Any]], replicas: int) -> dict[str, Any]:
    shards: dict[int, dict[str, list[str]]] = {}
    for host, shard, role in hosts:
        if role not in ROLES:
            raise LayoutError(
                f"{host}: redis_shard_role is {role!r}; it must be one of {', '.join(ROLES)}."
            )
        try:
            number = int(shard)
        except (TypeError, ValueError):
            raise LayoutError(
                f"{host}: redis_shard is {shard!r}; it must be the shard's number (0, 1, ...)."
            ) from None
        shards.setdefault(number, {"master": [], "replica": []})[role].append(host)
    if sorted(shards) != list(range(len(shards))) or len(shards) < MIN_MASTERS:
        raise LayoutError(
            f"redis_shard numbers {sorted(shards)}: the shards must be numbered 0 to N-1, "
            f"with N at least {MIN_MASTERS}."
        )
    for number, members in sorted(shards.items()):
        if len(members["master"]) != 1 or len(members["replica"]) != replicas:
            raise LayoutError(
                f"Shard {number} has {len(members['master'])} master(s) "
                f"({', '.join(members['master']) or 'none'}) and {len(members['replica'])} "
                f"replica(s); every shard needs exactly one master and "
                f"redis_cluster_replicas={replicas} replicas."
            )
    return {
        "masters": [shards[n]["master"][0] for n in sorted(shards)],
        "replicas": [
            {"host": host, "master": shards[n]["master"][0]}
            for n in sorted(shards)
            for host in shards[n]["replica"]
        ],
    }


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"redis_cluster_layout": redis_cluster_layout}
