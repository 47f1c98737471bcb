"""Shared fixtures: a throwaway Redis for unit tests, and the live `local` environment for
the tests marked `deployed` (they need `recstack up local` first)."""

from __future__ import annotations

import random
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from pipelines.hugectr import trainer
from pipelines.serving.kafka_client import committed_lag
from recstack import endpoints, environments, health, rehearsal
from recstack_contract.kafka import EMBEDDINGS, hps_persistent_group


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


@pytest.fixture
def training_settled(local: endpoints.Endpoints) -> None:
    """Every interaction the earlier tests sent is trained and its rows are in Redis and
    this host's RocksDB, so that nothing rewrites embedding rows while a test looks at
    them (tests run one at a time)."""
    deadline = time.monotonic() + 120
    rocksdb_group = hps_persistent_group(socket.gethostname())
    while not trainer.settled(local.kafka) or committed_lag(local.kafka, rocksdb_group, EMBEDDINGS):
        assert time.monotonic() < deadline, "online training did not catch up within 120 s"
        time.sleep(0.2)


def _program_pid(program: str) -> int | None:
    """The pid of a supervisor program of the local environment; None while it is not
    running (supervisorctl says 0 between a crash and the restart)."""
    out = subprocess.run(["supervisorctl", "pid", program], capture_output=True, text=True)
    pid = out.stdout.strip()
    return int(pid) if pid.isdigit() and int(pid) > 0 else None


@pytest.fixture(scope="session")
def program_pid() -> Callable[[str], int | None]:
    return _program_pid


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    rng = random.Random()
    while True:
        port = rng.randrange(20000, 55000)
        if _is_free(port) and _is_free(port + 10000):
            return port


def _start_redis(workdir: Path, *options: str) -> tuple[subprocess.Popen, int]:
    """A real redis-server on a free port (no persistence), once it answers."""
    port = _free_port()
    command = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    process = subprocess.Popen(
        [*command, "--dir", str(workdir), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # No retries of its own: the loop below is the only wait.
    client = redis.Redis(port=port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    for _ in range(100):
        if process.poll() is not None:
            pytest.fail(f"redis-server exited at start: {process.stdout.read()[-1000:]}")
        try:
            client.ping()
            return process, port
        except redis.ConnectionError:
            time.sleep(0.05)
    process.kill()
    pytest.fail("redis-server did not start within 5 s (is Debian's redis-server installed?)")


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
    # Every node must see the cluster as ok: one that does not yet answers a write to a
    # slot it serves with CLUSTERDOWN.
    members = [redis.Redis(port=port) for _, port in nodes]
    for _ in range(200):
        states = [member.cluster("info")["cluster_state"] for member in members]
        if states == ["ok"] * len(nodes):
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the test Redis cluster is not ok after 10 s: {states}")
    for member in members:
        member.close()
    client = RedisCluster(host="127.0.0.1", port=nodes[0][1])
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
