"""Where an environment's services answer, as recorded by playbooks/endpoints.yml from the
variables every environment defines alike (inventories/common/group_vars, or a cloud
stack's exported group_vars)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pipelines.config import DataConfig
from pipelines.config import from_mapping as pipeline_config
from pipelines.serving import redis_client
from recstack_contract.kafka import KafkaEndpoint
from recstack_contract.redis import RedisConnection

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
    # The data the pipelines were given (its source; for synthetic data, the model
    # that traffic simulations follow).
    data: DataConfig
    # selfhosted (the kit's servers on the `redis` hosts) or a managed service.
    redis_mode: str
    # How clients reach Redis (the contract's structure); the password is a secret.
    redis: RedisConnection
    kafka: KafkaEndpoint
    kafka_topics: tuple[str, ...]
    # The trainer hosts' inventory names: each runs a stream processor, an HPS updater
    # of the Redis tier and an online trainer, which report under that name.
    trainer_hosts: tuple[str, ...]
    # The serving hosts' inventory names: each runs the RocksDB tier's HPS updater, which
    # reports under that name.
    serving_hosts: tuple[str, ...]
    # Where clients reach Triton: each host, or a cloud stack's load balancer.
    triton_hosts: tuple[str, ...]
    triton_http_port: int
    triton_grpc_port: int
    triton_metrics_port: int

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Endpoints:
        return cls(
            environment=raw["environment"],
            key_prefix=raw["key_prefix"],
            feast_project=raw["feast_project"],
            feast_repo=raw["feast_repo"],
            data=pipeline_config({"data": raw["data"]}).validate().data,
            redis_mode=raw["redis_mode"],
            redis=RedisConnection.from_mapping(raw["redis"]),
            kafka=KafkaEndpoint.from_mapping(raw["kafka"]),
            kafka_topics=tuple(raw["kafka_topics"]),
            trainer_hosts=tuple(raw["trainer_hosts"]),
            serving_hosts=tuple(raw["serving_hosts"]),
            triton_hosts=tuple(raw["triton"]["hosts"]),
            triton_http_port=raw["triton"]["http_port"],
            triton_grpc_port=raw["triton"]["grpc_port"],
            triton_metrics_port=raw["triton"]["metrics_port"],
        )

    @property
    def redis_hosts(self) -> tuple[str, ...]:
        return self.redis.hosts

    @property
    def redis_port(self) -> int:
        return self.redis.port

    def redis_client(self, password: str = "", host: str | None = None):
        """A client of the environment's Redis (cluster-aware, logged in when it has a
        user), like the serving path's; `host` picks one node instead of the seed."""
        return redis_client.connect(self.redis, password, host=host, timeout_s=5)

    def grpc_url(self, host: str | None = None) -> str:
        return f"{host or self.triton_hosts[0]}:{self.triton_grpc_port}"

    def http_url(self, host: str | None = None) -> str:
        return f"{host or self.triton_hosts[0]}:{self.triton_http_port}"

    def metrics_url(self, host: str | None = None) -> str:
        """Triton's Prometheus endpoint (the stages' own metrics are there too)."""
        return f"http://{host or self.triton_hosts[0]}:{self.triton_metrics_port}/metrics"


def load(env: Environment) -> Endpoints:
    try:
        raw = json.loads(env.endpoints_file.read_text())
    except FileNotFoundError:
        raise NotDeployed(
            f"no endpoints recorded for {env.name!r}: deploy it first with `recstack up {env.name}`"
        ) from None
    return Endpoints.from_json(raw)
