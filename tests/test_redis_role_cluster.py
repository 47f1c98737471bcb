"""roles/redis forms a TLS cluster and restarts it one node at a time.

Three throwaway nodes (127.0.0.2-4, one port) run the role's rendered configuration with
TLS and a password. The role's own tasks/cluster.yml forms them into a 3-master cluster
over the TLS cluster bus, and tasks/restart.yml rotates their password: a stand-in for
supervised_service's restart records how the cluster looked, then restarts the node
with the new password (DEBUG RESTART re-reads the config file in the same process).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from redis.backoff import NoBackoff
from redis.retry import Retry
from test_redis_role_harness import (
    PASSWORD,
    Nodes,
    changed_per_host,
    free_port,
    make_ca,
    needs_redis_server,
    render,
    role_tasks,
    run_playbook,
    start_on_loopback,
)

pytestmark = needs_redis_server

ADDRESSES = {"node1": "127.0.0.2", "node2": "127.0.0.3", "node3": "127.0.0.4"}
ROTATED = "r0tated-Pass_word.Redis"

# --- the stand-in for supervised_service's restart.yml ----------------------------------
# The stub role runs this file as a script (see the end): it records every node's view,
# then restarts this host's node with the password of this run.


def _stub_client(spec: dict[str, Any], address: str, password: str) -> redis.Redis:
    return redis.Redis(
        address,
        spec["port"],
        password=password,
        ssl=True,
        ssl_ca_certs=spec["ca"],
        socket_timeout=3,
        decode_responses=True,
        # One attempt: a refused password is an answer here, not a reason to back off.
        retry=Retry(NoBackoff(), 0),
    )


def _stub_view(spec: dict[str, Any], address: str) -> dict[str, Any]:
    """CLUSTER INFO (as a dict) and CLUSTER NODES of one node, with whichever password
    of this run (new first, then previous) it takes."""
    for password in spec["passwords"]:
        try:
            node = _stub_client(spec, address, password)
            info = node.execute_command("CLUSTER", "INFO").split()
            return {
                "info": dict(line.split(":", 1) for line in info),
                "nodes": node.execute_command("CLUSTER", "NODES"),
            }
        except redis.AuthenticationError:
            continue
        except (redis.ConnectionError, redis.ResponseError) as error:
            return {"error": str(error)}
    return {"error": "no password accepted"}


def _stub_healthy(view: dict[str, Any]) -> bool:
    """Whole, every slot served, no node failing, disconnected or unmet."""
    info = view.get("info", {})
    return (
        info.get("cluster_state") == "ok"
        and info.get("cluster_known_nodes") == "3"
        and info.get("cluster_slots_ok") == "16384"
        and not any(flag in view["nodes"] for flag in ("fail", "disconnected", "handshake"))
    )


def _stub_restart(host: str, spec_file: str) -> None:
    spec = json.loads(Path(spec_file).read_text())
    views = {name: _stub_view(spec, address) for name, address in spec["addresses"].items()}
    record = {"host": host, "healthy": all(map(_stub_healthy, views.values())), "views": views}
    with Path(spec["log"]).open("a") as log:
        log.write(json.dumps(record) + "\n")
    new = spec["passwords"][0]
    for password in spec["passwords"]:
        node = _stub_client(spec, spec["addresses"][host], password)
        try:
            node.ping()
        except redis.AuthenticationError:
            continue
        # DEBUG RESTART writes the running configuration back to its file, then
        # re-executes the server in the same process, dropping the connection.
        node.config_set("requirepass", new)
        node.config_set("masterauth", new)
        with contextlib.suppress(redis.ConnectionError):
            node.execute_command("DEBUG", "RESTART")
        return
    raise RuntimeError(f"{host}: no password accepted")


@dataclass(frozen=True)
class TlsCluster:
    workdir: Path
    port: int
    ca_file: str
    configs: dict[str, str]
    variables: dict[str, Any]

    @property
    def hosts(self) -> dict[str, dict[str, Any]]:
        return {name: {"recstack_bind_address": a} for name, a in ADDRESSES.items()}

    def client(self, host: str, password: str) -> redis.Redis:
        return redis.Redis(
            ADDRESSES[host],
            self.port,
            password=password,
            ssl=True,
            ssl_ca_certs=self.ca_file,
            ssl_cert_reqs="required",
            socket_timeout=5,
        )


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsCluster]:
    tmp = tmp_path_factory.mktemp("tls-cluster")
    ca = make_ca(tmp, "test-ca")
    cert, key = ca.issue("nodes", list(ADDRESSES.values()))
    addresses = list(ADDRESSES.values())
    port = free_port(addresses)
    bus = free_port(addresses)
    for name in ADDRESSES:
        (tmp / name).mkdir()
    variables = {
        "redis_cluster_enabled": True,
        "redis_cluster_replicas": 0,
        "redis_password": PASSWORD,
        "redis_tls_enabled": True,
        "redis_tls_cert_file": str(cert),
        "redis_tls_key_file": str(key),
        "redis_tls_ca_file": str(ca.cert_file),
        "redis_port": port,
        "redis_cluster_port": bus,
        "redis_data_dir": f"{tmp}/{{{{ inventory_hostname }}}}",
    }
    hosts = {name: {"recstack_bind_address": a} for name, a in ADDRESSES.items()}
    rendered = render(tmp / "render", variables, hosts)
    nodes = Nodes()
    try:
        # DEBUG RESTART stands in for the service manager's restart.
        configs = start_on_loopback(
            nodes, tmp, rendered, ADDRESSES, port, ["enable-debug-command yes"]
        )
        yield TlsCluster(tmp, port, str(ca.cert_file), configs, variables)
    finally:
        nodes.stop()


def _form(cluster: TlsCluster, name: str) -> subprocess.CompletedProcess[str]:
    return run_playbook(
        cluster.workdir / name, [role_tasks("cluster.yml")], cluster.variables, cluster.hosts
    )


def _cluster_info(cluster: TlsCluster, host: str, password: str) -> list[str]:
    """The node's CLUSTER INFO lines (the command's raw answer)."""
    return cluster.client(host, password).execute_command("CLUSTER", "INFO").decode().split()


def test_the_role_forms_a_cluster_over_the_tls_bus(tls_cluster: TlsCluster) -> None:
    run = _form(tls_cluster, "form")
    assert run.returncode == 0, run.stdout + run.stderr
    assert PASSWORD not in run.stdout + run.stderr
    # One creation, run once.
    assert sorted(changed_per_host(run.stdout).values()) == [0, 0, 1]
    for host in ADDRESSES:
        info = _cluster_info(tls_cluster, host, PASSWORD)
        assert {"cluster_state:ok", "cluster_known_nodes:3", "cluster_slots_ok:16384"} <= set(info)
    # A key lands on its slot's master, through TLS, wherever it lives.
    client = redis.RedisCluster(
        host=ADDRESSES["node1"],
        port=tls_cluster.port,
        password=PASSWORD,
        ssl=True,
        ssl_ca_certs=tls_cluster.ca_file,
    )
    try:
        for index in range(20):
            client.set(f"recstack:test:{index}", index)
        assert client.get("recstack:test:7") == b"7"
    finally:
        client.close()


def test_a_second_run_leaves_the_whole_cluster_alone(tls_cluster: TlsCluster) -> None:
    run = _form(tls_cluster, "again")
    assert run.returncode == 0, run.stdout + run.stderr
    assert set(changed_per_host(run.stdout).values()) == {0}


def _restart(
    cluster: TlsCluster, name: str, changed: set[str], passwords: list[str]
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """tasks/restart.yml as if `changed` hosts had a changed configuration and none was
    just started, with the stub as supervised_service; the stub's records."""
    workdir = cluster.workdir / name
    stub = workdir / "roles" / "supervised_service" / "tasks"
    stub.mkdir(parents=True)
    log = workdir / "restarts.jsonl"
    spec = workdir / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "addresses": ADDRESSES,
                "port": cluster.port,
                "ca": cluster.ca_file,
                "passwords": passwords,
                "configs": cluster.configs,
                "log": str(log),
            }
        )
    )
    (stub / "restart.yml").write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Restart the throwaway node",
                    "ansible.builtin.command": {
                        "argv": [
                            sys.executable,
                            str(Path(__file__).resolve()),
                            "{{ inventory_hostname }}",
                            str(spec),
                        ]
                    },
                    "changed_when": True,
                }
            ]
        )
    )
    hosts = {
        host: {
            **values,
            "redis__config": {"changed": host in changed},
            "supervised_service_started": False,
        }
        for host, values in cluster.hosts.items()
    }
    variables = {**cluster.variables, "redis_password": passwords[0]}
    run = run_playbook(workdir, [role_tasks("restart.yml")], variables, hosts)
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return run, records


def test_a_rotated_password_restarts_one_node_at_a_time(tls_cluster: TlsCluster) -> None:
    run, records = _restart(tls_cluster, "rotate", set(ADDRESSES), [ROTATED, PASSWORD])
    assert run.returncode == 0, run.stdout + run.stderr
    assert ROTATED not in run.stdout + run.stderr
    assert [r["host"] for r in records] == ["node1", "node2", "node3"]
    # Before each restart the previous node was back and every node agreed.
    unhealthy = [r for r in records if not r["healthy"]]
    assert not unhealthy, json.dumps(unhealthy, indent=1)
    assert changed_per_host(run.stdout) == {"node1": 1, "node2": 1, "node3": 1}
    for host in ADDRESSES:
        assert "cluster_state:ok" in _cluster_info(tls_cluster, host, ROTATED)
        with pytest.raises(redis.AuthenticationError):
            tls_cluster.client(host, PASSWORD).ping()


def test_only_nodes_with_a_changed_configuration_restart(tls_cluster: TlsCluster) -> None:
    run, records = _restart(tls_cluster, "one", {"node2"}, [ROTATED])
    assert run.returncode == 0, run.stdout + run.stderr
    assert [r["host"] for r in records] == ["node2"]
    assert changed_per_host(run.stdout) == {"node1": 0, "node2": 1, "node3": 0}


def test_nothing_changed_restarts_nothing(tls_cluster: TlsCluster) -> None:
    run, records = _restart(tls_cluster, "none", set(), [ROTATED])
    assert run.returncode == 0, run.stdout + run.stderr
    assert records == []
    assert set(changed_per_host(run.stdout).values()) == {0}


if __name__ == "__main__":
    _stub_restart(*sys.argv[1:])
