"""The publish step: the online data the filtering stage reads, and the deployed version.

Writes to Redis (key layout in serving/keys.py):
- from the interaction log, only when the log changed: each user's interacted items (the
  `seen` sets) and activity state (pipelines/streaming/activity.py), replaced as a whole,
  and those of users absent from the log removed. The stream processor adds to both as
  events arrive; a new model version leaves them alone, so nothing streamed is lost by
  a retrain.
- the configured blocklist entries (added; operators' own entries are never removed)
  and the model hash.
Fingerprints stored in Redis make a repeated publish a no-op.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from . import schema
from .artifacts import load_latest
from .config import PipelineConfig
from .online import delete_other_users, redis_connection
from .serving import keys
from .steps import StepResult, fingerprint
from .streaming import activity
from .streaming.store import ActivityStore

_CHUNK = 2000


def publish(cfg: PipelineConfig) -> StepResult:
    prefix = cfg.serving.key_prefix
    version = load_latest(cfg.paths.artifacts_dir).version
    client = redis_connection()
    histories = _publish_histories(client, prefix, cfg.paths.data_dir)
    digest = fingerprint(version, cfg.serving.top_k, list(cfg.serving.blocklist))
    marker = keys.published_marker(prefix)
    if client.get(marker) == digest.encode():
        changed = bool(histories["histories_replaced"])
        return StepResult("publish", changed, {"model_version": version, **histories})

    if cfg.serving.blocklist:
        client.sadd(keys.blocked(prefix), *cfg.serving.blocklist)
    if client.hget(keys.model(prefix), "version") != version.encode():
        client.hset(
            keys.model(prefix), mapping={"version": version, "published_at": int(time.time())}
        )
    client.hset(keys.model(prefix), "top_k", cfg.serving.top_k)
    client.set(marker, digest)
    return StepResult("publish", True, {"model_version": version, **histories})


def _publish_histories(client, prefix: str, data_dir: Path) -> dict[str, int | bool]:
    impressions_file = data_dir / schema.IMPRESSIONS_FILE
    items_file = data_dir / schema.ITEMS_FILE
    digest = fingerprint("histories", files=(impressions_file, items_file))
    marker = keys.histories_marker(prefix)
    if client.get(marker) == digest.encode():
        return {"histories_replaced": False}
    impressions = pd.read_parquet(impressions_file)
    clicks = impressions[impressions["click"] == 1]
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
    states = activity.states(activity.events_from_impressions(impressions))
    active = sorted(states)
    store = ActivityStore(client, prefix, activity.item_categories(data_dir))
    for start in range(0, len(active), _CHUNK):
        chunk = active[start : start + _CHUNK]
        pipe = client.pipeline(transaction=False)
        for user_id in chunk:
            key = keys.activity(prefix, user_id)
            pipe.delete(key)
            pipe.zadd(key, states[user_id])
        pipe.execute()
        # Streamed rows carry newer times than the log's, which materialization would
        # keep: the rows must follow the state just replaced.
        store.refresh(chunk)
    delete_other_users(client, keys.activity, prefix, active)
    client.set(marker, digest)
    return {
        "histories_replaced": True,
        "users_with_history": len(users),
        "histories_removed": removed,
        "users_with_activity": len(active),
    }
