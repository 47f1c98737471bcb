"""The real entry point (__main__.py) under mocks: it reads the stack's config, refuses an
invalid one before declaring anything, and exports the outputs."""

from __future__ import annotations

import json
import re
import runpy

import pulumi
import pytest
import yaml
from conftest import PROJECT_ROOT, STACKS, RecordingMocks


def _runtime_config(stack: str, **overrides: object) -> dict[str, str]:
    """Config as the engine hands it to a program: strings, objects JSON-encoded."""
    raw = yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    raw.update(overrides)
    return {k: json.dumps(v) if isinstance(v, dict | list) else str(v) for k, v in raw.items()}


def _run_entrypoint(stack: str, config: dict[str, str]) -> RecordingMocks:
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="recstack", stack=stack, preview=False)
    pulumi.runtime.set_all_config(config)

    @pulumi.runtime.test
    def entrypoint() -> None:
        runpy.run_path(str(STACKS / "__main__.py"), run_name="__main__")

    entrypoint()
    return mocks


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_entry_point_declares_the_committed_stacks(stack: str) -> None:
    mocks = _run_entrypoint(stack, _runtime_config(stack))
    assert len(mocks.of_type("aws:autoscaling/group:Group")) == 1
    assert len(mocks.resources) > 80


def test_an_invalid_config_fails_before_any_resource_is_declared() -> None:
    config = _runtime_config("staging", **{"recstack:redis": {"mode": "selfhosted", "shards": 2}})
    message = "invalid stack config: recstack:redis.shards must be at least 3"
    with pytest.raises(Exception, match=re.escape(message)):
        _run_entrypoint("staging", config)


def test_a_configured_auth_token_is_used_as_a_secret() -> None:
    config = _runtime_config(
        "prod", **{"recstack:redisAuthToken": "a-token-from-config-0123456789"}
    )
    mocks = _run_entrypoint("prod", config)
    (group,) = mocks.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    assert group.inputs["authToken"]["value"] == "a-token-from-config-0123456789"
    assert not mocks.of_type("random:index/randomPassword:RandomPassword")
