"""A stream processor's status record in Redis: written by the processor every
INTERVAL_S, read by `recstack status`, the deployment's readiness wait and the tests.

{prefix}:stream-processor:<name> is a HASH of text fields: name, pid, started_at,
reported_at (unix seconds), joined ("true" once in its consumer group), partitions
(comma-separated), consumed, applied, dead_lettered and dead_lettered:<reason> (messages
since the process started), batches, largest_batch, lag (messages not yet consumed on
its partitions, or "unknown") and applied_delay_s (how old the newest applied event was).
"""

from __future__ import annotations

from ..serving import keys

INTERVAL_S = 2.0
# A record not rewritten for this long is removed: a processor that is gone for good.
TTL_S = 3600
# A few missed reports: the processor is stuck or gone.
STALE_AFTER_S = 5 * INTERVAL_S


def write(client, key_prefix: str, name: str, fields: dict[str, str]) -> None:
    key = keys.stream_processor(key_prefix, name)
    pipe = client.pipeline(transaction=False)
    pipe.hset(key, mapping=fields)
    pipe.expire(key, TTL_S)
    pipe.execute()


def read(client, key_prefix: str, name: str) -> dict[str, str]:
    """The record, or {} when the processor never reported (or stopped an hour ago)."""
    raw = client.hgetall(keys.stream_processor(key_prefix, name))
    return {k.decode(): v.decode() for k, v in raw.items()}
