"""A streaming service's status record in Redis: written by the service every
INTERVAL_S, read by `recstack status`, the deployment's readiness wait and the tests.

Each record is a HASH of text fields under the service's key (serving/keys.py), always
with name, pid, started_at and reported_at (unix seconds):
- the stream processor ({prefix}:stream-processor:<name>): joined ("true" once in its
  consumer group), partitions (comma-separated), consumed, applied, dead_lettered and
  dead_lettered:<reason> (messages since the process started), batches, largest_batch,
  lag (messages not yet consumed on its partitions, or "unknown") and applied_delay_s
  (how old the newest applied event was);
- an HPS updater ({prefix}:hps-updater:<tier>:<name>): tier, group, messages, rows
  (rows written), skipped and skipped:<reason> (hps_messages.REASONS, unknown_table).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time

import redis

INTERVAL_S = 2.0
# A record not rewritten for this long is removed: a service that is gone for good.
TTL_S = 3600
# A few missed reports: the service is stuck or gone.
STALE_AFTER_S = 5 * INTERVAL_S
# The deployment sets it to the host's inventory name, which `recstack status` knows.
HOST_NAME_VARIABLE = "RECSTACK_HOST_NAME"


def host_name() -> str:
    """This service's name in its status record: the host's inventory name."""
    return os.environ.get(HOST_NAME_VARIABLE) or socket.gethostname()


def write(client, key: str, fields: dict[str, str], replace: bool = False) -> None:
    """Set the record's fields; `replace` drops the others first (a restarted service's
    first report: its predecessor's counts, by reason, must not stay behind)."""
    pipe = client.pipeline(transaction=False)
    if replace:
        pipe.delete(key)
    pipe.hset(key, mapping=fields)
    pipe.expire(key, TTL_S)
    pipe.execute()


def read(client, key: str) -> dict[str, str]:
    """The record, or {} when the service never reported (or stopped an hour ago)."""
    raw = client.hgetall(key)
    return {k.decode(): v.decode() for k, v in raw.items()}


class Reporter:
    """A service's reports: its record written with the fields every record has, and
    a log line of `logged` (and any `<field>:<reason>` of theirs) whenever it changed."""

    def __init__(self, client, key: str, name: str, logged: tuple[str, ...]) -> None:
        self._client = client
        self._key = key
        self._name = name
        self._logged = logged
        self._started_at = time.time()
        self._last_line = ""
        self._replaced = False

    def __call__(self, counts: dict[str, object]) -> None:
        fields = {
            "name": self._name,
            "pid": os.getpid(),
            "started_at": self._started_at,
            "reported_at": time.time(),
            **counts,
        }
        state = {key: str(value) for key, value in fields.items()}
        # Redis away: the next report, once it is back.
        with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
            # A process's counts only grow and gain reasons: after its first report,
            # setting the fields keeps the record whole.
            write(self._client, self._key, state, replace=not self._replaced)
            self._replaced = True
        line = " ".join(
            f"{field} {value}"
            for field, value in state.items()
            if field.split(":")[0] in self._logged
        )
        if line != self._last_line:
            print(line, flush=True)
            self._last_line = line
