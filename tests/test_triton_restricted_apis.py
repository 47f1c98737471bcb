"""The triton role closes Triton's administrative APIs exactly as the contract says.

The role's own variables are rendered by ansible-playbook (with the kit's ansible.cfg, so
the contract comes from the vars plugin) through the role's token check; the deployed
behaviour is proved by smoke_tests/test_triton_admin.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from recstack_contract.triton import ADMIN_HEADER, OPEN_APIS, RESTRICTED_APIS

ROOT = Path(__file__).resolve().parent.parent
ROLE = ROOT / "roles" / "triton"
# Every API group Triton 2.51 can restrict (`tritonserver --help`).
TRITON_API_GROUPS = {
    "health",
    "metadata",
    "inference",
    "shared-memory",
    "model-config",
    "model-repository",
    "statistics",
    "trace",
    "logging",
}
TOKEN = "t0ken-for_tests.~"


def _render(tmp_path: Path, token: str) -> subprocess.CompletedProcess[str]:
    """Run the role's token check, then write the server's command line to command.json."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        "localhost": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": sys.executable,
                        }
                    }
                }
            }
        )
    )
    playbook = tmp_path / "render.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Render the Triton command line",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Check the token with the role's variables",
                            "ansible.builtin.include_role": {
                                "name": "triton",
                                "tasks_from": "admin_token.yml",
                                "public": True,
                            },
                        },
                        {
                            "name": "Write the command",
                            "ansible.builtin.copy": {
                                "content": "{{ triton__command | to_json }}",
                                "dest": str(tmp_path / "command.json"),
                                "mode": "0600",
                            },
                        },
                    ],
                }
            ]
        )
    )
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            str(inventory),
            str(playbook),
            "-e",
            json.dumps({"triton_admin_token": token}),
        ],
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_every_triton_api_group_is_either_restricted_or_open() -> None:
    assert not set(RESTRICTED_APIS) & set(OPEN_APIS)
    assert set(RESTRICTED_APIS) | set(OPEN_APIS) == TRITON_API_GROUPS


def test_the_command_restricts_the_contract_groups_over_http_and_grpc(tmp_path: Path) -> None:
    run = _render(tmp_path, TOKEN)
    assert run.returncode == 0, run.stdout + run.stderr
    command = json.loads((tmp_path / "command.json").read_text())
    setting = f"{','.join(RESTRICTED_APIS)}:{ADMIN_HEADER}={TOKEN}"
    restricted = [arg for arg in command if "restricted" in arg]
    # gRPC's flag is --grpc-restricted-protocol in Triton 2.51 (there is no
    # --grpc-restricted-api), with the same syntax.
    assert restricted == [
        f"--http-restricted-api={setting}",
        f"--grpc-restricted-protocol={setting}",
    ]
    assert TOKEN not in run.stdout + run.stderr


def test_the_service_runs_that_command() -> None:
    tasks = yaml.safe_load((ROLE / "tasks" / "service.yml").read_text())
    (service,) = [
        t
        for t in tasks
        if t.get("ansible.builtin.include_role", {}).get("name") == "supervised_service"
        and "vars" in t
        and "supervised_service_command" in t["vars"]
        and t["vars"]["supervised_service_name"] == "triton"
    ]
    assert service["vars"]["supervised_service_command"] == "{{ triton__command }}"


@pytest.mark.parametrize("token", ["", "has:colon", "has space"])
def test_a_missing_or_unusable_token_stops_the_role(tmp_path: Path, token: str) -> None:
    run = _render(tmp_path, token)
    assert run.returncode != 0
    assert "triton_admin_token must be set" in run.stdout
    assert "recstack up" in run.stdout
    assert not (tmp_path / "command.json").exists()
