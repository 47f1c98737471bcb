"""roles/redis with TLS and AUTH: the rendered redis.conf, run by a real redis-server,
refuses whoever lacks the CA, plain TCP and unauthenticated commands; the role's own
redis-cli arguments get through. The inputs that cannot work are refused."""

from __future__ import annotations

import os
import pwd
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from test_redis_role_harness import (
    PASSWORD,
    Node,
    Nodes,
    free_port,
    make_ca,
    needs_redis_server,
    render,
    role_tasks,
    run_playbook,
    write_config,
)

from recstack_contract.ports import PORTS


def _tls_inputs(tmp_path: Path) -> tuple[dict[str, object], Path]:
    """TLS inputs with a fresh CA and node certificate for 127.0.0.1, and a second CA."""
    ca = make_ca(tmp_path, "test-ca")
    other = make_ca(tmp_path, "other-ca")
    cert, key = ca.issue("node", ["127.0.0.1"])
    return {
        "redis_tls_enabled": True,
        "redis_tls_cert_file": str(cert),
        "redis_tls_key_file": str(key),
        "redis_tls_ca_file": str(ca.cert_file),
    }, other.cert_file


def _lines(config: str) -> list[str]:
    return [line for line in config.splitlines() if line and not line.startswith("#")]


def test_the_default_configuration_has_neither_tls_nor_auth(tmp_path: Path) -> None:
    (rendered,) = render(tmp_path, {}, values=["redis__cli_base"]).values()
    lines = _lines(rendered["config"])
    assert f"port {PORTS.redis}" in lines
    assert not [line for line in lines if line.startswith(("tls-", "requirepass", "masterauth"))]
    assert rendered["redis__cli_base"] == ["/usr/bin/redis-cli"]


def test_tls_and_a_password_render_every_setting(tmp_path: Path) -> None:
    tls, _ = _tls_inputs(tmp_path)
    (rendered,) = render(
        tmp_path, {**tls, "redis_password": PASSWORD}, values=["redis__cli_base"]
    ).values()
    lines = _lines(rendered["config"])
    for expected in [
        "port 0",
        f"tls-port {PORTS.redis}",
        f"tls-cert-file {tls['redis_tls_cert_file']}",
        f"tls-key-file {tls['redis_tls_key_file']}",
        f"tls-ca-cert-file {tls['redis_tls_ca_file']}",
        "tls-auth-clients no",
        "tls-cluster yes",
        "tls-replication yes",
        f"requirepass {PASSWORD}",
        f"masterauth {PASSWORD}",
    ]:
        assert expected in lines
    assert f"port {PORTS.redis}" not in lines
    assert not [line for line in lines if line.startswith(("user ", "masteruser"))]
    # Verification on (no --insecure), the password on stdin.
    assert rendered["redis__cli_base"] == [
        "/usr/bin/redis-cli",
        "--tls",
        "--cacert",
        tls["redis_tls_ca_file"],
        "--askpass",
    ]


@pytest.fixture(scope="module")
def tls_node(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TlsNode]:
    """A redis-server from the role's configuration with TLS and a password, on a free
    port of 127.0.0.1."""
    tmp_path = tmp_path_factory.mktemp("tls-node")
    tls, other_ca = _tls_inputs(tmp_path)
    port = free_port()
    data = tmp_path / "data"
    data.mkdir()
    inputs = {
        **tls,
        "redis_password": PASSWORD,
        "redis_port": port,
        "redis_cluster_port": free_port(),
        "redis_data_dir": str(data),
    }
    (rendered,) = render(tmp_path, inputs, values=["redis__cli"]).values()
    config = write_config(tmp_path, "node", rendered["config"])
    nodes = Nodes()
    try:
        yield TlsNode(
            nodes.start(config, "127.0.0.1", port),
            str(tls["redis_tls_ca_file"]),
            str(other_ca),
            rendered["redis__cli"],
        )
    finally:
        nodes.stop()


@dataclass(frozen=True)
class TlsNode:
    node: Node
    ca_file: str
    other_ca_file: str
    # The role's redis-cli argv for health checks (redis__cli), rendered by Ansible.
    cli: list[str]


def _client(node: Node, **options: object) -> redis.Redis:
    return redis.Redis(node.host, node.port, socket_timeout=5, socket_connect_timeout=5, **options)


@needs_redis_server
def test_a_verifying_tls_client_with_the_ca_logs_in(tls_node: TlsNode) -> None:
    client = _client(
        tls_node.node,
        ssl=True,
        ssl_ca_certs=tls_node.ca_file,
        ssl_cert_reqs="required",
        ssl_check_hostname=True,
        password=PASSWORD,
    )
    assert client.ping()
    client.set("k", "v")
    assert client.get("k") == b"v"


@needs_redis_server
def test_the_roles_redis_cli_verifies_and_logs_in(tls_node: TlsNode) -> None:
    assert "--insecure" not in tls_node.cli
    answer = subprocess.run(
        [*tls_node.cli, "PING"],
        input=PASSWORD,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (answer.returncode, answer.stdout.strip()) == (0, "PONG"), answer.stderr


@needs_redis_server
def test_a_client_trusting_another_ca_is_refused(tls_node: TlsNode) -> None:
    client = _client(
        tls_node.node,
        ssl=True,
        ssl_ca_certs=tls_node.other_ca_file,
        ssl_cert_reqs="required",
        password=PASSWORD,
    )
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        client.ping()


@needs_redis_server
def test_a_plain_tcp_client_is_refused(tls_node: TlsNode) -> None:
    with pytest.raises(redis.ConnectionError):
        _client(tls_node.node, password=PASSWORD).ping()


@needs_redis_server
def test_a_command_without_auth_gets_noauth(tls_node: TlsNode) -> None:
    def client(**auth: str) -> redis.Redis:
        return _client(
            tls_node.node,
            ssl=True,
            ssl_ca_certs=tls_node.ca_file,
            ssl_cert_reqs=ssl.CERT_REQUIRED,
            **auth,
        )

    with pytest.raises(redis.AuthenticationError, match="Authentication required"):
        client().get("k")
    with pytest.raises(redis.AuthenticationError):
        client(password="wrong-password").ping()


def _check_inputs(tmp_path: Path, variables: dict[str, object]) -> subprocess.CompletedProcess[str]:
    return run_playbook(tmp_path / "inputs", [role_tasks("inputs.yml")], variables)


def test_a_password_and_an_acl_user_are_refused_together(tmp_path: Path) -> None:
    run = _check_inputs(
        tmp_path,
        {"redis_password": PASSWORD, "redis_acl_user": "app", "redis_acl_password": PASSWORD},
    )
    assert run.returncode != 0
    assert "redis_password (AUTH without a user) and redis_acl_user are exclusive" in run.stdout
    assert PASSWORD not in run.stdout + run.stderr


@pytest.mark.parametrize("password", ["has space", 'has"quote', "back\\slash"])
def test_a_password_redis_conf_would_mangle_is_refused(tmp_path: Path, password: str) -> None:
    run = _check_inputs(tmp_path, {"redis_password": password})
    assert run.returncode != 0
    assert "must not contain blanks, quotes or backslashes" in run.stdout


@pytest.mark.parametrize(
    "variables",
    [{}, {"redis_password": PASSWORD}, {"redis_acl_user": "app", "redis_acl_password": PASSWORD}],
    ids=["none", "password", "acl-user"],
)
def test_each_auth_mode_alone_passes_the_checks(
    tmp_path: Path, variables: dict[str, object]
) -> None:
    run = _check_inputs(tmp_path, variables)
    assert run.returncode == 0, run.stdout


def _redis_user() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam("redis")
    except KeyError:
        return None


@pytest.mark.skipif(os.geteuid() != 0 or _redis_user() is None, reason="needs root and user redis")
def test_the_key_must_be_readable_by_user_redis_only(tmp_path: Path) -> None:
    tls, _ = _tls_inputs(tmp_path)
    key = Path(str(tls["redis_tls_key_file"]))
    redis_user = _redis_user()
    assert redis_user is not None

    def check() -> subprocess.CompletedProcess[str]:
        return run_playbook(tmp_path / "check", [role_tasks("tls.yml")], tls)

    # Root's key, 0600: Redis (user redis) could not read it.
    run = check()
    assert run.returncode != 0
    assert f"chown redis:redis {key}; chmod 0600 {key}" in run.stdout
    assert "(now: root, mode 0600)" in run.stdout
    # Redis's key, but the group may read it too.
    os.chown(key, redis_user.pw_uid, redis_user.pw_gid)
    key.chmod(0o640)
    run = check()
    assert run.returncode != 0
    assert "(now: redis, mode 0640)" in run.stdout
    key.chmod(0o600)
    run = check()
    assert run.returncode == 0, run.stdout
    # The certificate must be readable by redis as well.
    Path(str(tls["redis_tls_cert_file"])).chmod(0o600)
    run = check()
    assert run.returncode != 0
    assert "must be a file that user redis can read" in run.stdout


def test_tls_without_its_files_is_refused(tmp_path: Path) -> None:
    run = run_playbook(tmp_path, [role_tasks("tls.yml")], {"redis_tls_enabled": True})
    assert run.returncode != 0
    assert "redis_tls_cert_file, redis_tls_key_file and redis_tls_ca_file must be set" in run.stdout
