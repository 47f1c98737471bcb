"""Where an environment's services answer, as recorded by playbooks/endpoints.yml."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pipelines.serving import redis_client

from .environments import Environment


class NotDeployed(RuntimeError):
    pass


@dataclass(frozen=True)
class Endpoints:
    environment: str
    key_prefix: str
    feast_project: str
    # The Feast repository on the first trainer host (readable from here when local).
    feast_repo: str
    redis_hosts: tuple[str, ...]
    redis_port: int
    redis_cluster: bool
    redis_user: str
    kafka_hosts: tuple[str, ...]
    kafka_port: int
    kafka_topics: tuple[str, ...]
    triton_hosts: tuple[str, ...]
    triton_http_port: int
    triton_grpc_port: int
    triton_metrics_port: int

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Endpoints:
        kafka = raw["kafka"]
        return cls(
            environment=raw["environment"],
            key_prefix=raw["key_prefix"],
            feast_project=raw["feast_project"],
            feast_repo=raw["feast_repo"],
            redis_hosts=tuple(raw["redis"]["hosts"]),
            redis_port=raw["redis"]["port"],
            redis_cluster=raw["redis"]["cluster"],
            redis_user=raw["redis"]["user"],
            kafka_hosts=tuple(kafka["hosts"]),
            kafka_port=kafka["port"],
            kafka_topics=tuple(kafka["topics"]),
            triton_hosts=tuple(raw["triton"]["hosts"]),
            triton_http_port=raw["triton"]["http_port"],
            triton_grpc_port=raw["triton"]["grpc_port"],
            triton_metrics_port=raw["triton"]["metrics_port"],
        )

    @property
    def kafka_bootstrap(self) -> str:
        return ",".join(f"{host}:{self.kafka_port}" for host in self.kafka_hosts)

    def redis_client(self, password: str = "", host: str | None = None):
        """A client of the environment's Redis (cluster-aware, logged in when it has a
        user), like the serving path's; `host` picks one node instead of the seed."""
        return redis_client.connect(
            [host] if host else list(self.redis_hosts),
            self.redis_port,
            cluster=self.redis_cluster and host is None,
            username=self.redis_user,
            password=password,
            timeout_s=5,
        )

    def grpc_url(self, host: str | None = None) -> str:
        return f"{host or self.triton_hosts[0]}:{self.triton_grpc_port}"

    def http_url(self, host: str | None = None) -> str:
        return f"{host or self.triton_hosts[0]}:{self.triton_http_port}"


def load(env: Environment) -> Endpoints:
    try:
        raw = json.loads(env.endpoints_file.read_text())
    except FileNotFoundError:
        raise NotDeployed(
            f"no endpoints recorded for {env.name!r}: deploy it first with `recstack up {env.name}`"
        ) from None
    return Endpoints.from_json(raw)
