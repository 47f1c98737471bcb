"""After the local broker crashes (memory storage: it comes back without topics,
messages or consumer offsets), the next `recstack up` creates the topics again and,
seeing the interactions topic's new id, restarts the stream processor, whose consumer
would otherwise stay without partitions: a click sent afterwards reaches the user's
history. Runs after the idempotence check (`make test`), because this deployment
changes things on purpose."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
import redis

from pipelines.serving import keys
from pipelines.streaming.events import EventProducer
from recstack.endpoints import Endpoints

pytestmark = pytest.mark.broker_restart

BROKER, PROCESSOR = "recstack-kafka", "recstack-stream-processor"


def test_a_click_after_a_broker_crash_and_a_redeploy_reaches_the_history(
    local: Endpoints,
    live_redis: redis.Redis,
    known_users: list[int],
    program_pid: Callable[[str], int | None],
) -> None:
    broker = program_pid(BROKER)
    assert broker is not None, f"{BROKER} is not running"
    os.kill(broker, signal.SIGKILL)  # the service manager restarts it, empty
    deadline = time.monotonic() + 30
    while (restarted := program_pid(BROKER)) in (None, broker):
        assert time.monotonic() < deadline, "the service manager did not restart the broker"
        time.sleep(0.2)
    # Read now: the deployment (which waits for the broker's port itself), not anything
    # before it, must restart the processor.
    processor = program_pid(PROCESSOR)
    assert processor is not None, f"{PROCESSOR} is not running"

    deployed = subprocess.run(
        [sys.executable, "-m", "recstack.cli", "up", "local"], capture_output=True, text=True
    )
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-2000:]
    assert program_pid(BROKER) == restarted, "the deployment restarted the broker again"
    assert program_pid(PROCESSOR) not in (None, processor), "the processor was not restarted"

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
