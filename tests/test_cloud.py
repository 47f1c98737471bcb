"""Cloud stacks through the Automation API, with a fake workspace standing in for the
pulumi CLI and AWS: the order of operations, the enforced policy pack, the inventory
written from the outputs, and secrets kept out of files."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from recstack import cloud, cloud_deploy, cloud_inventory, environments, secrets
from recstack.cli import app
from recstack.runner import PlaybookResult
from recstack_contract.secrets import REDIS_PASSWORD


@dataclasses.dataclass
class FakeOutput:
    value: Any
    secret: bool = False


class FakeStack:
    """The Automation API's stack, answering with the outputs the program computes under
    mocks (the conftest's stack_outputs)."""

    def __init__(self, outputs: dict[str, Any] | None = None) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.outputs = outputs or {}

    def refresh(self, **kwargs: Any) -> None:
        self.calls.append(("refresh", kwargs))

    def preview(self, **kwargs: Any) -> None:
        self.calls.append(("preview", kwargs))

    def up(self, **kwargs: Any) -> Any:
        self.calls.append(("up", kwargs))
        kwargs["on_output"]("Updating (staging)")
        outputs = {
            **{name: FakeOutput(value) for name, value in self.outputs.items()},
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
    staging: environments.Environment, stack_outputs: dict
) -> None:
    stack, printed, runs = FakeStack(stack_outputs["staging"]), [], []

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
    extravars = {"recstack_state_dir": str(staging.state_dir), REDIS_PASSWORD.variable: "s3cret-pw"}
    assert runs == [("staging", "site.yml", extravars)]
    # Kept for the tools (status, recommend, smoke), in the environment's private file.
    assert secrets.redis_password(staging) == "s3cret-pw"
    document = stack_outputs["staging"]["inventory"]
    # The stack's variables are the inventory's group_vars, unchanged.
    group_vars = yaml.safe_load((staging.inventory / "group_vars" / "all.yml").read_text())
    assert group_vars == document["variables"]
    hosts = yaml.safe_load((staging.inventory / "hosts.yml").read_text())["all"]
    assert hosts["vars"]["ansible_connection"] == "community.aws.aws_ssm"
    assert hosts["vars"]["ansible_aws_ssm_bucket_name"] == document["connection"]["bucket"]
    stack_redis = document["groups"]["redis"]["hosts"]
    written_redis = hosts["children"]["redis"]["hosts"]
    assert len(written_redis) == len(stack_redis) == 6
    replica = next(h for h in stack_redis if h["redis_shard_role"] == "replica")
    assert written_redis[f"redis-{replica['redis_shard']}-replica"] == {
        "ansible_host": replica["instance_id"],
        "recstack_bind_address": replica["private_ip"],
        "availability_zone": replica["availability_zone"],
        **{
            k: v
            for k, v in replica.items()
            if k not in ("instance_id", "private_ip", "availability_zone")
        },
    }
    (trainer,) = document["groups"]["trainer"]["hosts"]
    written_trainer = hosts["children"]["trainer"]["hosts"][f"trainer-{trainer['instance_id']}"]
    assert written_trainer["ansible_host"] == trainer["instance_id"]
    # MSK runs the brokers: the group every inventory has is there, without hosts.
    assert hosts["children"]["kafka"] == {}
    triton = yaml.safe_load((staging.inventory / "triton.aws_ec2.yml").read_text())
    assert triton["filters"]["tag:recstack:group"] == "triton"
    assert triton["filters"]["instance-state-name"] == "running"
    for written in staging.inventory.rglob("*.yml"):
        assert "s3cret-pw" not in written.read_text()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda v: v.pop("recstack_kafka"), "the stack exported no recstack_kafka"),
        (lambda v: v.update(recstack_redis_mode="memcached"), "recstack_redis_mode 'memcached'"),
        (lambda v: v["recstack_redis"].pop("hosts"), "recstack_redis has no hosts"),
        (lambda v: v["recstack_redis"].update(hosts=[]), "hosts must be a non-empty list"),
        (lambda v: v["recstack_kafka"].update(tls=False), "needs tls true"),
        (lambda v: v.update(recstack_triton_hosts=[]), "recstack_triton_hosts must list"),
    ],
)
def test_incomplete_stack_variables_fail_before_anything_is_written(
    staging: environments.Environment, stack_outputs: dict, change, message: str
) -> None:
    document = copy.deepcopy(stack_outputs["staging"]["inventory"])
    change(document["variables"])
    with pytest.raises(cloud_inventory.InventoryError, match=message):
        cloud_inventory.write(document, staging.inventory)
    assert not staging.inventory.exists()


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
    staging: environments.Environment, monkeypatch: pytest.MonkeyPatch, stack_outputs: dict
) -> None:
    stack, runs = FakeStack(stack_outputs["staging"]), []
    monkeypatch.setattr(cloud, "automation_stack", lambda name: stack)

    def run_playbook(env, playbook, progress, extravars=None):
        runs.append((env.name, playbook))
        return PlaybookResult(playbook, "successful", 2.0)

    monkeypatch.setattr("recstack.cli.run_playbook", run_playbook)
    result = CliRunner().invoke(app, ["up", "staging"])
    assert result.exit_code == 0, result.output
    assert "Updating (staging)" in result.output
    assert "staging is up" in result.output
    # The same endpoints as every environment's, for status, recommend and smoke.
    assert runs == [("staging", "site.yml"), ("staging", "endpoints.yml")]
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
    staging: environments.Environment, monkeypatch: pytest.MonkeyPatch, stack_outputs: dict
) -> None:
    monkeypatch.setattr(cloud, "automation_stack", lambda name: FakeStack(stack_outputs["staging"]))

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
