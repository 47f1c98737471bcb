"""Redis keys that recstack owns (Feast's own layout is in feast_layout.py).

{prefix}:seen:{user_id}   SET of item ids the user interacted with (filtering drops them)
{prefix}:blocked          SET of item ids never to recommend (operators edit it live)
{prefix}:out_of_stock     SET of item ids temporarily unavailable
{prefix}:topk:{user_id}   HASH of the offline batch result: items (comma-separated ids,
                          best first), scores, model_version, generated_at (unix seconds)
{prefix}:model            HASH describing what is deployed: version, published_at, top_k
{prefix}:activity:{user_id}  ZSET of the user's recent clicks and latest event time, the
                          state the streaming features are computed from
                          (pipelines/streaming/activity.py)
{prefix}:stream-processor:{host}  HASH, a stream processor's state and counters, rewritten
                          every few seconds (recstack status reads it)

Markers that make the pipeline steps idempotent (the fingerprint of their last inputs):
{prefix}:published            STRING, the publish step's
{prefix}:histories            STRING, the publish step's for the seen and activity sets
{prefix}:batch                HASH, the batch step's: fingerprint, model_version,
                              generated_at, users
{prefix}:feast:materialized   STRING, the feature-store step's materialization
{prefix}:hps:table            HASH, what the hps step loaded into HPS's Redis tier:
                              fingerprint, model_version, table, partitions, rows,
                              vec_size, loaded_at (unix seconds)

HPS's own keys, outside the prefix and in HPS's layout (serving/hps_layout.py):
hps_et{<tag>/p<N>}v   HASH, partition N of an embedding table: raw key -> raw vector
"""

from __future__ import annotations


def seen(prefix: str, user_id: int) -> str:
    return f"{prefix}:seen:{user_id}"


def seen_pattern(prefix: str) -> str:
    """SCAN pattern of every user's history key."""
    return f"{prefix}:seen:*"


def activity(prefix: str, user_id: int) -> str:
    return f"{prefix}:activity:{user_id}"


def stream_processor(prefix: str, host: str) -> str:
    return f"{prefix}:stream-processor:{host}"


def hps_updater(prefix: str, tier: str, host: str) -> str:
    return f"{prefix}:hps-updater:{tier}:{host}"


def online_trainer(prefix: str, host: str) -> str:
    return f"{prefix}:online-trainer:{host}"


def stream_processor_pattern(prefix: str) -> str:
    return f"{prefix}:stream-processor:*"


def blocked(prefix: str) -> str:
    return f"{prefix}:blocked"


def out_of_stock(prefix: str) -> str:
    return f"{prefix}:out_of_stock"


def topk(prefix: str, user_id: int) -> str:
    return f"{prefix}:topk:{user_id}"


def model(prefix: str) -> str:
    return f"{prefix}:model"


def published_marker(prefix: str) -> str:
    return f"{prefix}:published"


def histories_marker(prefix: str) -> str:
    return f"{prefix}:histories"


def batch_marker(prefix: str) -> str:
    return f"{prefix}:batch"


def materialized_marker(prefix: str) -> str:
    return f"{prefix}:feast:materialized"


def hps_table(prefix: str) -> str:
    return f"{prefix}:hps:table"
