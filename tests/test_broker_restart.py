"""After the local broker crashes (memory storage: it comes back without topics,
messages or consumer offsets), the next `recstack up` creates the topics again and
restarts the stream processor, whose consumer would otherwise stay without partitions:
a click sent afterwards reaches the user's history. Runs after the idempotence check
(`make test`), because this deployment changes things on purpose."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import redis

from pipelines.serving import keys
from pipelines.streaming.events import EventProducer
from recstack.endpoints import Endpoints

pytestmark = pytest.mark.broker_restart

BROKER, PROCESSOR = "recstack-kafka", "recstack-stream-processor"


def pid_of(program: str) -> int:
    out = subprocess.run(["supervisorctl", "pid", program], capture_output=True, text=True)
    assert out.stdout.strip().isdigit(), f"{program} is not running: {out.stdout}"
    return int(out.stdout)


def wait_for_port(bootstrap: str, timeout_s: float) -> None:
    host, port = bootstrap.split(",")[0].rsplit(":", 1)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"the broker is not back on {bootstrap}"
            time.sleep(0.2)


def test_a_click_after_a_broker_crash_and_a_redeploy_reaches_the_history(
    local: Endpoints, live_redis: redis.Redis, known_users: list[int]
) -> None:
    broker, processor = pid_of(BROKER), pid_of(PROCESSOR)
    os.kill(broker, signal.SIGKILL)  # the service manager restarts it, empty
    deadline = time.monotonic() + 30
    while (restarted := pid_of(BROKER)) == broker:
        assert time.monotonic() < deadline, "the service manager did not restart the broker"
        time.sleep(0.2)
    wait_for_port(local.kafka.bootstrap, 30)

    deployed = subprocess.run(
        [sys.executable, "-m", "recstack.cli", "up", "local"], capture_output=True, text=True
    )
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-2000:]
    assert pid_of(BROKER) == restarted, "the deployment restarted the broker again"
    assert pid_of(PROCESSOR) != processor, "the stream processor was not restarted"

    user = known_users[0]
    seen = keys.seen(local.key_prefix, user)
    history = {int(i) for i in live_redis.smembers(seen)}
    item = next(i for i in range(local.data.n_items) if i not in history)
    producer = EventProducer(local.kafka)
    producer.send(user, item, "click")
    producer.flush()
    deadline = time.monotonic() + 10
    while not live_redis.sismember(seen, item):
        assert time.monotonic() < deadline, "the click did not reach the history within 10 s"
        time.sleep(0.1)
