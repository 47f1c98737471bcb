"""Cloud stacks through the Automation API, with a fake workspace standing in for the
pulumi CLI and AWS: the order of operations, the enforced policy pack, the inventory
written from the outputs, and secrets kept out of files."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from recstack import cloud, cloud_deploy, environments
from recstack.cli import app
from recstack.runner import PlaybookResult
from recstack.secrets import REDIS_PASSWORD

INVENTORY = {
    "stack": "staging",
    "region": "us-east-1",
    "connection": {
        "plugin": "community.aws.aws_ssm",
        "region": "us-east-1",
        "bucket": "transfer-b",
    },
    "groups": {
        "triton": {
            "autoscaling_group": "recstack-staging-triton",
            "instance_filters": {"tag:recstack:group": "triton", "tag:stack": "staging"},
        },
        "trainer": {
            "hosts": [
                {
                    "instance_id": "i-0t",
                    "private_ip": "10.60.0.5",
                    "availability_zone": "us-east-1a",
                }
            ]
        },
        "redis": {
            "hosts": [
                {
                    "instance_id": "i-0r0",
                    "private_ip": "10.60.0.6",
                    "availability_zone": "us-east-1a",
                    "shard": "0",
                    "role": "master",
                },
                {
                    "instance_id": "i-0r1",
                    "private_ip": "10.60.32.6",
                    "availability_zone": "us-east-1b",
                    "shard": "0",
                    "role": "replica",
                },
            ]
        },
        "kafka": {"hosts": []},
    },
    "endpoints": {
        "redis": {"mode": "selfhosted", "port": 6379},
        "kafka": {"mode": "msk", "bootstrap": "b-1:9098"},
    },
    "buckets": {"models": "models-b"},
}


@dataclasses.dataclass
class FakeOutput:
    value: Any
    secret: bool = False


class FakeStack:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def refresh(self, **kwargs: Any) -> None:
        self.calls.append(("refresh", kwargs))

    def preview(self, **kwargs: Any) -> None:
        self.calls.append(("preview", kwargs))

    def up(self, **kwargs: Any) -> Any:
        self.calls.append(("up", kwargs))
        kwargs["on_output"]("Updating (staging)")
        outputs = {
            "inventory": FakeOutput(INVENTORY),
            "redis_password": FakeOutput("s3cret-pw", secret=True),
        }
        return type("UpResult", (), {"outputs": outputs})()

    def destroy(self, **kwargs: Any) -> None:
        self.calls.append(("destroy", kwargs))


@pytest.fixture
def staging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> environments.Environment:
    env = environments.get("staging")
    monkeypatch.setattr(
        environments.Environment, "state_dir", property(lambda self: tmp_path / self.name)
    )
    return env


def test_up_refreshes_then_updates_with_the_policy_pack_then_runs_the_site_playbook(
    staging: environments.Environment,
) -> None:
    stack, printed, runs = FakeStack(), [], []

    def run_playbook(env, playbook, progress, extravars):
        runs.append((env.name, playbook, extravars))
        return PlaybookResult(playbook, "successful", 1.0)

    outputs = cloud.up("staging", printed.append, lambda name: stack)
    result = cloud_deploy.configure(staging, outputs, lambda *_: None, run_playbook)

    assert result.ok
    assert [name for name, _ in stack.calls] == ["refresh", "up"]
    assert stack.calls[1][1]["policy_packs"] == [str(cloud.POLICY_PACK)]
    assert printed == ["Updating (staging)"]
    # The stack's password goes where every environment's does (the group_vars derive the
    # trainer's and Triton's credentials from it), next to the state directory.
    extravars = {"recstack_state_dir": str(staging.state_dir), REDIS_PASSWORD: "s3cret-pw"}
    assert runs == [("staging", "site.yml", extravars)]
    hosts = yaml.safe_load((staging.inventory / "hosts.yml").read_text())["all"]
    assert hosts["vars"]["ansible_connection"] == "community.aws.aws_ssm"
    assert hosts["vars"]["ansible_aws_ssm_bucket_name"] == "transfer-b"
    assert hosts["children"]["redis"]["hosts"]["redis-0-replica"] == {
        "ansible_host": "i-0r1",
        "recstack_bind_address": "10.60.32.6",
        "availability_zone": "us-east-1b",
        "shard": "0",
        "role": "replica",
    }
    assert hosts["children"]["trainer"]["hosts"]["trainer-i-0t"]["ansible_host"] == "i-0t"
    assert hosts["children"]["kafka"]["hosts"] == {}
    triton = yaml.safe_load((staging.inventory / "triton.aws_ec2.yml").read_text())
    assert triton["filters"]["tag:recstack:group"] == "triton"
    assert triton["filters"]["instance-state-name"] == "running"
    for written in staging.inventory.iterdir():
        assert "s3cret-pw" not in written.read_text()


def test_preview_enforces_the_policy_pack() -> None:
    stack = FakeStack()
    cloud.preview("staging", print, lambda name: stack)
    assert stack.calls == [
        (
            "preview",
            {"on_output": print, "color": "never", "policy_packs": [str(cloud.POLICY_PACK)]},
        )
    ]


def test_a_missing_pulumi_cli_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(cloud.PulumiMissing, match="pulumi CLI is not installed"):
        cloud.automation_stack("staging")
    result = CliRunner().invoke(app, ["preview", "staging"])
    assert result.exit_code == 2
    assert "pulumi CLI is not installed" in result.output


def test_destroying_a_cloud_stack_needs_confirmation(monkeypatch: pytest.MonkeyPatch) -> None:
    stack = FakeStack()
    monkeypatch.setattr(cloud, "automation_stack", lambda name: stack)
    result = CliRunner().invoke(app, ["down", "staging"])
    assert result.exit_code == 2
    assert "--yes" in result.output
    assert stack.calls == []


def test_preview_refuses_the_local_environment() -> None:
    result = CliRunner().invoke(app, ["preview", "local"])
    assert result.exit_code == 2
    assert "not a cloud stack" in result.output


def test_committed_stacks_are_cloud_environments() -> None:
    staging = environments.get("staging")
    assert staging.cloud and staging.inventory.parts[-3:] == (".recstack", "staging", "inventory")
    assert not environments.get("local").cloud


def test_the_cli_deploys_a_cloud_stack_end_to_end(
    staging: environments.Environment, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, runs = FakeStack(), []
    monkeypatch.setattr(cloud, "automation_stack", lambda name: stack)

    def run_playbook(env, playbook, progress, extravars=None):
        runs.append((env.name, playbook))
        return PlaybookResult(playbook, "successful", 2.0)

    monkeypatch.setattr("recstack.cli.run_playbook", run_playbook)
    result = CliRunner().invoke(app, ["up", "staging"])
    assert result.exit_code == 0, result.output
    assert "Updating (staging)" in result.output
    assert "staging is up" in result.output
    assert runs == [("staging", "site.yml")]
    assert "s3cret-pw" not in result.output


def test_a_failed_pulumi_update_exits_1_with_its_message(monkeypatch: pytest.MonkeyPatch) -> None:
    class Failing(FakeStack):
        def up(self, **kwargs: Any) -> Any:
            raise RuntimeError("error: creating EC2 Instance: InsufficientInstanceCapacity")

    monkeypatch.setattr(cloud, "automation_stack", lambda name: Failing())
    result = CliRunner().invoke(app, ["up", "staging"])
    assert result.exit_code == 1
    assert "InsufficientInstanceCapacity" in result.output


def test_an_error_after_the_update_is_not_blamed_on_pulumi(
    staging: environments.Environment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cloud, "automation_stack", lambda name: FakeStack())

    def run_playbook(env, playbook, progress, extravars=None):
        raise RuntimeError("the playbook run broke")

    monkeypatch.setattr("recstack.cli.run_playbook", run_playbook)
    result = CliRunner().invoke(app, ["up", "staging"])
    assert "pulumi failed" not in result.output
    assert isinstance(result.exception, RuntimeError), result.output


def test_down_with_confirmation_destroys_the_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    stack = FakeStack()
    monkeypatch.setattr(cloud, "automation_stack", lambda name: stack)
    result = CliRunner().invoke(app, ["down", "staging", "--yes"])
    assert result.exit_code == 0, result.output
    assert [name for name, _ in stack.calls] == ["destroy"]
