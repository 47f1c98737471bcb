"""The controller's secrets: generated once per environment, private, passed to every
playbook run, and readable by the kit's tools with an environment-variable override."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from recstack import environments, secrets
from recstack.cli import app
from recstack.runner import PlaybookResult
from recstack_contract.secrets import REDIS_PASSWORD, SECRETS, TRITON_ADMIN_TOKEN


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every environment's state directory under tmp_path."""
    monkeypatch.setattr(
        environments.Environment, "state_dir", property(lambda self: tmp_path / self.name)
    )
    for secret in SECRETS:
        monkeypatch.delenv(secret.environment, raising=False)
    return tmp_path


def test_a_secret_is_generated_once_and_kept_private(state: Path) -> None:
    env = environments.get("local")
    token = secrets.ensure(env, TRITON_ADMIN_TOKEN)
    assert len(token) >= 32
    assert secrets.ensure(env, TRITON_ADMIN_TOKEN) == token
    password = secrets.ensure(env, REDIS_PASSWORD)
    assert password != token
    assert json.loads(env.secrets_file.read_text()) == {
        TRITON_ADMIN_TOKEN.name: token,
        REDIS_PASSWORD.name: password,
    }
    assert stat.S_IMODE(env.secrets_file.stat().st_mode) == 0o600
    # Another environment has its own.
    assert secrets.ensure(environments.get("testbed"), TRITON_ADMIN_TOKEN) != token


def test_every_stored_secret_reaches_the_playbooks_as_its_variable(state: Path) -> None:
    env = environments.get("local")
    assert secrets.playbook_variables(env) == {"recstack_state_dir": str(env.state_dir)}
    token = secrets.ensure(env, TRITON_ADMIN_TOKEN)
    assert secrets.playbook_variables(env) == {
        "recstack_state_dir": str(env.state_dir),
        "recstack_triton_admin_token": token,
    }


def test_tools_prefer_the_process_environment(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = environments.get("testbed")
    assert secrets.triton_admin_token(env) == ""
    stored = secrets.ensure(env, TRITON_ADMIN_TOKEN)
    assert secrets.triton_admin_token(env) == stored
    monkeypatch.setenv("RECSTACK_TRITON_ADMIN_TOKEN", "from-on-call")
    assert secrets.triton_admin_token(env) == "from-on-call"
    assert secrets.redis_password(env) == ""


def test_a_stored_value_is_kept_and_the_file_stays_private(state: Path) -> None:
    env = environments.get("testbed")
    env.secrets_file.parent.mkdir(parents=True)
    env.secrets_file.write_text(json.dumps({"redis_password": "old-pw"}))
    env.secrets_file.chmod(0o644)
    assert secrets.redis_password(env) == "old-pw"
    assert secrets.ensure(env, REDIS_PASSWORD) == "old-pw"
    token = secrets.ensure(env, TRITON_ADMIN_TOKEN)
    assert json.loads(env.secrets_file.read_text()) == {
        "redis_password": "old-pw",
        "triton_admin_token": token,
    }
    assert stat.S_IMODE(env.secrets_file.stat().st_mode) == 0o600
    # A cloud stack's password replaces what was there; the tools read it afterwards.
    secrets.store(env, REDIS_PASSWORD, "stack-pw")
    assert secrets.redis_password(env) == "stack-pw"
    assert secrets.triton_admin_token(env) == token


def test_up_generates_the_admin_token_before_the_first_playbook(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = environments.get("local")
    runs: list[tuple[str, dict[str, Any]]] = []

    def run_playbook(environment, playbook, progress, extravars=None):
        runs.append((playbook, extravars))
        return PlaybookResult(playbook, "successful", 1.0)

    monkeypatch.setattr("recstack.cli.run_playbook", run_playbook)
    monkeypatch.setattr("recstack.cli._show_sample", lambda environment: None)
    result = CliRunner().invoke(app, ["up", "local"])
    assert result.exit_code == 0, result.output
    token = json.loads(env.secrets_file.read_text())["triton_admin_token"]
    assert [playbook for playbook, _ in runs] == ["site.yml", "endpoints.yml"]
    assert all(extravars["recstack_triton_admin_token"] == token for _, extravars in runs)
    assert token not in result.output
