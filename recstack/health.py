"""Probes of each deployed component, shared by `recstack status` and the smoke tests.

Each probe returns a Check whose `hint` is the first thing an on-call engineer should
look at when it fails.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis
import tritonclient.http as httpclient
from confluent_kafka.admin import AdminClient
from tritonclient.utils import InferenceServerException

from pipelines.serving import keys
from pipelines.serving import service_status as processor_status
from pipelines.serving.kafka_client import client_config
from recstack_contract.kafka import KafkaEndpoint
from recstack_contract.secrets import TRITON_ADMIN_TOKEN

from .client import admin_headers
from .endpoints import Endpoints


def service_hint(name: str) -> str:
    """Where to look first when the service recstack-<name> does not answer."""
    return (
        f"is recstack-{name} running? `supervisorctl status recstack-{name}` "
        f"(or `systemctl status recstack-{name}`); log: /var/log/recstack/{name}/"
    )


@dataclass(frozen=True)
class Check:
    component: str
    endpoint: str
    ok: bool
    detail: str
    hint: str = ""


def check_redis(where: Endpoints, host: str, password: str) -> Check:
    """One node (not the cluster): it answers PING to the environment's user."""
    endpoint = f"{host}:{where.redis_port}"
    try:
        client = where.redis_client(password, host=host)
        client.ping()
        info = client.info("keyspace")
        keys = sum(db.get("keys", 0) for db in info.values() if isinstance(db, dict))
        return Check("redis", endpoint, True, f"PONG, {keys} keys")
    except redis.RedisError as exc:
        return Check(
            "redis",
            endpoint,
            False,
            str(exc),
            service_hint("redis"),
        )


def users_with_history(client, key_prefix: str) -> list[int]:
    """Every user with an interaction history (a `seen` set), smallest id first."""
    pattern = keys.seen_pattern(key_prefix)
    return sorted(int(k.rsplit(b":", 1)[1]) for k in client.scan_iter(pattern, count=1000))


def cluster_nodes(client) -> list[dict]:
    """CLUSTER NODES of one node, parsed: id, host, flags, master_id, link, slots."""
    nodes = []
    for line in client.execute_command("CLUSTER", "NODES").decode().splitlines():
        fields = line.split()
        nodes.append(
            {
                "id": fields[0],
                "host": fields[1].split(":")[0],
                "flags": set(fields[2].split(",")),
                "master_id": fields[3],
                "link": fields[7],
                "slots": fields[8:],
            }
        )
    return nodes


def kafka_topics(endpoint: KafkaEndpoint, timeout_s: float = 5.0) -> set[str]:
    admin = AdminClient({**client_config(endpoint), "socket.timeout.ms": int(timeout_s * 1000)})
    return set(admin.list_topics(timeout=timeout_s).topics)


def check_kafka(endpoint: KafkaEndpoint, expected: tuple[str, ...]) -> Check:
    """The broker answers metadata with every expected topic."""
    if endpoint.auth == "none":
        hint = (
            "is the broker running? supervisorctl status recstack-kafka; "
            "log: /var/log/recstack/kafka/"
        )
    else:
        hint = (
            f"MSK ({endpoint.auth}): may this host reach the brokers (security group) and "
            "authenticate (its role's kafka-cluster permissions, or the SCRAM secret)?"
        )
    try:
        topics = kafka_topics(endpoint)
    except Exception as exc:  # confluent-kafka raises KafkaException or plain errors
        return Check("kafka", endpoint.bootstrap, False, f"no metadata: {exc}", hint)
    missing = sorted(set(expected) - topics)
    if missing:
        return Check(
            "kafka",
            endpoint.bootstrap,
            False,
            f"missing topics {', '.join(missing)}",
            "the broker keeps topics in memory: rerun `recstack up` to recreate them",
        )
    return Check("kafka", endpoint.bootstrap, True, f"{len(topics)} topics")


# Triton answers 403 to a restricted API without the right admin header.
ADMIN_TOKEN_HINT = (
    f"Triton refused the admin token: it comes from {TRITON_ADMIN_TOKEN.environment} if set, "
    "else .recstack/<env>/secrets.json, and must be the value the environment was deployed "
    "with (`recstack up` writes it)"
)


def triton_model_states(url: str, admin_token: str) -> dict[str, str]:
    """Every model in the repository and its state (a restricted API: needs the token)."""
    client = httpclient.InferenceServerClient(url, network_timeout=5.0)
    index = client.get_model_repository_index(headers=admin_headers(admin_token, "http"))
    return {m["name"]: m.get("state", "UNKNOWN") for m in index}


def check_triton(url: str, admin_token: str) -> Check:
    hint = service_hint("triton")
    try:
        client = httpclient.InferenceServerClient(url, network_timeout=5.0)
        if not client.is_server_ready():
            return Check("triton", url, False, "server not ready", hint)
        states = triton_model_states(url, admin_token)
    except Exception as exc:  # connection refused, timeouts, protocol errors, a refusal
        refused = isinstance(exc, InferenceServerException) and exc.status() == "403"
        return Check("triton", url, False, str(exc), ADMIN_TOKEN_HINT if refused else hint)
    not_ready = sorted(name for name, state in states.items() if state != "READY")
    if not states or not_ready:
        return Check(
            "triton",
            url,
            False,
            f"models not ready: {', '.join(not_ready) or 'none loaded'}",
            "the Triton log says why a model failed to load: /var/log/recstack/triton/",
        )
    return Check("triton", url, True, f"{len(states)} models ready")


def _reported(where: Endpoints, password: str, service: str, key: str, name: str):
    """A streaming service's fresh status record, or the Check that says why there is none."""
    try:
        state = processor_status.read(where.redis_client(password), key)
    except redis.RedisError as exc:
        return Check(service, name, False, f"Redis: {exc}", service_hint("redis"))
    hint = service_hint(service) + f" on {name}"
    if not state:
        return Check(service, name, False, "has never reported", hint)
    age = time.time() - float(state["reported_at"])
    if age > processor_status.STALE_AFTER_S:
        return Check(service, name, False, f"last report {age:.0f} s ago", hint)
    return state


def _skips(state: dict[str, str]) -> str:
    reasons = sorted(k.removeprefix("skipped:") for k in state if k.startswith("skipped:"))
    return f"{state['skipped']} skipped" + (f" ({', '.join(reasons)})" if reasons else "")


def check_stream_processor(where: Endpoints, password: str, name: str) -> Check:
    key = keys.stream_processor(where.key_prefix, name)
    state = _reported(where, password, "stream-processor", key, name)
    if isinstance(state, Check):
        return state
    if state["joined"] != "true":
        return Check(
            "stream-processor",
            name,
            False,
            "not in its consumer group yet",
            "the brokers must be reachable from the trainer: recstack status (kafka), then "
            "the processor's log",
        )
    dead = int(state["dead_lettered"])
    detail = (
        f"lag {state['lag']} events, partitions [{state['partitions']}], "
        f"{state['applied']} applied, {dead} dead-lettered, newest applied event "
        f"{state['applied_delay_s']} s old when applied"
    )
    return Check("stream-processor", name, True, detail)


def _described(
    where: Endpoints, password: str, service: str, key: str, name: str, describe
) -> Check:
    """Up with describe(its record) when the service reports, else why it is down."""
    state = _reported(where, password, service, key, name)
    return state if isinstance(state, Check) else Check(service, name, True, describe(state))


def _updater_detail(state: dict[str, str]) -> str:
    return (
        f"group {state['group']}: {state['messages']} messages, {state['rows']} rows "
        f"written, {_skips(state)}"
    )


def check_hps_updater(where: Endpoints, password: str, name: str) -> Check:
    """The Redis tier's updater on the trainer host `name`."""
    key = keys.hps_updater(where.key_prefix, "volatile", name)
    return _described(where, password, "hps-updater", key, name, _updater_detail)


def check_rocksdb_updater(where: Endpoints, password: str, name: str) -> Check:
    """The RocksDB tier's updater on the serving host `name`."""
    key = keys.hps_updater(where.key_prefix, "persistent", name)
    return _described(where, password, "hps-rocksdb-updater", key, name, _updater_detail)


def check_online_trainer(where: Endpoints, password: str, name: str) -> Check:
    return _described(
        where,
        password,
        "online-trainer",
        keys.online_trainer(where.key_prefix, name),
        name,
        lambda state: (
            f"model {state['model_version']}: {state['trained']} of {state['events']} "
            f"events trained, {state['rows_published']} rows published, last loss "
            f"{state['loss']}, {_skips(state)}"
        ),
    )


def check_all(endpoints: Endpoints, password: str, triton_admin_token: str) -> list[Check]:
    checks = [check_redis(endpoints, host, password) for host in endpoints.redis_hosts]
    checks.append(check_kafka(endpoints.kafka, endpoints.kafka_topics))
    for check in (check_stream_processor, check_hps_updater, check_online_trainer):
        checks += [check(endpoints, password, name) for name in endpoints.trainer_hosts]
    checks += [check_rocksdb_updater(endpoints, password, n) for n in endpoints.serving_hosts]
    checks += [
        check_triton(endpoints.http_url(host), triton_admin_token)
        for host in endpoints.triton_hosts
    ]
    return checks
