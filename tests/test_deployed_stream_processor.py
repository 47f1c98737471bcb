"""The deployed stream processor is effectively once: during a 5,000-event run it is
killed with SIGKILL and restarted by its service manager, and afterwards every user's
history, activity state and streaming features are exactly what the events sent make
(none lost, none applied twice), also for events sent twice on purpose."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import redis

from pipelines.config import load_config
from pipelines.serving import feast_layout, keys
from pipelines.serving import service_status as processor_status
from pipelines.streaming import activity
from pipelines.streaming.events import EventProducer
from pipelines.streaming.processor import Known
from pipelines.streaming.store import STREAM_LAYOUT
from recstack.endpoints import Endpoints
from recstack_contract.events import Event

pytestmark = pytest.mark.deployed

EVENTS = 5000
RATE = 1000  # events per second
USERS = 40
# The pipeline config the local deployment renders (roles/pipelines).
PIPELINE_CONFIG = Path("/etc/recstack/pipeline.yml")
PROGRAM = "recstack-stream-processor"


def reset(client: redis.Redis, prefix: str, users: list[int]) -> None:
    """Forget the users' streamed state, so that only this run's events make it."""
    for user in users:
        client.delete(keys.activity(prefix, user), keys.seen(prefix, user))
        client.hdel(
            STREAM_LAYOUT.entity_key(user),
            *STREAM_LAYOUT.fields,
            feast_layout.timestamp_field(STREAM_LAYOUT.view),
        )


def draw(rng: random.Random, users: list[int], known: Known) -> list[Event]:
    items = sorted(known.categories)
    now = time.time()
    events = [
        Event(
            event_id=f"reliability-{rng.getrandbits(48):012x}-{n}",
            user_id=rng.choice(users),
            item_id=rng.choice(items),
            type=rng.choice(["impression", "impression", "click", "purchase"]),
            # Two hours back: some clicks fall out of their user's window.
            ts=now - rng.uniform(0, 7200),
        )
        for n in range(EVENTS)
    ]
    # A twentieth of them sent twice (a producer retrying), later on.
    for event in rng.sample(events, EVENTS // 20):
        events.insert(rng.randrange(events.index(event) + 1, len(events) + 1), event)
    return events


def activity_of(client: redis.Redis, key: str) -> dict[str, float]:
    return {m.decode(): s for m, s in client.zrange(key, 0, -1, withscores=True)}


def state(client: redis.Redis, prefix: str, users: list[int]) -> dict:
    rows, _ = feast_layout.read_rows(client, STREAM_LAYOUT, users)
    return {
        "features": [[int(v) if v == v else None for v in row] for row in rows],
        "activity": [
            {
                m.decode(): s
                for m, s in client.zrange(keys.activity(prefix, u), 0, -1, withscores=True)
            }
            for u in users
        ],
        "seen": [{int(i) for i in client.smembers(keys.seen(prefix, u))} for u in users],
    }


def expected_state(events: list[Event], users: list[int], known: Known) -> dict:
    frame = pd.DataFrame([e.__dict__ for e in events])
    latest = activity.latest_features(frame, known.categories).set_index("user_id")
    states = activity.states(frame)
    return {
        "features": [[int(latest.at[u, name]) for name in STREAM_LAYOUT.features] for u in users],
        "activity": [states[u] for u in users],
        "seen": [
            {e.item_id for e in events if e.user_id == u and e.type in ("click", "purchase")}
            for u in users
        ],
    }


def test_a_killed_processor_loses_nothing_and_applies_nothing_twice(
    local: Endpoints,
    live_redis: redis.Redis,
    known_users: list[int],
    program_pid: Callable[[str], int | None],
) -> None:
    cfg = load_config(PIPELINE_CONFIG)
    known = Known.load(cfg.paths.data_dir)
    prefix = local.key_prefix
    rng = random.Random(11)
    users = rng.sample(known_users, USERS)
    # Earlier events for these users must be applied before their state is forgotten.
    deadline = time.monotonic() + 60
    while (
        processor_status.read(live_redis, keys.stream_processor(prefix, "localhost")).get("lag")
        != "0"
    ):
        assert time.monotonic() < deadline, "the processor's lag did not reach 0 within 60 s"
        time.sleep(0.5)
    reset(live_redis, prefix, users)
    events = draw(rng, users, known)

    killed: dict[str, int] = {}

    def kill_midway() -> None:
        while sent < len(events) // 2:
            time.sleep(0.01)
        pid = program_pid(PROGRAM)
        assert pid is not None, f"{PROGRAM} is not running"
        os.kill(pid, signal.SIGKILL)
        killed.update(pid=pid, at=sent)

    sent = 0
    killer = threading.Thread(target=kill_midway, daemon=True)
    killer.start()
    producer = EventProducer(local.kafka)
    started = time.monotonic()
    for sent, event in enumerate(events, 1):
        producer.send(
            event.user_id, event.item_id, event.type, ts=event.ts, event_id=event.event_id
        )
        # Paced at RATE: the kill lands while events are still arriving.
        ahead = sent / RATE - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
    producer.flush()
    killer.join()

    expected = expected_state(events, users, known)
    # The restarted processor rejoins its group once its predecessor's session expired.
    deadline = time.monotonic() + 180
    while (got := state(live_redis, prefix, users)) != expected:
        assert time.monotonic() < deadline, "the processor did not catch up within 180 s"
        time.sleep(0.5)
    assert program_pid(PROGRAM) not in (None, killed["pid"]), (
        "the service manager did not restart it"
    )
    assert 0 < killed["at"] < len(events)
    # Some of the users' windows exclude older clicks: the counts are not trivially all.
    clicks = sum(e.type == "click" for e in set(events))
    assert 0 < sum(row[0] for row in got["features"]) < clicks
