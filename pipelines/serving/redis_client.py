"""The Redis client every recstack process uses, from the contract's connection structure.

Processes get the structure (hosts, port, cluster, tls, ca_file, user) as
RECSTACK_REDIS_<FIELD> and the password as RECSTACK_REDIS_PASSWORD (or a 0600 file named
by RECSTACK_REDIS_PASSWORD_FILE); recstack_contract/redis.py defines both. Two serving knobs
stay local: RECSTACK_REDIS_TIMEOUT_S (1.0) and RECSTACK_REDIS_RETRIES (1).
The environment, not a file in the model repository, carries them: the password never
lands in an artifact, and one repository serves every environment.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry

from recstack_contract.redis import RedisConnection, from_environment


def client_from_env(env: Mapping[str, str] = os.environ) -> redis.Redis | RedisCluster:
    """The serving path's client, from the variables above."""
    connection, password = from_environment(env)
    return connect(
        connection,
        password,
        timeout_s=float(env.get("RECSTACK_REDIS_TIMEOUT_S", "1.0")),
        retries=int(env.get("RECSTACK_REDIS_RETRIES", "1")),
    )


def connect(
    connection: RedisConnection,
    password: str = "",
    *,
    host: str | None = None,
    timeout_s: float = 1.0,
    retries: int = 1,
) -> redis.Redis | RedisCluster:
    """A client of `connection` (its hosts are seed nodes in cluster mode, else the first
    one is the server); `host` talks to that one node instead. Empty user or password
    means none. TLS always verifies the server's certificate and name."""
    if host is not None:
        connection = dataclasses.replace(connection, hosts=(host,), cluster=False)
    options = {
        "username": connection.user or None,
        "password": password or None,
        # A Redis that is down or stuck must fail the request quickly rather than hold a
        # Triton instance: short timeouts, and an immediate retry at most (the client's
        # default backs off for seconds).
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
        "retry": Retry(NoBackoff(), retries),
    }
    if connection.tls:
        options |= {
            "ssl": True,
            "ssl_cert_reqs": "required",
            "ssl_check_hostname": True,
            "ssl_ca_certs": connection.ca_file or None,
        }
    if connection.cluster:
        nodes = [ClusterNode(h, connection.port) for h in connection.hosts]
        return RedisCluster(startup_nodes=nodes, **options)
    return redis.Redis(host=connection.hosts[0], port=connection.port, **options)
