"""Kafka clients on the trainer hosts (not the broker's host) produce to the broker and
consume what they produced, through a consumer group of their own."""

from __future__ import annotations

import shlex
import uuid

import testinfra

from recstack.endpoints import Endpoints
from recstack.environments import Environment
from recstack_contract.kafka import PROBES

# The trainer's own environment (roles/pipelines installs the project, with confluent-kafka
# and its Kafka client settings, into <pipelines_install_dir>/venv; the default directory
# is /opt/recstack/app).
PYTHON = "/opt/recstack/app/venv/bin/python"

# The trainer builds its clients from the endpoint it is given, as every recstack process
# does; on MSK that signs its IAM token or reads the SCRAM secret there, with its own role.
ROUND_TRIP = """
import json, sys, time
from confluent_kafka import Consumer, Producer
from pipelines.serving.kafka_client import client_config
from recstack_contract.kafka import from_environment
topic, marker = sys.argv[1:3]
config = client_config(from_environment())
producer = Producer(config)
producer.produce(topic, key=marker, value=json.dumps({"probe": marker}))
assert producer.flush(10) == 0, "message not delivered"
consumer = Consumer({
    **config, "group.id": "smoke-" + marker,
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


def test_trainers_produce_and_consume_through_the_broker(
    environment: Environment, where: Endpoints
) -> None:
    assert PROBES.name in where.kafka_topics, (
        f"kafka: the deployment creates no {PROBES.name} topic"
    )
    # The clients on the trainers get the environment's endpoint, as every Kafka client.
    endpoint = where.kafka
    variables = " ".join(f"{k}={shlex.quote(v)}" for k, v in endpoint.environment().items())
    trainers = testinfra.get_hosts(
        ["ansible://trainer"], ansible_inventory=str(environment.inventory)
    )
    assert trainers, "no trainer host in the inventory"
    for host in trainers:
        marker = uuid.uuid4().hex
        result = host.run(
            f"{variables} {PYTHON} -c {shlex.quote(ROUND_TRIP)} {PROBES.name} {marker}"
        )
        assert result.rc == 0 and result.stdout.strip() == "ok", (
            f"kafka from {host.backend.hostname}: the round trip through {endpoint.bootstrap} "
            f"failed → is the broker reachable from there? ({result.stderr[-500:]})"
        )
