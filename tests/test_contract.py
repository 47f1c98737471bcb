"""The contract is the one home of cross-layer values: change one there and the service
configs, the recorded endpoints and every client follow (the Pulumi side is proven in
stacks/tests/test_contract_follows.py); its Redis structure round-trips through the
environment every process reads and refuses malformed values by name."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from recstack_contract.redis import RedisConnection, from_environment

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# What the Ansible side needs to render an environment's configuration.
TREE = ("recstack_contract", "plugins", "roles", "inventories", "playbooks", "ansible.cfg")
CHANGED = {"redis": 6390, "triton_grpc": 8101, "kafka": 9192}


def test_the_structure_round_trips_through_the_environment(tmp_path: Path) -> None:
    connection = RedisConnection(("10.0.0.1", "10.0.0.2"), 7000, True, True, "/ca.pem", "app")
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    env = {**connection.environment(), "RECSTACK_REDIS_PASSWORD_FILE": str(secret)}
    assert from_environment(env) == (connection, "s3cret")
    assert from_environment({}) == (RedisConnection(), "")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"hosts": []}, "hosts must be a non-empty list"),
        ({"hosts": 5}, "hosts must be a non-empty list"),
        ({"port": "6379x"}, "port must be an integer"),
        ({"cluster": "yes"}, "cluster must be true or false"),
        ({"tls": 1}, "tls must be true or false"),
        ({"host": "a"}, "unknown key 'host'"),
    ],
)
def test_a_malformed_structure_is_refused_by_field(raw: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RedisConnection.from_mapping(raw)


def test_a_malformed_environment_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="RECSTACK_REDIS_TLS must be true or false"):
        from_environment({"RECSTACK_REDIS_TLS": "1"})
    missing = tmp_path / "absent"
    with pytest.raises(ValueError, match=f"RECSTACK_REDIS_PASSWORD_FILE names {missing}"):
        from_environment({"RECSTACK_REDIS_PASSWORD_FILE": str(missing)})


@pytest.fixture(scope="module")
def changed_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the kit whose contract has other ports."""
    tree = tmp_path_factory.mktemp("kit")
    for name in TREE:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, tree / name)
    ports = tree / "recstack_contract" / "ports.py"
    text = ports.read_text()
    for name, port in CHANGED.items():
        default = f"    {name}: int = "
        line = next(line for line in text.splitlines() if line.startswith(default))
        text = text.replace(line, f"{default}{port}")
    ports.write_text(text)
    return tree


def _run(tree: Path, *argv: str) -> str:
    """A command in the copied tree, importing the copy's contract."""
    env = {**os.environ, "PYTHONPATH": str(tree), "ANSIBLE_CONFIG": str(tree / "ansible.cfg")}
    result = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


RENDER_PLAY = """
- name: Render what the roles would deploy
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
    - ../roles/redis/defaults/main.yml
    - ../roles/kafka/defaults/main.yml
  tasks:
    # The Triton role's defaults and vars at their own precedence (the inventory's
    # triton_environment wins over the role default, as in a deployment).
    - name: Load the Triton role (its token check only)
      ansible.builtin.import_role:
        name: triton
        tasks_from: admin_token.yml
    - name: Render the Redis configuration
      ansible.builtin.template:
        src: ../roles/redis/templates/redis.conf.j2
        dest: "{{ out }}/redis.conf"
        mode: "0600"
    - name: Record the Triton command, its environment and the broker port
      ansible.builtin.copy:
        content: "{{ {'triton': triton__command, 'environment': triton_environment,
                      'kafka_port': kafka_port} | to_json }}"
        dest: "{{ out }}/values.json"
        mode: "0600"
"""


def test_a_changed_port_reaches_configs_endpoints_and_clients(
    changed_tree: Path, tmp_path: Path
) -> None:
    inventory = ["-i", "inventories/common", "-i", "inventories/local"]
    play = changed_tree / "playbooks" / "render.yml"
    play.write_text(RENDER_PLAY)
    _run(
        changed_tree,
        str(BIN / "ansible-playbook"),
        *inventory,
        str(play),
        "-e",
        f"out={tmp_path}",
        "-e",
        "triton_admin_token=contract-test",
    )
    _run(
        changed_tree,
        str(BIN / "ansible-playbook"),
        *inventory,
        "playbooks/endpoints.yml",
        "-e",
        f"recstack_state_dir={tmp_path}",
    )

    # The rendered service configuration.
    assert f"\nport {CHANGED['redis']}\n" in (tmp_path / "redis.conf").read_text()
    values = json.loads((tmp_path / "values.json").read_text())
    assert f"--grpc-port={CHANGED['triton_grpc']}" in values["triton"]
    assert int(values["kafka_port"]) == CHANGED["kafka"]
    # The Triton stages' client settings, parsed by the copy's own client code.
    connection, _ = from_environment(values["environment"])
    assert connection.port == CHANGED["redis"]
    # The endpoints every tool reads, and a client's default with nothing set.
    endpoints = json.loads((tmp_path / "endpoints.json").read_text())
    assert endpoints["redis"]["port"] == CHANGED["redis"]
    assert endpoints["triton"]["grpc_port"] == CHANGED["triton_grpc"]
    assert endpoints["kafka"]["bootstrap"] == f"127.0.0.1:{CHANGED['kafka']}"
    default_port = _run(
        changed_tree,
        sys.executable,
        "-c",
        "from recstack_contract.redis import from_environment; print(from_environment({})[0].port)",
    )
    assert int(default_port) == CHANGED["redis"]
