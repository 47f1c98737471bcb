"""Kafka clients on the trainer hosts (not the broker's host) produce to the broker and
consume what they produced, through a consumer group of their own."""

from __future__ import annotations

import shlex
import uuid

import testinfra

from recstack.endpoints import Endpoints
from recstack.environments import Environment

# The trainer's own environment (roles/pipelines installs the project, with confluent-kafka,
# into <pipelines_install_dir>/venv; the default directory is /opt/recstack/app).
PYTHON = "/opt/recstack/app/venv/bin/python"

ROUND_TRIP = """
import json, sys, time
from confluent_kafka import Consumer, Producer
bootstrap, topic, marker = sys.argv[1:4]
producer = Producer({"bootstrap.servers": bootstrap})
producer.produce(topic, key=marker, value=json.dumps({"probe": marker}))
assert producer.flush(10) == 0, "message not delivered"
consumer = Consumer({
    "bootstrap.servers": bootstrap, "group.id": "smoke-" + marker,
    "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
})
consumer.subscribe([topic])
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    message = consumer.poll(1.0)
    if message is not None and not message.error() and message.key() == marker.encode():
        print("ok")
        break
consumer.close()
"""


# The deployment's topic for probes, which nothing else consumes.
PROBES = "recstack.probes"


def test_trainers_produce_and_consume_through_the_broker(
    environment: Environment, where: Endpoints
) -> None:
    assert PROBES in where.kafka_topics, f"kafka: the deployment creates no {PROBES} topic"
    trainers = testinfra.get_hosts(
        ["ansible://trainer"], ansible_inventory=str(environment.inventory)
    )
    assert trainers, "no trainer host in the inventory"
    for host in trainers:
        marker = uuid.uuid4().hex
        result = host.run(
            f"{PYTHON} -c {shlex.quote(ROUND_TRIP)} {where.kafka_bootstrap} {PROBES} {marker}"
        )
        assert result.rc == 0 and result.stdout.strip() == "ok", (
            f"kafka from {host.backend.hostname}: the round trip through {where.kafka_bootstrap} "
            f"failed → is the broker reachable from there? ({result.stderr[-500:]})"
        )
