"""Holdout evaluation of both models next to a popularity baseline.

Retrieval is judged per request, as it serves: for each holdout click, the items
retrieved for the user as of that impression (their session so far included), without
the items they clicked in training.

The baseline ranks items by train-split clicks; a model that cannot beat it is not
personalising, so the numbers are reported side by side (metrics.json) and the quality
floors are chosen above the baseline.
"""

from __future__ import annotations

import numpy as np

from pipelines.train.dlrm import DLRM, predict
from pipelines.train.inputs import TrainingData
from pipelines.train.metrics import auc, retrieval_at_k
from pipelines.train.two_tower import Tower, embed


def evaluate(
    data: TrainingData,
    user_tower: Tower,
    item_embeddings: np.ndarray,
    ranker: DLRM,
    k: int,
) -> dict[str, float | int]:
    train_clicks, holdout_clicks = data.train.clicked(), data.holdout.clicked()
    seen = (train_clicks.user, train_clicks.item)
    queries = (holdout_clicks.user, holdout_clicks.item)
    # One query per holdout click: its user as of that impression.
    query_embeddings = embed(user_tower, data.user_columns(holdout_clicks))
    retrieval = retrieval_at_k(query_embeddings, *queries, item_embeddings, seen, k)
    # Popularity as a rank-1 "embedding": every query vector is 1, every item vector is
    # its click count, so the same top-k code scores the baseline.
    clicks_per_item = np.bincount(train_clicks.item, minlength=len(data.item_ids)).astype(float)
    popularity = retrieval_at_k(
        np.ones((len(holdout_clicks.user), 1)), *queries, clicks_per_item[:, None], seen, k
    )
    labels = data.holdout.click
    sparse, dense = data.ranker_inputs(data.holdout)
    return {
        "eval_k": k,
        "retrieval_recall_at_k": retrieval.recall,
        "retrieval_hit_rate_at_k": retrieval.hit_rate,
        "popularity_recall_at_k": popularity.recall,
        "popularity_hit_rate_at_k": popularity.hit_rate,
        "retrieval_eval_clicks": retrieval.queries,
        "ranker_auc": auc(predict(ranker, sparse, dense), labels),
        "popularity_auc": auc(clicks_per_item[data.holdout.item], labels),
        "holdout_impressions": len(labels),
        "holdout_ctr": float(labels.mean()),
    }
