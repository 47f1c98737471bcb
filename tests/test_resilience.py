"""Redis reads in the serving path ride out a short outage and degrade after a longer one,
against real redis-server processes."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import redis
from redis.exceptions import SlotNotCoveredError

from pipelines.serving import feast_layout, keys
from pipelines.serving.filtering import Exclusions
from pipelines.serving.redis_client import client_from_env
from pipelines.serving.resilience import RedisUnavailable, with_retries
from pipelines.serving.retrieval import read_user_features
from recstack_contract.redis import RedisConnection

LAYOUT = feast_layout.FeastViewLayout("p", "v", "user_id", ("a", "b"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _client(port: int) -> redis.Redis:
    return client_from_env(
        {**RedisConnection(port=port).environment(), "RECSTACK_REDIS_TIMEOUT_S": "0.2"}
    )


def test_a_redis_that_comes_back_within_the_budget_is_waited_for(tmp_path: Path) -> None:
    port = _free_port()
    started: list[subprocess.Popen] = []

    def start_later() -> None:
        time.sleep(0.6)
        started.append(
            subprocess.Popen(
                ["redis-server", "--port", str(port), "--save", "", "--dir", str(tmp_path)],
                stdout=subprocess.DEVNULL,
            )
        )

    starter = threading.Thread(target=start_later)
    starter.start()
    client = _client(port)
    began = time.monotonic()
    try:
        assert with_retries(client.ping, budget_s=5.0) is True
        assert time.monotonic() - began >= 0.5  # it did wait for the server
    finally:
        starter.join()
        for process in started:
            process.terminate()
            process.wait(timeout=10)


def test_an_outage_beyond_the_budget_raises_quickly() -> None:
    client = _client(_free_port())
    began = time.monotonic()
    with pytest.raises(RedisUnavailable, match=r"unavailable for 0\.5 s"):
        with_retries(client.ping, budget_s=0.5)
    assert time.monotonic() - began < 1.5


def test_unreadable_features_degrade_to_unknown_users() -> None:
    rows, found, degraded = read_user_features(_client(_free_port()), LAYOUT, np.array([1, 2]), 0.2)
    assert degraded is True
    assert found.tolist() == [False, False]
    assert np.isnan(rows).all() and rows.shape == (2, 2)


def test_exclusions_fall_back_to_the_last_known_blocklist(redis_server: tuple[str, int]) -> None:
    live = redis.Redis(host=redis_server[0], port=redis_server[1])
    live.sadd(keys.blocked("res"), 7)
    live.sadd(keys.seen("res", 1), 3)
    exclusions = Exclusions(live, "res", budget_s=0.2)
    seen, excluded, degraded = exclusions.fetch([1])
    assert (excluded.tolist(), seen[0].tolist(), degraded) == ([7], [3], False)

    exclusions._client = _client(_free_port())  # Redis goes away
    seen, excluded, degraded = exclusions.fetch([1])
    assert degraded is True
    assert excluded.tolist() == [7]  # still never recommends a blocked item
    assert seen[0].tolist() == []  # the history could not be read


def test_cluster_errors_count_as_transient() -> None:
    """The cluster client raises its own exceptions (not RedisErrors) while slots move."""
    attempts = []

    def read() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise SlotNotCoveredError("slot 42 not covered")
        return "ok"

    assert with_retries(read, budget_s=2.0, pause_s=0.01) == "ok"
    assert len(attempts) == 3


def test_a_stage_that_never_read_redis_still_excludes_the_exported_blocklist() -> None:
    exclusions = Exclusions(_client(_free_port()), "res", budget_s=0.2, known_blocked=[9, 4])
    _, excluded, degraded = exclusions.fetch([1])
    assert degraded and excluded.tolist() == [4, 9]
