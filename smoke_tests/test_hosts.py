"""Per-group host checks over the environment's Ansible inventory (testinfra): the
service's process runs as its user, listens where clients expect it, and owns its data."""

from __future__ import annotations

import pytest
import testinfra

from recstack import health
from recstack.endpoints import Endpoints
from recstack.environments import Environment

# group -> (process name, user, data directory or None)
SERVICES = {
    "redis": ("redis-server", "redis", "/var/lib/recstack/redis"),
    "kafka": ("tansu", "recstack", None),
    "triton": ("tritonserver", "recstack", None),
}


def _hosts(environment: Environment, group: str) -> list:
    return testinfra.get_hosts([f"ansible://{group}"], ansible_inventory=str(environment.inventory))


def _ports(where: Endpoints, group: str) -> list[int]:
    return {
        "redis": [where.redis_port],
        "kafka": [where.kafka_port],
        "triton": [where.triton_http_port, where.triton_grpc_port, where.triton_metrics_port],
    }[group]


@pytest.mark.parametrize("group", sorted(SERVICES))
def test_service_process_runs_as_its_user(environment: Environment, group: str) -> None:
    name, user, _ = SERVICES[group]
    for host in _hosts(environment, group):
        processes = host.process.filter(comm=name)
        assert processes, (
            f"{group} on {host.backend.hostname}: no {name} process → {health.service_hint(group)}"
        )
        users = sorted({p.user for p in processes})
        assert users == [user], (
            f"{group} on {host.backend.hostname}: {name} runs as {users}, expected {user} → "
            f"check the program's user in /etc/supervisor/conf.d/recstack-{group}.conf"
        )


@pytest.mark.parametrize("group", sorted(SERVICES))
def test_service_listens_where_clients_connect(
    environment: Environment, where: Endpoints, group: str
) -> None:
    for host in _hosts(environment, group):
        address = host.ansible.get_variables().get("recstack_bind_address", "127.0.0.1")
        for port in _ports(where, group):
            # gRPC servers bind IPv4 addresses as IPv4-mapped IPv6 sockets.
            specs = (f"tcp://{address}:{port}", f"tcp://::ffff:{address}:{port}")
            assert any(host.socket(spec).is_listening for spec in specs), (
                f"{group} on {host.backend.hostname}: nothing listens on {address}:{port} → "
                f"is recstack-{group} running and bound to {address}?"
            )


def test_redis_data_directory_belongs_to_redis(environment: Environment) -> None:
    _, user, data_dir = SERVICES["redis"]
    for host in _hosts(environment, "redis"):
        directory = host.file(data_dir)
        assert directory.is_directory, (
            f"redis on {host.backend.hostname}: {data_dir} is missing → the redis role creates "
            "it; rerun `recstack up` and check its output"
        )
        assert directory.user == user, (
            f"redis on {host.backend.hostname}: {data_dir} belongs to {directory.user}, not "
            f"{user} → Redis cannot write its append-only file; rerun `recstack up`"
        )
