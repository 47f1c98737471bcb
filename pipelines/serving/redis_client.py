"""The serving path's Redis connection, configured by the process environment.

RECSTACK_REDIS_HOST (127.0.0.1; in cluster mode a comma-separated list of seed nodes, so
a client starts even when one of them is down), RECSTACK_REDIS_PORT (6379),
RECSTACK_REDIS_USERNAME and RECSTACK_REDIS_PASSWORD (empty: no AUTH),
RECSTACK_REDIS_CLUSTER ("1": cluster client), RECSTACK_REDIS_TIMEOUT_S (1.0) and
RECSTACK_REDIS_RETRIES (1).
The environment, not a file in the model repository, carries them: the password never
lands in an artifact, and one repository serves every environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry


def client_from_env(env: Mapping[str, str] = os.environ) -> redis.Redis | RedisCluster:
    """The serving path's client, from the variables above."""
    return connect(
        env.get("RECSTACK_REDIS_HOST", "127.0.0.1").split(","),
        int(env.get("RECSTACK_REDIS_PORT", "6379")),
        cluster=env.get("RECSTACK_REDIS_CLUSTER") == "1",
        username=env.get("RECSTACK_REDIS_USERNAME", ""),
        password=env.get("RECSTACK_REDIS_PASSWORD", ""),
        timeout_s=float(env.get("RECSTACK_REDIS_TIMEOUT_S", "1.0")),
        retries=int(env.get("RECSTACK_REDIS_RETRIES", "1")),
    )


def connect(
    hosts: Sequence[str],
    port: int,
    *,
    cluster: bool = False,
    username: str = "",
    password: str = "",
    timeout_s: float = 1.0,
    retries: int = 1,
) -> redis.Redis | RedisCluster:
    """A client of `hosts` (seed nodes when `cluster`, else the first one); an empty
    username or password means none."""
    options = {
        "username": username or None,
        "password": password or None,
        # A Redis that is down or stuck must fail the request quickly rather than hold a
        # Triton instance: short timeouts, and an immediate retry at most (the client's
        # default backs off for seconds).
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
        "retry": Retry(NoBackoff(), retries),
    }
    if cluster:
        return RedisCluster(startup_nodes=[ClusterNode(h, port) for h in hosts], **options)
    return redis.Redis(host=hosts[0], port=port, **options)
