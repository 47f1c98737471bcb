"""The offline batch step: every user's ordered top-K, computed by the serving graph
itself (serving/graph.py) over the exported model repository, so that the batch scores
with the variant that serves (HPS's tiers, or the ONNX ranker) and the stages' own code;
written to Redis as `{prefix}:topk:{user_id}` (see serving/keys.py).

Serving from batch is one Redis read. Each record names the model version and the time
that produced it, so staleness is visible. The run is skipped when the exported
repository (model, serving settings and code), the features, the interactions and the
exclusions are all unchanged and the stored results are younger than
`serving.batch_max_age_hours`; records of users no longer in the data are deleted.

The users' static features come from the run's data, their streaming features, their
histories and, in hps mode, the embedding rows from Redis, as the serving path would
read them as the run goes. Those change with every event, so they are not part of the
fingerprint (every click would rerun the batch): the next run after the age limit picks
them up, while online serving sees them at once. The trainer hosts have no RocksDB tier:
a Redis read that fails fails the run rather than scoring with default vectors.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from . import schema
from .artifacts import ArtifactsError
from .config import PipelineConfig
from .export.repository import Exported
from .online import delete_other_users, redis_connection
from .serving import feast_layout, graph, keys
from .serving.filtering import fetch_exclusions
from .serving.operators.base import Context
from .serving.resilience import RedisUnavailable, retry_budget_s
from .serving.tensors import IS_DEGRADED, ORDERED_IDS, ORDERED_SCORES, USER_ID
from .steps import StepResult, fingerprint
from .streaming.store import STREAM_LAYOUT


class DataUserFeatures:
    """The retrieval stage's user features for the batch: the static ones from the run's
    data (every user has them), the streaming ones from Redis."""

    def __init__(self, client, users: pd.DataFrame) -> None:
        self._client = client
        self._static = users.set_index(schema.USER_KEY)[list(schema.USER_ONLINE_FEATURES)]

    def read(self, user_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        static = self._static.loc[user_ids].to_numpy(np.float64)
        stream, _ = feast_layout.read_rows(self._client, STREAM_LAYOUT, user_ids)
        return np.concatenate([static, stream], axis=1), np.ones(len(user_ids), bool), False


_CHUNK = 512


def batch(cfg: PipelineConfig) -> StepResult:
    prefix = cfg.serving.key_prefix
    repository = cfg.paths.model_repository
    exported = Exported.read(repository)
    if exported is None:
        raise ArtifactsError(
            f"no exported model repository at {repository} (paths.model_repository): "
            "run the export step first"
        )
    version = exported.version
    data = cfg.paths.data_dir
    client = redis_connection()
    users = pd.read_parquet(data / schema.USER_FEATURES_FILE).sort_values(schema.USER_KEY)
    user_ids = users[schema.USER_KEY].to_numpy(np.int64)
    # The exclusions as the run starts: a change to them reruns the batch.
    _, excluded = fetch_exclusions(client, prefix, [])
    digest = fingerprint(
        exported.fingerprint,
        excluded.tolist(),
        files=(
            data / schema.USER_FEATURES_FILE,
            data / schema.ITEM_FEATURES_FILE,
            data / schema.IMPRESSIONS_FILE,
        ),
    )
    marker = keys.batch_marker(prefix)
    last = client.hgetall(marker)
    age_s = time.time() - int(last.get(b"generated_at", 0))
    if (
        last.get(b"fingerprint") == digest.encode()
        and age_s < cfg.serving.batch_max_age_hours * 3600
    ):
        return StepResult("batch", False, {"model_version": version})

    context = Context(
        # A client per stage, as each Triton stage has.
        connect=redis_connection,
        retry_budget_s=retry_budget_s(),
        user_features=DataUserFeatures(client, users),
        rocksdb=False,
    )
    generated_at = int(time.time())
    with graph.loaded(repository, context) as stages:
        for start in range(0, len(user_ids), _CHUNK):
            chunk = user_ids[start : start + _CHUNK]
            answer = graph.run(stages, {USER_ID.name: chunk.astype(np.int32).reshape(-1, 1)})
            if answer[IS_DEGRADED.name].any():
                raise RedisUnavailable("Redis could not be read; rerun the batch once it answers")
            _write_top_k(client, prefix, chunk, answer, version, generated_at)
    removed = delete_other_users(client, keys.topk, prefix, user_ids)
    client.hset(
        marker,
        mapping={
            "fingerprint": digest,
            "model_version": version,
            "generated_at": generated_at,
            "users": len(user_ids),
        },
    )
    return StepResult(
        "batch",
        True,
        {"model_version": version, "users": len(user_ids), "stale_removed": removed},
    )


def _write_top_k(
    client, prefix: str, user_ids: np.ndarray, answer: dict, version: str, generated_at: int
) -> None:
    pipe = client.pipeline(transaction=False)
    for user_id, row_ids, row_scores in zip(
        user_ids, answer[ORDERED_IDS.name], answer[ORDERED_SCORES.name], strict=True
    ):
        valid = row_ids >= 0
        pipe.hset(
            keys.topk(prefix, int(user_id)),
            mapping={
                "items": ",".join(str(i) for i in row_ids[valid]),
                "scores": ",".join(f"{s:.6f}" for s in row_scores[valid]),
                "model_version": version,
                "generated_at": generated_at,
            },
        )
    pipe.execute()
