"""Smoke tests against a deployed environment.

    pytest smoke_tests --env local            # what `make test` and CI run
    pytest smoke_tests --env local --junitxml=smoke.xml

The environment's endpoints come from `recstack up` (.recstack/<env>/endpoints.json);
host checks reach the hosts through the environment's Ansible inventory (testinfra). A
Redis password comes from RECSTACK_REDIS_PASSWORD, and Triton's admin token from
RECSTACK_TRITON_ADMIN_TOKEN, or else from the environment's secrets file.
Every failure message starts with the component and says what to check first.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest
import redis

from pipelines.serving import keys
from recstack import endpoints, environments, health, secrets
from recstack_contract.secrets import TRITON_ADMIN_TOKEN


def pytest_configure(config: pytest.Config) -> None:
    # testinfra's Ansible backend runs ansible-inventory: use this environment's.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--env", default="local", help="deployed environment to check")
    parser.addoption("--sample-users", type=int, default=20, help="users to sample end to end")
    parser.addoption(
        "--max-batch-age-hours",
        type=float,
        default=24.0 * 7,
        help="oldest acceptable offline batch result",
    )


@pytest.fixture(scope="session")
def environment(request: pytest.FixtureRequest) -> environments.Environment:
    return environments.get(request.config.getoption("--env"))


@pytest.fixture(scope="session")
def where(environment: environments.Environment) -> endpoints.Endpoints:
    return endpoints.load(environment)


@pytest.fixture(scope="session")
def redis_password(environment: environments.Environment) -> str:
    return secrets.redis_password(environment)


@pytest.fixture(scope="session")
def triton_admin_token(environment: environments.Environment) -> str:
    """The value of the header that opens Triton's restricted APIs."""
    token = secrets.triton_admin_token(environment)
    assert token, (
        f"triton: no admin token for {environment.name} — `recstack up {environment.name}` "
        f"writes it to {environment.secrets_file}; for an environment deployed elsewhere set "
        f"{TRITON_ADMIN_TOKEN.environment}"
    )
    return token


@pytest.fixture(scope="session")
def redis_client(where: endpoints.Endpoints, redis_password: str) -> redis.Redis:
    """The environment's Redis as the serving path sees it (a cluster client in cluster
    mode, logged in as the environment's user)."""
    return where.redis_client(redis_password)


@pytest.fixture(scope="session")
def deployed_model(redis_client: redis.Redis, where: endpoints.Endpoints) -> dict[str, str]:
    model = {
        k.decode(): v.decode()
        for k, v in redis_client.hgetall(keys.model(where.key_prefix)).items()
    }
    assert model, (
        f"redis: no {keys.model(where.key_prefix)} hash — the publish step never ran; "
        "check the pipelines play output of `recstack up`"
    )
    return model


@pytest.fixture(scope="session")
def sampled_users(
    request: pytest.FixtureRequest, redis_client: redis.Redis, where: endpoints.Endpoints
) -> list[int]:
    """Users with an interaction history (they have a `seen` set), sampled reproducibly."""
    users = health.users_with_history(redis_client, where.key_prefix)
    assert users, (
        f"redis: no keys matching {keys.seen_pattern(where.key_prefix)} — the publish step "
        "wrote no histories; check the pipelines play output of `recstack up`"
    )
    count = min(request.config.getoption("--sample-users"), len(users))
    return random.Random(0).sample(users, count)
