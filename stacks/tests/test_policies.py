"""Both committed stacks, and every Redis mode x MSK authentication, pass every rule of the
policy pack."""

from __future__ import annotations

import pytest
from test_program import ALL_RUNS, run, run_stack

from policy import check


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_committed_stacks_pass_every_policy(stack: str) -> None:
    assert check.violations(run_stack(stack).mocks.as_policy_input()) == []


@pytest.mark.parametrize(("redis_mode", "kafka_auth"), ALL_RUNS)
def test_every_mode_passes_every_policy(redis_mode: str, kafka_auth: str) -> None:
    assert check.violations(run(redis_mode, kafka_auth).mocks.as_policy_input()) == []


def test_the_policies_do_catch_a_weakened_stack() -> None:
    """The rules see what the program declares: weaken one property, get one violation."""
    template = "aws:ec2/launchTemplate:LaunchTemplate"
    weakened = [
        (
            kind,
            name,
            {**props, "metadataOptions": {"httpTokens": "optional"}} if kind == template else props,
        )
        for kind, name, props in run_stack("staging").mocks.as_policy_input()
    ]
    messages = check.violations(weakened)
    assert len(messages) == 1, messages
    assert messages[0].startswith("[imdsv2-required]")
