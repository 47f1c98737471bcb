"""The offline batch step: every user's ordered top-K, computed with the serving stages'
own code, written to Redis as `{prefix}:topk:{user_id}` (see serving/keys.py).

Serving from batch is one Redis read. Each record names the model version and the time
that produced it, so staleness is visible. The run is skipped when the model, the
features, the interactions, the serving settings and code and the exclusions are all
unchanged and the stored results are younger than `serving.batch_max_age_hours`;
records of users no longer in the data are deleted.

Histories and the streaming user features are read from Redis as the run starts, as the
serving path would read them then. They change with every event, so they are not part
of the fingerprint (every click would rerun the batch): the next run after the age limit
picks them up, while online serving sees them at once.
"""

from __future__ import annotations

import time

import numpy as np
import onnxruntime as ort
import pandas as pd

from . import schema
from .artifacts import load_latest
from .config import PipelineConfig
from .export.repository import build_catalog, build_index, serving_code
from .online import delete_other_users, redis_connection
from .serving import feast_layout, keys
from .serving.filtering import fetch_exclusions, filter_candidates
from .serving.ordering import order
from .serving.retrieval import Retrieval, user_inputs
from .serving.scoring import Scoring
from .steps import StepResult, fingerprint
from .streaming.store import STREAM_LAYOUT

_CHUNK = 512


def batch(cfg: PipelineConfig) -> StepResult:
    prefix = cfg.serving.key_prefix
    artifacts = load_latest(cfg.paths.artifacts_dir)
    data = cfg.paths.data_dir
    client = redis_connection()
    users = pd.read_parquet(data / schema.USER_FEATURES_FILE).sort_values("user_id")
    user_ids = users["user_id"].to_numpy(np.int64)
    # Exclusions are read once, as the serving path would see them now.
    seen, excluded = fetch_exclusions(client, prefix, user_ids)
    digest = fingerprint(
        artifacts.version,
        cfg.serving.top_k,
        cfg.serving.max_per_category,
        cfg.serving.retrieval_candidates,
        excluded.tolist(),
        files=(
            data / schema.USER_FEATURES_FILE,
            data / schema.ITEM_FEATURES_FILE,
            data / schema.IMPRESSIONS_FILE,
            *serving_code(),
        ),
    )
    marker = keys.batch_marker(prefix)
    last = client.hgetall(marker)
    age_s = time.time() - int(last.get(b"generated_at", 0))
    if (
        last.get(b"fingerprint") == digest.encode()
        and age_s < cfg.serving.batch_max_age_hours * 3600
    ):
        return StepResult("batch", False, {"model_version": artifacts.version})

    catalog = build_catalog(pd.read_parquet(data / schema.ITEM_FEATURES_FILE))
    retrieval = Retrieval(
        user_tower=ort.InferenceSession(str(artifacts.user_tower)),
        index=build_index(np.load(artifacts.item_embeddings)),
        item_ids=np.load(artifacts.item_ids),
        popular_items=np.load(artifacts.popular_items),
        n_candidates=cfg.serving.retrieval_candidates,
    )
    scoring = Scoring(ort.InferenceSession(str(artifacts.ranker)), catalog)
    features = users[list(schema.USER_ONLINE_FEATURES)].to_numpy(np.float64)
    generated_at = int(time.time())
    for start in range(0, len(user_ids), _CHUNK):
        chunk = slice(start, start + _CHUNK)
        stream, _ = feast_layout.read_rows(client, STREAM_LAYOUT, user_ids[chunk])
        user = user_inputs(user_ids[chunk], features[chunk], len(schema.USER_CATEGORICALS), stream)
        candidates = retrieval.retrieve(user.sparse, np.ones(len(user_ids[chunk]), dtype=bool))
        filtered = filter_candidates(candidates.item_ids, seen[chunk], excluded)
        scores = scoring.score(user.sparse, user.dense, filtered, candidates.fallback)
        ids, ordered_scores = order(
            filtered, scores, catalog, cfg.serving.top_k, cfg.serving.max_per_category
        )
        pipe = client.pipeline(transaction=False)
        for user_id, row_ids, row_scores in zip(user_ids[chunk], ids, ordered_scores, strict=True):
            valid = row_ids >= 0
            pipe.hset(
                keys.topk(prefix, int(user_id)),
                mapping={
                    "items": ",".join(str(i) for i in row_ids[valid]),
                    "scores": ",".join(f"{s:.6f}" for s in row_scores[valid]),
                    "model_version": artifacts.version,
                    "generated_at": generated_at,
                },
            )
        pipe.execute()
    removed = delete_other_users(client, keys.topk, prefix, user_ids)
    client.hset(
        marker,
        mapping={
            "fingerprint": digest,
            "model_version": artifacts.version,
            "generated_at": generated_at,
            "users": len(user_ids),
        },
    )
    return StepResult(
        "batch",
        True,
        {"model_version": artifacts.version, "users": len(user_ids), "stale_removed": removed},
    )
