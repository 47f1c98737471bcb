"""Per-group host checks over the environment's Ansible inventory (testinfra): the
service's process runs as its user, listens where clients expect it, its configuration
is in place, and it owns its data. Failures name the host, the component and what to
check first."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import pytest
import testinfra

from pipelines.serving.hps_rocksdb import MARKER as ROCKSDB_MARKER
from pipelines.serving.spec import SPEC_FILE
from recstack import health
from recstack.endpoints import Endpoints
from recstack.environments import Environment
from recstack_contract import hps
from recstack_contract.ports import PORTS


@dataclass(frozen=True)
class Service:
    process: str
    user: str
    config_files: tuple[str, ...]
    data_dir: str | None = None


def _program(group: str) -> str:
    # How the kit supervises each service where there is no systemd (its CI, local).
    return f"/etc/supervisor/conf.d/recstack-{group}.conf"


SERVICES = {
    "redis": Service(
        "redis-server",
        "redis",
        ("/etc/recstack/redis/redis.conf", _program("redis")),
        "/var/lib/recstack/redis",
    ),
    "kafka": Service("tansu", "recstack", (_program("kafka"),)),
    "triton": Service("tritonserver", "recstack", (_program("triton"),)),
}


@functools.cache
def _hosts(inventory: str, group: str) -> tuple:
    return tuple(testinfra.get_hosts([f"ansible://{group}"], ansible_inventory=inventory))


@pytest.fixture(scope="module")
def hosts_of(environment: Environment):
    return lambda group: _hosts(str(environment.inventory), group)


def _ports(where: Endpoints, group: str) -> list[int]:
    return {
        "redis": [where.redis_port],
        "kafka": [PORTS.kafka],
        "triton": [where.triton_http_port, where.triton_grpc_port, where.triton_metrics_port],
    }[group]


def _run(host, command: str) -> str:
    result = host.run(command)
    assert result.rc == 0, f"{host.backend.hostname}: `{command}` failed: {result.stderr}"
    return result.stdout


@pytest.mark.parametrize("group", sorted(SERVICES))
def test_service_process_runs_as_its_user(hosts_of, group: str) -> None:
    service = SERVICES[group]
    for host in hosts_of(group):
        users = sorted(set(host.run(f"ps -C {service.process} -o user=").stdout.split()))
        assert users, (
            f"{group} on {host.backend.hostname}: no {service.process} process → "
            f"{health.service_hint(group)}"
        )
        assert users == [service.user], (
            f"{group} on {host.backend.hostname}: {service.process} runs as {users}, expected "
            f"{service.user} → check the program's user in {_program(group)}"
        )


@pytest.mark.parametrize("group", sorted(SERVICES))
def test_service_listens_where_clients_connect(hosts_of, where: Endpoints, group: str) -> None:
    for host in hosts_of(group):
        address = host.ansible.get_variables().get("recstack_bind_address", "127.0.0.1")
        # Local addresses of listening TCP sockets; gRPC binds IPv4 as IPv4-mapped IPv6.
        listening = {
            line.split()[3].replace("[::ffff:", "").replace("]", "")
            for line in _run(host, "ss -ltnH").splitlines()
        }
        for port in _ports(where, group):
            assert f"{address}:{port}" in listening, (
                f"{group} on {host.backend.hostname}: nothing listens on {address}:{port} → "
                f"is recstack-{group} running and bound to {address}?"
            )


@pytest.mark.parametrize("group", sorted(SERVICES))
def test_service_configuration_and_data_are_in_place(hosts_of, group: str) -> None:
    """Configuration files root-owned and not writable by others; the data directory
    owned by the service's user (or it cannot write)."""
    service = SERVICES[group]
    paths = [*service.config_files, *([service.data_dir] if service.data_dir else [])]
    for host in hosts_of(group):
        result = host.run("stat -c '%n|%U|%a|%F' " + " ".join(paths))
        found = {line.split("|")[0]: line.split("|")[1:] for line in result.stdout.splitlines()}
        for path in paths:
            assert path in found, (
                f"{group} on {host.backend.hostname}: {path} is missing → rerun `recstack up` "
                "and check its output"
            )
            owner, mode, kind = found[path]
            if path == service.data_dir:
                assert kind == "directory" and owner == service.user, (
                    f"{group} on {host.backend.hostname}: {path} belongs to {owner}, not "
                    f"{service.user} → the service cannot write its data; rerun `recstack up`"
                )
            else:
                assert owner == "root" and not int(mode, 8) & 0o002, (
                    f"{group} on {host.backend.hostname}: {path} ({owner}, {mode}) must be "
                    "root's and not writable by others → rerun `recstack up`"
                )


def test_trainers_hold_the_pipelines_and_keep_the_redis_password_private(hosts_of) -> None:
    """The trainer runs no service: its pipeline environment and config are in place, and
    the Redis password file the steps read is root's alone."""
    paths = {
        "/etc/recstack/pipeline.yml": "644",
        "/opt/recstack/app/venv/bin/python": None,
        "/opt/recstack/app/redis-password": "600",
    }
    for host in hosts_of("trainer"):
        found = {
            line.split("|")[0]: line.split("|")[1:]
            for line in host.run("stat -L -c '%n|%U|%a' " + " ".join(paths)).stdout.splitlines()
        }
        for path, mode in paths.items():
            assert path in found, (
                f"trainer on {host.backend.hostname}: {path} is missing → rerun `recstack up` "
                "and check the pipelines play"
            )
            owner, actual = found[path]
            assert owner == "root" and (mode is None or actual == mode), (
                f"trainer on {host.backend.hostname}: {path} is {owner}, mode {actual}; expected "
                f"root, mode {mode} → rerun `recstack up`"
            )


def test_serving_hosts_hold_the_deployed_table_in_their_rocksdb_tier(
    hosts_of, deployed_model: dict[str, str]
) -> None:
    """Each Triton host loaded the deployed model's embedding table into its own RocksDB
    (HPS's persistent tier), which the marker beside the database records."""
    for host in hosts_of("triton"):
        repository = host.ansible.get_variables().get(
            "triton_model_repository", "/var/lib/recstack/model_repository"
        )
        spec = json.loads(host.file(f"{repository}/scoring/1/{SPEC_FILE}").content_string)
        marker = host.file(f"{spec['hps_rocksdb_dir']}/{ROCKSDB_MARKER}")
        assert marker.exists, (
            f"triton on {host.backend.hostname}: no RocksDB tier at {spec['hps_rocksdb_dir']} → "
            "check the task that loads it in the serving play of `recstack up`"
        )
        loaded = json.loads(marker.content_string)
        assert loaded == {"model_version": deployed_model["version"], "table": hps.table_tag()}, (
            f"triton on {host.backend.hostname}: its RocksDB tier holds {loaded}, not the "
            f"deployed {deployed_model['version']} → rerun `recstack up`"
        )
