"""roles/redis's probes (tasks/wait.yml, tasks/cluster_probe.yml) against throwaway nodes:
a redis-cli call that fails reports its own error (the node, redis-cli's output, the
likely fix) and never the password, instead of passing for a partly formed cluster."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from test_redis_role_harness import (
    PASSWORD,
    WRONG_PASSWORD,
    Nodes,
    free_port,
    make_ca,
    needs_redis_server,
    render,
    role_tasks,
    run_playbook,
    write_config,
)

pytestmark = needs_redis_server

PARTLY_FORMED = "neither all empty nor one whole cluster"


@dataclass(frozen=True)
class Cluster:
    """Two empty cluster-mode nodes with a password: one with TLS, one without."""

    tls_port: int
    plain_port: int
    tls: dict[str, Any]
    other_ca_file: str


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("probe-nodes")
    ca = make_ca(tmp, "test-ca")
    other = make_ca(tmp, "other-ca")
    cert, key = ca.issue("node", ["127.0.0.1"])
    tls = {
        "redis_tls_enabled": True,
        "redis_tls_cert_file": str(cert),
        "redis_tls_key_file": str(key),
        "redis_tls_ca_file": str(ca.cert_file),
    }
    ports = {"tls": free_port(), "plain": free_port()}
    running = Nodes()
    try:
        for name, extra in (("tls", tls), ("plain", {})):
            data = tmp / name
            data.mkdir()
            inputs = {
                **extra,
                "redis_cluster_enabled": True,
                "redis_password": PASSWORD,
                "redis_port": ports[name],
                "redis_cluster_port": free_port(),
                "redis_data_dir": str(data),
            }
            (rendered,) = render(tmp / f"render-{name}", inputs).values()
            running.start(write_config(tmp, name, rendered["config"]), "127.0.0.1", ports[name])
        yield Cluster(ports["tls"], ports["plain"], tls, str(other.cert_file))
    finally:
        running.stop()


def _probe(
    tmp_path: Path, tasks_from: str, variables: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    # Short timeouts: the probe gives up on a silent server after redis__cli_timeout.
    return run_playbook(
        tmp_path,
        [role_tasks(tasks_from)],
        {"redis_cluster_enabled": True, "redis__cli_timeout": 3, **variables},
    )


def _failure(run: subprocess.CompletedProcess[str]) -> str:
    assert run.returncode != 0, run.stdout
    output = run.stdout + run.stderr
    assert PASSWORD not in output
    assert WRONG_PASSWORD not in output
    assert PARTLY_FORMED not in output
    return output


def test_the_right_password_reads_an_empty_nodes_view(tmp_path: Path, nodes: Cluster) -> None:
    run = _probe(
        tmp_path,
        "cluster_probe.yml",
        {**nodes.tls, "redis_port": nodes.tls_port, "redis_password": PASSWORD},
    )
    assert run.returncode == 0, run.stdout
    assert PASSWORD not in run.stdout + run.stderr


@pytest.mark.parametrize(
    "tasks_from, command",
    [
        ("cluster_probe.yml", "CLUSTER INFO"),
        ("wait.yml", "PING"),
    ],
)
def test_a_wrong_password_is_reported_as_such(
    tmp_path: Path, nodes: Cluster, tasks_from: str, command: str
) -> None:
    output = _failure(
        _probe(
            tmp_path,
            tasks_from,
            {**nodes.tls, "redis_port": nodes.tls_port, "redis_password": WRONG_PASSWORD},
        )
    )
    assert (
        f"redis-cli {command} to the Redis node of localhost (127.0.0.1:{nodes.tls_port})" in output
    )
    assert "WRONGPASS invalid username-password pair" in output
    assert "NOAUTH/WRONGPASS" in output
    assert "Check recstack_redis_password" in output


def test_a_missing_password_is_reported_as_such(tmp_path: Path, nodes: Cluster) -> None:
    output = _failure(
        _probe(tmp_path, "cluster_probe.yml", {**nodes.tls, "redis_port": nodes.tls_port})
    )
    assert "NOAUTH Authentication required" in output
    assert "Check recstack_redis_password" in output


def test_an_untrusted_certificate_is_reported_as_such(tmp_path: Path, nodes: Cluster) -> None:
    output = _failure(
        _probe(
            tmp_path,
            "cluster_probe.yml",
            {
                **nodes.tls,
                "redis_tls_ca_file": nodes.other_ca_file,
                "redis_port": nodes.tls_port,
                "redis_password": PASSWORD,
            },
        )
    )
    assert "SSL_connect failed: certificate verify failed" in output
    assert f"not signed by the CA in redis_tls_ca_file ({nodes.other_ca_file})" in output


def test_nothing_listening_is_reported_as_such(tmp_path: Path) -> None:
    port = free_port()
    output = _failure(
        _probe(tmp_path, "cluster_probe.yml", {"redis_port": port, "redis_password": PASSWORD})
    )
    assert f"Could not connect to Redis at 127.0.0.1:{port}: Connection refused" in output
    assert "Is recstack-redis running" in output


def test_a_plain_client_at_a_tls_port_is_reported_as_a_tls_mismatch(
    tmp_path: Path, nodes: Cluster
) -> None:
    output = _failure(
        _probe(
            tmp_path,
            "cluster_probe.yml",
            {"redis_port": nodes.tls_port, "redis_password": PASSWORD},
        )
    )
    assert "is redis_tls_enabled the same" in output


def test_a_tls_client_at_a_plain_port_gives_up_and_says_why(tmp_path: Path, nodes: Cluster) -> None:
    output = _failure(
        _probe(
            tmp_path,
            "cluster_probe.yml",
            {**nodes.tls, "redis_port": nodes.plain_port, "redis_password": PASSWORD},
        )
    )
    assert "did not succeed (exit status 124)" in output
    assert "No answer within 3 s. A TLS client waits like this on a server without TLS" in output
