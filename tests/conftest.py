"""Shared fixtures: a throwaway Redis for unit tests, and the live `local` environment for
the tests marked `deployed` (they need `recstack up local` first)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from recstack import endpoints, environments, health, rehearsal


@pytest.fixture(scope="session")
def local() -> endpoints.Endpoints:
    return endpoints.load(environments.get("local"))


@pytest.fixture(scope="session")
def live_redis(local: endpoints.Endpoints) -> redis.Redis:
    return local.redis_client()


@pytest.fixture(scope="session")
def known_users(local: endpoints.Endpoints, live_redis: redis.Redis) -> list[int]:
    """Users with an interaction history, smallest ids first."""
    return health.users_with_history(live_redis, local.key_prefix)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A throwaway real redis-server on a free port (no persistence)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    else:
        process.kill()
        pytest.fail("redis-server did not start (is Debian's redis-server installed?)")
    yield "127.0.0.1", port
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def stack_outputs() -> dict[str, dict]:
    """Each committed stack's outputs, from the Pulumi program under mocks (never written
    by hand: a change to what the program exports reaches these tests)."""
    return {stack: rehearsal.stack_outputs(stack) for stack in environments.cloud_stacks()}
