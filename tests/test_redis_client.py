"""The serving path's Redis client fails fast when Redis is unreachable."""

from __future__ import annotations

import socket
import time

import pytest
import redis

from pipelines.serving import feast_layout
from pipelines.serving.redis_client import client_from_env
from recstack_contract.redis import RedisConnection


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_redis_fails_within_the_timeout() -> None:
    client = client_from_env(
        {**RedisConnection(port=_unused_port()).environment(), "RECSTACK_REDIS_TIMEOUT_S": "0.5"}
    )
    layout = feast_layout.FeastViewLayout("p", "v", "user_id", ("a",))
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        feast_layout.read_rows(client, layout, [1])
    assert time.monotonic() - started < 2.0


def test_settings_come_from_the_environment(redis_server: tuple[str, int]) -> None:
    host, port = redis_server
    client = client_from_env(RedisConnection((host,), port).environment())
    assert client.ping()
    assert client.connection_pool.connection_kwargs["socket_timeout"] == 1.0
