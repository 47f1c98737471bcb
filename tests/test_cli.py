"""The CLI's error paths: unknown environments and environments not deployed."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from recstack import endpoints
from recstack.cli import app
from recstack.environments import Environment, UnknownEnvironment, get


def test_unknown_environment_lists_the_known_ones() -> None:
    result = CliRunner().invoke(app, ["status", "moon"])
    assert result.exit_code == 2
    assert "unknown environment 'moon'" in result.output
    assert "local" in result.output
    with pytest.raises(UnknownEnvironment):
        get("moon")


def test_not_deployed_says_how_to_deploy() -> None:
    never = Environment("never-deployed", "test")
    with pytest.raises(endpoints.NotDeployed, match="recstack up never-deployed"):
        endpoints.load(never)


def test_recommend_needs_a_user() -> None:
    result = CliRunner().invoke(app, ["recommend"])
    assert result.exit_code != 0
    assert "--user" in result.output


def test_an_inventory_directory_is_an_environment(tmp_path) -> None:
    inventory = tmp_path / "on-call"
    inventory.mkdir()
    (inventory / "hosts.yml").write_text("all: {}\n")
    env = get(str(inventory))
    assert env.inventory == inventory and env.name == "on-call"
    assert env.inventories[-1] == inventory  # read after the shared settings
    with pytest.raises(UnknownEnvironment, match="a path to an inventory directory"):
        get(str(tmp_path / "nowhere"))
