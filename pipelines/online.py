"""Connect the pipelines to the online store with the same client the serving path uses."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

import redis

from recstack_contract.redis import from_environment

from .serving import redis_client

T = TypeVar("T")


def redis_connection():
    """A Redis (or cluster) client from the process environment, like every recstack
    client (recstack_contract/redis.py): the password never sits in a rendered file."""
    connection, password = from_environment(os.environ)
    return redis_client.connect(
        connection,
        password,
        # Bulk writes (publish, batch) take longer than a serving read, and a batch job
        # can afford to wait out a short blip.
        timeout_s=30,
        retries=3,
    )


def until_redis_answers(action: Callable[[], T], outage_s: float) -> T:
    """action(), retried while Redis is unreachable (a restart, a failover), backing off
    up to 5 s; past `outage_s` the error is raised. A streaming service holds its batch
    uncommitted meanwhile: raising ends the process, whose restart replays the batch;
    waiting longer would lose its place in the consumer group anyway
    (max.poll.interval.ms)."""
    waited, pause = 0.0, 0.5
    while True:
        try:
            return action()
        except (redis.ConnectionError, redis.TimeoutError) as error:
            if waited >= outage_s:
                raise
            print(f"Redis unreachable ({error}); retrying in {pause:g} s", flush=True)
            time.sleep(pause)
            waited += pause
            pause = min(2 * pause, 5.0)


def delete_other_users(
    client, key_of: Callable[[str, int], str], prefix: str, users: Iterable[int]
) -> int:
    """Delete the per-user keys (key_of(prefix, user)) of users not in `users`.

    A new dataset replaces the old one as a whole: its absent users' records must go.
    """
    keep = {key_of(prefix, int(u)).encode() for u in users}
    pattern = key_of(prefix, 0).rsplit(":", 1)[0] + ":*"
    stale = [key for key in client.scan_iter(match=pattern, count=1000) if key not in keep]
    for start in range(0, len(stale), 1000):
        # One key per DEL: in a cluster, keys of different slots cannot share a command.
        pipe = client.pipeline(transaction=False)
        for key in stale[start : start + 1000]:
            pipe.delete(key)
        pipe.execute()
    return len(stale)
