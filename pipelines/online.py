"""Connect the pipelines to the online store with the same client the serving path uses."""

from __future__ import annotations

import os

from .config import RedisConfig
from .serving import redis_client


def redis_connection(config: RedisConfig):
    """A Redis (or cluster) client for `config`; the password comes from the environment
    (RECSTACK_REDIS_PASSWORD) so it never sits in a rendered config file."""
    env = {
        "RECSTACK_REDIS_HOST": config.host,
        "RECSTACK_REDIS_PORT": str(config.port),
        "RECSTACK_REDIS_CLUSTER": "1" if config.cluster else "0",
        "RECSTACK_REDIS_USERNAME": os.environ.get("RECSTACK_REDIS_USERNAME", ""),
        "RECSTACK_REDIS_PASSWORD": os.environ.get("RECSTACK_REDIS_PASSWORD", ""),
        # Bulk writes (publish, batch) take longer than a serving read.
        "RECSTACK_REDIS_TIMEOUT_S": "30",
    }
    return redis_client.client_from_env(env)
