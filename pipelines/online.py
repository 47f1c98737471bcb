"""Connect the pipelines to the online store with the same client the serving path uses."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from .config import RedisConfig
from .serving import redis_client


def redis_password() -> str:
    """RECSTACK_REDIS_PASSWORD, or the content of RECSTACK_REDIS_PASSWORD_FILE (how the
    pipelines role passes it: an environment prefix would show in the process list)."""
    if os.environ.get("RECSTACK_REDIS_PASSWORD"):
        return os.environ["RECSTACK_REDIS_PASSWORD"]
    path = os.environ.get("RECSTACK_REDIS_PASSWORD_FILE")
    return Path(path).read_text().strip() if path else ""


def redis_connection(config: RedisConfig):
    """A Redis (or cluster) client for `config`; the password comes from the environment
    (see redis_password) so it never sits in a rendered config file."""
    return redis_client.connect(
        config.host.split(","),
        config.port,
        cluster=config.cluster,
        username=os.environ.get("RECSTACK_REDIS_USERNAME", ""),
        password=redis_password(),
        # Bulk writes (publish, batch) take longer than a serving read, and a batch job
        # can afford to wait out a short blip.
        timeout_s=30,
        retries=3,
    )


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
