"""The publish step: the online data the filtering stage reads, and the deployed version.

Writes to Redis (key layout in serving/keys.py): each user's interacted items (the
`seen` sets, replaced as a whole; sets of users absent from the data are removed), the
configured blocklist entries (added; operators' own entries are never removed), and the
model hash. A fingerprint stored in Redis makes a repeated publish a no-op.
"""

from __future__ import annotations

import time

import pandas as pd

from . import schema
from .artifacts import load_latest
from .config import PipelineConfig
from .online import delete_other_users, redis_connection
from .serving import keys
from .steps import StepResult, fingerprint

_CHUNK = 2000


def publish(cfg: PipelineConfig) -> StepResult:
    prefix = cfg.serving.key_prefix
    version = load_latest(cfg.paths.artifacts_dir).version
    impressions_file = cfg.paths.data_dir / schema.IMPRESSIONS_FILE
    digest = fingerprint(
        version, cfg.serving.top_k, list(cfg.serving.blocklist), files=(impressions_file,)
    )
    client = redis_connection()
    marker = keys.published_marker(prefix)
    if client.get(marker) == digest.encode():
        return StepResult("publish", False, {"model_version": version})

    clicks = pd.read_parquet(impressions_file, columns=["user_id", "item_id", "click"])
    clicks = clicks[clicks["click"] == 1]
    seen = clicks.groupby("user_id")["item_id"].unique()
    users = seen.index.to_numpy()
    for start in range(0, len(users), _CHUNK):
        pipe = client.pipeline(transaction=False)
        for user_id in users[start : start + _CHUNK]:
            key = keys.seen(prefix, int(user_id))
            pipe.delete(key)
            pipe.sadd(key, *(int(i) for i in seen[user_id]))
        pipe.execute()
    removed = delete_other_users(client, keys.seen, prefix, users)
    if cfg.serving.blocklist:
        client.sadd(keys.blocked(prefix), *cfg.serving.blocklist)
    if client.hget(keys.model(prefix), "version") != version.encode():
        client.hset(
            keys.model(prefix), mapping={"version": version, "published_at": int(time.time())}
        )
    client.hset(keys.model(prefix), "top_k", cfg.serving.top_k)
    client.set(marker, digest)
    return StepResult(
        "publish",
        True,
        {"model_version": version, "users_with_history": len(users), "histories_removed": removed},
    )
