"""How every client reaches Redis: one connection structure plus one secret.

The structure (hosts, port, cluster, tls, ca_file, user) travels in the environment
variables RECSTACK_REDIS_<FIELD> (RedisConnection.environment()); the password
separately, as the secret `redis_password` (secrets.py). Pipelines, Feast, the Triton
stages, the CLI and the smoke tests all read it this way. Deployments set it from the
Ansible variable `recstack_redis` (the same keys), which an inventory derives from its
`redis` hosts or a cloud stack exports as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .ports import PORTS
from .secrets import REDIS_PASSWORD

# Prefix of every key the pipelines and the serving path own (pipelines/serving/keys.py).
KEY_PREFIX = "recstack"
# The ACL user clients log in as where the kit runs the Redis servers itself (testbed,
# self-hosted cloud clusters). Managed Redis (ElastiCache's AUTH token, Redis Cloud)
# uses the default user.
ACL_USER = "recstack"
# How a stack provides Redis: the kit's own cluster on its `redis` hosts, or a managed
# service that no server role touches.
MODES = ("selfhosted", "elasticache", "redis_cloud")
# Processes get the structure as RECSTACK_REDIS_HOSTS, RECSTACK_REDIS_PORT, ...
ENVIRONMENT_PREFIX = "RECSTACK_REDIS_"
FIELDS = ("hosts", "port", "cluster", "tls", "ca_file", "user")


@dataclass(frozen=True)
class RedisConnection:
    # Seed nodes in cluster mode (a client starts while any one of them answers), else
    # the first one is the server.
    hosts: tuple[str, ...] = ("127.0.0.1",)
    port: int = PORTS.redis
    cluster: bool = False
    # TLS with certificate verification; ca_file empty = the system trust store.
    tls: bool = False
    ca_file: str = ""
    # ACL user (empty: the default user).
    user: str = ""

    def as_mapping(self) -> dict[str, Any]:
        """The structure as plain values: the Ansible variable `recstack_redis`."""
        return {
            "hosts": list(self.hosts),
            "port": self.port,
            "cluster": self.cluster,
            "tls": self.tls,
            "ca_file": self.ca_file,
            "user": self.user,
        }

    def environment(self) -> dict[str, str]:
        """The structure as process environment variables, RECSTACK_REDIS_<FIELD>: plain
        values (no quoting needed by any service manager), read back by
        from_environment()."""
        return {
            _variable("hosts"): ",".join(self.hosts),
            _variable("port"): str(self.port),
            _variable("cluster"): "true" if self.cluster else "false",
            _variable("tls"): "true" if self.tls else "false",
            _variable("ca_file"): self.ca_file,
            _variable("user"): self.user,
        }

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> RedisConnection:
        """From the structure's keys; unknown keys and wrong types fail by name."""
        unknown = sorted(set(raw) - set(FIELDS))
        if unknown:
            raise ValueError(
                f"Redis connection: unknown key {unknown[0]!r}; expected {', '.join(FIELDS)}"
            )
        hosts = raw.get("hosts", cls.hosts)
        if isinstance(hosts, str):
            hosts = [h for h in hosts.split(",") if h]
        if (
            not isinstance(hosts, list | tuple)
            or not hosts
            or not all(isinstance(h, str) and h for h in hosts)
        ):
            raise ValueError("Redis connection: hosts must be a non-empty list of host names")
        port = raw.get("port", PORTS.redis)
        if isinstance(port, bool) or not isinstance(port, int | str) or not str(port).isdigit():
            raise ValueError(f"Redis connection: port must be an integer, got {port!r}")
        flags = {}
        for name in ("cluster", "tls"):
            value = raw.get(name, False)
            if not isinstance(value, bool):
                raise ValueError(f"Redis connection: {name} must be true or false, got {value!r}")
            flags[name] = value
        texts = {}
        for name in ("ca_file", "user"):
            value = raw.get(name) or ""
            if not isinstance(value, str):
                raise ValueError(f"Redis connection: {name} must be a string, got {value!r}")
            texts[name] = value
        return cls(hosts=tuple(hosts), port=int(port), **flags, **texts)


def from_environment(env: Mapping[str, str]) -> tuple[RedisConnection, str]:
    """The connection and password a process was given (RedisConnection.environment();
    unset fields take the defaults: local Redis, no TLS, no AUTH).

    The password comes from RECSTACK_REDIS_PASSWORD, or from the 0600 file named by
    RECSTACK_REDIS_PASSWORD_FILE.
    """
    raw: dict[str, Any] = {}
    for name in FIELDS:
        value = env.get(_variable(name))
        if value is None:
            continue
        if name in ("cluster", "tls"):
            if value not in ("true", "false"):
                raise ValueError(f"{_variable(name)} must be true or false, got {value!r}")
            raw[name] = value == "true"
        else:
            raw[name] = value
    connection = RedisConnection.from_mapping(raw)
    password = env.get(REDIS_PASSWORD.environment, "")
    password_file = env.get(REDIS_PASSWORD.environment_file, "")
    if not password and password_file:
        try:
            with open(password_file) as handle:
                password = handle.read().strip()
        except OSError as error:
            raise ValueError(
                f"{REDIS_PASSWORD.environment_file} names {password_file}, which cannot be "
                f"read ({error.strerror}): pass the password file the deployment wrote"
            ) from None
    return connection, password


def _variable(name: str) -> str:
    return f"{ENVIRONMENT_PREFIX}{name.upper()}"


def as_dict() -> dict[str, Any]:
    return {"key_prefix": KEY_PREFIX, "acl_user": ACL_USER, "modes": list(MODES)}
