"""The quality gate: a model below a configured floor must never reach serving."""

from __future__ import annotations

from collections.abc import Mapping

from pipelines.config import TrainConfig
from pipelines.train.errors import QualityGateError


def check_quality(metrics: Mapping[str, float | int], cfg: TrainConfig) -> None:
    """Raise QualityGateError listing every metric below its floor."""
    checks = (
        (
            f"retrieval recall@{metrics['eval_k']}",
            metrics["retrieval_recall_at_k"],
            cfg.min_retrieval_recall_at_k,
            "train.min_retrieval_recall_at_k",
            metrics["popularity_recall_at_k"],
        ),
        (
            "ranker AUC",
            metrics["ranker_auc"],
            cfg.min_ranker_auc,
            "train.min_ranker_auc",
            metrics["popularity_auc"],
        ),
    )
    failures = [
        f"{name} is {value:.4f}, below the floor {floor:.4f} set by {key} "
        f"(popularity baseline: {baseline:.4f})"
        for name, value, floor, key, baseline in checks
        if value < floor
    ]
    if failures:
        raise QualityGateError(
            "model not published: "
            + "; ".join(failures)
            + ". Fix the data or the training settings, or, if this data cannot do "
            "better, lower the named floor in the pipeline config."
        )
