"""The `train` step: train, evaluate, gate, export and publish one model version.

The version is derived from the inputs (feature and impression files, train config), so
rerunning on unchanged inputs finds the version already published and does nothing.
Nothing is written before the quality gate passes, and the version directory is renamed
into place whole, so serving never sees a partial or a failing model.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipelines import artifacts, schema
from pipelines.config import PipelineConfig
from pipelines.data.files import write_json
from pipelines.data.validate import load_raw
from pipelines.features import load_features
from pipelines.hugectr.export import check_inference_model, write_inference_model
from pipelines.steps import StepResult, fingerprint
from pipelines.train.dlrm import DLRM, DenseRanker, fit_dlrm
from pipelines.train.evaluate import evaluate
from pipelines.train.export import check_onnx, export_onnx
from pipelines.train.gate import check_quality
from pipelines.train.inputs import TrainingData, prepare
from pipelines.train.two_tower import TwoTower, embed, fit_two_tower

STEP = "train"
# Bump when training code changes what a config produces, so a new version is trained.
TRAINER_VERSION = 4
# Rows traced into the ONNX graphs and, a different count, rows used to check them.
EXPORT_ROWS = 16
CHECK_ROWS = 7
# Holdout rows the HugeCTR files must score as PyTorch does.
HUGECTR_CHECK_ROWS = 512


def train(cfg: PipelineConfig) -> StepResult:
    # Fixed thread count: results then do not depend on the host's core count.
    torch.set_num_threads(2)
    data_dir, artifacts_dir = cfg.paths.data_dir, cfg.paths.artifacts_dir
    raw = load_raw(data_dir)
    user_features, item_features, stream_features = load_features(data_dir)
    inputs = tuple(
        data_dir / name
        for name in (
            schema.USER_FEATURES_FILE,
            schema.ITEM_FEATURES_FILE,
            schema.USER_STREAM_FEATURES_FILE,
            schema.IMPRESSIONS_FILE,
        )
    )
    data_fingerprint = fingerprint(files=inputs)
    train_config = dataclasses.asdict(cfg.train)
    version = "v" + fingerprint(STEP, TRAINER_VERSION, train_config, data_fingerprint)[:12]
    if (artifacts_dir / version).is_dir():
        # Already trained and gated; only the pointer may need to move back to it.
        changed = artifacts.point_latest(artifacts_dir, version)
        return StepResult(STEP, changed, {"version": version, "trained": False})

    started = time.monotonic()
    data = prepare(
        user_features, item_features, stream_features, raw.impressions, cfg.train.holdout_fraction
    )
    towers = fit_two_tower(data, cfg.train)
    retrieval_s = time.monotonic() - started
    ranker = fit_dlrm(data, cfg.train)
    ranker_s = time.monotonic() - started - retrieval_s
    item_embeddings = embed(towers.item, data.item_sparse)
    metrics = evaluate(data, towers.user, item_embeddings, ranker, cfg.train.eval_k)
    check_quality(metrics, cfg.train)

    manifest = {
        "version": version,
        "created_at": datetime.now(UTC).isoformat(),
        "data_fingerprint": data_fingerprint,
        "train_config": train_config,
        "metrics": metrics,
        "cardinalities": data.cardinalities,
        "embedding_dim": cfg.train.embedding_dim,
        "columns": {
            "user_sparse": list(schema.USER_MODEL_SPARSE),
            "item_sparse": list(schema.ITEM_SPARSE),
            "ranker_sparse": list(schema.RANKER_SPARSE),
            "ranker_dense": list(schema.RANKER_DENSE),
        },
    }
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=artifacts_dir))
    # mkdtemp creates the directory private (0700); serving runs as other users.
    staging.chmod(0o755)
    try:
        _write_version(staging, data, towers, ranker, item_embeddings, metrics, manifest)
        staging.rename(artifacts_dir / version)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    artifacts.point_latest(artifacts_dir, version)
    return StepResult(
        STEP,
        True,
        {
            "version": version,
            "trained": True,
            "metrics": metrics,
            "retrieval_train_s": round(retrieval_s, 1),
            "ranker_train_s": round(ranker_s, 1),
            "total_s": round(time.monotonic() - started, 1),
        },
    )


def _write_version(
    out: Path,
    data: TrainingData,
    towers: TwoTower,
    ranker: DLRM,
    item_embeddings: np.ndarray,
    metrics: dict[str, Any],
    manifest: dict[str, Any],
) -> None:
    traced = data.train.take(slice(0, EXPORT_ROWS))
    sparse, dense = data.ranker_inputs(traced)
    models: list[tuple[torch.nn.Module, dict[str, np.ndarray], str, str]] = [
        (
            towers.user,
            {"user_sparse": data.user_columns(traced)},
            "user_embedding",
            artifacts.USER_TOWER_FILE,
        ),
        (ranker, {"sparse": sparse, "dense": dense}, "score", artifacts.RANKER_FILE),
        (
            DenseRanker(ranker).eval(),
            {"embedded": _embedded(ranker, sparse), "dense": dense},
            "score",
            artifacts.DENSE_RANKER_FILE,
        ),
    ]
    for model, sample, output, name in models:
        export_onnx(model, sample, output, out / name)
        check = {key: value[:CHECK_ROWS] for key, value in sample.items()}
        check_onnx(out / name, model, check, output)
    files = write_inference_model(ranker, out)
    check_inference_model(
        files,
        ranker,
        *data.ranker_inputs(data.holdout.take(slice(0, HUGECTR_CHECK_ROWS))),
        dense_model=out / artifacts.DENSE_RANKER_FILE,
    )
    np.save(out / artifacts.ITEM_IDS_FILE, data.item_ids)
    np.save(out / artifacts.ITEM_EMBEDDINGS_FILE, item_embeddings)
    np.save(out / artifacts.POPULAR_ITEMS_FILE, _popular_items(data))
    write_json(metrics, out / artifacts.METRICS_FILE)
    write_json(manifest, out / artifacts.MANIFEST_FILE)


def _embedded(ranker: DLRM, sparse: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return ranker.embed(torch.from_numpy(sparse)).numpy()


def _popular_items(data: TrainingData) -> np.ndarray:
    """Every item id, most train clicks first; ties in feature-table (id) order."""
    clicks = data.train.clicked()
    counts = np.bincount(clicks.item, minlength=len(data.item_ids))
    return data.item_ids[np.argsort(-counts, kind="stable")]
