"""Shared fixtures: a throwaway Redis for unit tests, and the live `local` environment for
the tests marked `deployed` (they need `recstack up local` first)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster

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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_redis(workdir: Path, *options: str) -> tuple[subprocess.Popen, int]:
    """A real redis-server on a free port (no persistence), once it answers."""
    port = _free_port()
    command = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    process = subprocess.Popen(
        [*command, "--dir", str(workdir), *options], stdout=subprocess.DEVNULL
    )
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            return process, port
        except redis.ConnectionError:
            time.sleep(0.05)
    process.kill()
    pytest.fail("redis-server did not start (is Debian's redis-server installed?)")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A throwaway real redis-server on a free port (no persistence)."""
    process, port = _start_redis(tmp_path_factory.mktemp("redis"))
    yield "127.0.0.1", port
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """A throwaway three-master Redis cluster, for what must also work across slots."""
    nodes = [
        _start_redis(tmp_path_factory.mktemp("cluster"), "--cluster-enabled", "yes")
        for _ in range(3)
    ]
    addresses = [f"127.0.0.1:{port}" for _, port in nodes]
    subprocess.run(
        ["redis-cli", "--cluster", "create", *addresses, "--cluster-yes"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    client = RedisCluster(host="127.0.0.1", port=nodes[0][1])
    for _ in range(100):
        if client.cluster_info().get("cluster_state") == "ok":
            break
        time.sleep(0.05)
    yield client
    client.close()
    for process, _ in nodes:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def stack_outputs() -> dict[str, dict]:
    """Each committed stack's outputs, from the Pulumi program under mocks (never written
    by hand: a change to what the program exports reaches these tests)."""
    return {stack: rehearsal.stack_outputs(stack) for stack in environments.cloud_stacks()}
