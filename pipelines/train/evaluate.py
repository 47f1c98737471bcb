"""Holdout evaluation of both models next to a popularity baseline.

The baseline ranks items by train-split clicks; a model that cannot beat it is not
personalising, so the numbers are reported side by side (metrics.json) and the quality
floors are chosen above the baseline.
"""

from __future__ import annotations

import numpy as np

from pipelines.train.dlrm import DLRM, predict
from pipelines.train.inputs import TrainingData
from pipelines.train.metrics import auc, retrieval_at_k


def evaluate(
    data: TrainingData,
    user_embeddings: np.ndarray,
    item_embeddings: np.ndarray,
    ranker: DLRM,
    k: int,
) -> dict[str, float | int]:
    train_clicks, holdout_clicks = data.train.clicked(), data.holdout.clicked()
    seen = (train_clicks.user, train_clicks.item)
    targets = (holdout_clicks.user, holdout_clicks.item)
    retrieval = retrieval_at_k(user_embeddings, item_embeddings, seen, targets, k)
    # Popularity as a rank-1 "embedding": every user vector is 1, every item vector is
    # its click count, so the same top-k code scores the baseline.
    clicks_per_item = np.bincount(train_clicks.item, minlength=len(data.item_ids)).astype(float)
    popularity = retrieval_at_k(
        np.ones((len(data.user_ids), 1)), clicks_per_item[:, None], seen, targets, k
    )
    labels = data.holdout.click
    sparse, dense = data.ranker_inputs(data.holdout)
    return {
        "eval_k": k,
        "retrieval_recall_at_k": retrieval.recall,
        "retrieval_hit_rate_at_k": retrieval.hit_rate,
        "popularity_recall_at_k": popularity.recall,
        "popularity_hit_rate_at_k": popularity.hit_rate,
        "retrieval_eval_users": retrieval.users,
        "ranker_auc": auc(predict(ranker, sparse, dense), labels),
        "popularity_auc": auc(clicks_per_item[data.holdout.item], labels),
        "holdout_impressions": len(labels),
        "holdout_ctr": float(labels.mean()),
    }
