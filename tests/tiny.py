"""Small pipeline configs for tests: each generates and trains in seconds on 2 cores,
yet is large enough for the models to beat the popularity baseline."""

from __future__ import annotations

from pathlib import Path

from pipelines.config import DataConfig, Paths, PipelineConfig, ServingConfig, TrainConfig
from pipelines.data.synthetic import generate
from pipelines.features import build
from pipelines.train.run import train

TINY_DATA = DataConfig(
    n_users=600, n_items=300, n_categories=12, n_shops=40, n_brands=30, impressions_per_user=40
)
# Floors at zero: tests look at the metrics themselves; the gate has its own tests.
TINY_TRAIN = TrainConfig(
    embedding_dim=16, batch_size=256, eval_k=20, min_retrieval_recall_at_k=0.0, min_ranker_auc=0.0
)


def tiny_config(
    root: Path,
    data: DataConfig = TINY_DATA,
    train: TrainConfig = TINY_TRAIN,
    serving: ServingConfig | None = None,
) -> PipelineConfig:
    paths = Paths(
        data_dir=root / "data", artifacts_dir=root / "artifacts", model_repository=root / "models"
    )
    return PipelineConfig(
        paths=paths, data=data, train=train, serving=serving or ServingConfig()
    ).validate()


def published_config(root: Path) -> PipelineConfig:
    """A tiny config whose data is generated, features built and models published."""
    cfg = tiny_config(root)
    generate(cfg)
    build(cfg)
    assert train(cfg).changed
    return cfg
