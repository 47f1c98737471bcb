"""Training: models beat the popularity baseline, ONNX matches PyTorch, the quality gate
blocks bad models, and the published artifacts are versioned by their inputs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import torch
from tiny import TINY_TRAIN, published_config, tiny_config

from pipelines import schema
from pipelines.artifacts import ArtifactsError, load_latest
from pipelines.config import Paths, PipelineConfig, TrainConfig
from pipelines.data.synthetic import generate
from pipelines.data.validate import load_raw
from pipelines.export.repository import build_catalog
from pipelines.features import build, load_features
from pipelines.hugectr.evaluator import HugeCTRModel
from pipelines.hugectr.export import files_in
from pipelines.serving import stream_inputs
from pipelines.serving.hps_layout import slot_keys
from pipelines.serving.retrieval import user_inputs
from pipelines.serving.scoring import Scoring
from pipelines.split import temporal_split
from pipelines.streaming import activity
from pipelines.train.dlrm import DLRM, fit_dlrm
from pipelines.train.errors import QualityGateError
from pipelines.train.evaluate import evaluate
from pipelines.train.export import check_onnx, export_onnx
from pipelines.train.gate import check_quality
from pipelines.train.inputs import TrainingData, cardinality, prepare
from pipelines.train.metrics import auc, retrieval_at_k
from pipelines.train.run import train
from pipelines.train.two_tower import TwoTower, embed, fit_two_tower


def tiny_train_config(root: Path, **train_overrides: float) -> PipelineConfig:
    return tiny_config(root, train=dataclasses.replace(TINY_TRAIN, **train_overrides))


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> PipelineConfig:
    return published_config(tmp_path_factory.mktemp("published"))


@pytest.fixture(scope="module")
def data(published: PipelineConfig) -> TrainingData:
    raw = load_raw(published.paths.data_dir)
    users, items, stream = load_features(published.paths.data_dir)
    return prepare(users, items, stream, raw.impressions, published.train.holdout_fraction)


def test_models_beat_the_popularity_baseline(published: PipelineConfig) -> None:
    metrics = load_latest(published.paths.artifacts_dir).manifest["metrics"]
    assert metrics["retrieval_recall_at_k"] > metrics["popularity_recall_at_k"] + 0.05
    assert metrics["retrieval_hit_rate_at_k"] > metrics["popularity_hit_rate_at_k"]
    assert metrics["ranker_auc"] > 0.6
    assert metrics["ranker_auc"] > metrics["popularity_auc"]


class _CapturingRanker:
    """Stands in for the ranker session: keeps the inputs scoring gives it."""

    def __init__(self) -> None:
        self.feeds: dict[str, np.ndarray] = {}

    def run(self, _outputs: None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.feeds = feeds
        return [np.zeros(len(feeds["dense"]), dtype=np.float32)]


def test_the_ranker_trains_on_what_serving_builds_from_the_same_rows(
    published: PipelineConfig, data: TrainingData
) -> None:
    """The ranker's inputs for holdout impressions are exactly what the serving path
    feeds it for that user and item at that moment: the static online row, the
    streaming row the processor would hold after the user's earlier events (replayed
    here by the activity definitions, not by the training join), the item's columns
    and the cross."""
    data_dir = published.paths.data_dir
    raw = load_raw(data_dir)
    users, items, _ = load_features(data_dir)
    _, holdout = temporal_split(raw.impressions, published.train.holdout_fraction)
    picked = np.random.default_rng(0).choice(len(holdout), size=150, replace=False)
    sample = holdout.iloc[picked]
    events = activity.events_from_impressions(raw.impressions)
    categories = activity.item_categories(data_dir)
    stream_rows = []
    for user, at in zip(
        sample["user_id"], activity.event_seconds(sample["timestamp"]), strict=True
    ):
        earlier = events[(events["user_id"] == user) & (events["ts"] < at)]
        latest = activity.latest_features(earlier, categories)
        row = latest[list(stream_inputs.FEATURES)].to_numpy(np.float64)
        stream_rows.append(row[0] if len(row) else np.full(len(stream_inputs.FEATURES), np.nan))
    ids = sample["user_id"].to_numpy(np.int64)
    static = users.set_index("user_id").loc[ids, list(schema.USER_ONLINE_FEATURES)]
    online = user_inputs(
        ids, static.to_numpy(np.float64), len(schema.USER_CATEGORICALS), np.array(stream_rows)
    )
    ranker = _CapturingRanker()
    Scoring(ranker, build_catalog(items)).score(  # type: ignore[arg-type]
        online.sparse,
        online.dense,
        sample["item_id"].to_numpy(np.int64)[:, None],
        np.zeros((len(ids), 1), dtype=bool),
    )
    # The user tower reads the same user columns as the ranker.
    np.testing.assert_array_equal(online.sparse, data.user_columns(data.holdout.take(picked)))
    sparse, dense = data.ranker_inputs(data.holdout.take(picked))
    np.testing.assert_array_equal(ranker.feeds["sparse"], sparse)
    np.testing.assert_array_equal(ranker.feeds["dense"], dense)
    # The streaming columns and the cross carry values, not only defaults.
    assert (sparse[:, len(schema.USER_MODEL_SPARSE) - 1] > 0).mean() > 0.5
    assert dense[:, -1].any() and not dense[:, -1].all()


def test_published_layout(published: PipelineConfig, data: TrainingData) -> None:
    artifacts_dir = published.paths.artifacts_dir
    latest = json.loads((artifacts_dir / "latest.json").read_text())
    found = load_latest(artifacts_dir)
    assert latest["version"] == found.version and Path(latest["path"]) == found.path.resolve()
    assert found.version.startswith("v") and len(found.version) == 13

    item_ids = np.load(found.item_ids)
    embeddings = np.load(found.item_embeddings)
    popular = np.load(found.popular_items)
    assert item_ids.dtype == np.int64 and sorted(item_ids) == sorted(data.item_ids)
    assert embeddings.dtype == np.float32
    assert embeddings.shape == (len(item_ids), published.train.embedding_dim)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    assert popular.dtype == np.int64 and sorted(popular) == sorted(item_ids)
    clicks = data.train.clicked()
    counts = pd.Series(data.item_ids[clicks.item]).value_counts().reindex(popular, fill_value=0)
    assert counts.is_monotonic_decreasing

    manifest = found.manifest
    assert manifest["version"] == found.version
    assert manifest["embedding_dim"] == published.train.embedding_dim
    assert manifest["train_config"] == dataclasses.asdict(published.train)
    assert manifest["columns"]["ranker_sparse"] == list(schema.RANKER_SPARSE)
    assert set(manifest["cardinalities"]) == set(schema.RANKER_SPARSE)
    assert json.loads(found.metrics.read_text()) == manifest["metrics"]

    signatures = {
        found.user_tower: (
            [("user_sparse", "tensor(int64)", len(schema.USER_MODEL_SPARSE))],
            [("user_embedding", "tensor(float)", published.train.embedding_dim)],
        ),
        found.ranker: (
            [
                ("sparse", "tensor(int64)", len(schema.RANKER_SPARSE)),
                ("dense", "tensor(float)", len(schema.RANKER_DENSE)),
            ],
            [("score", "tensor(float)", None)],
        ),
    }
    # The ranker is also published in HugeCTR's format, scoring as the ONNX ranker does.
    sparse, dense = data.ranker_inputs(data.holdout.take(slice(0, 64)))
    hugectr = HugeCTRModel(files_in(found.path))
    ranker = ort.InferenceSession(str(found.ranker), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(
        hugectr.predict(
            dense, slot_keys(sparse, [manifest["cardinalities"][c] for c in schema.RANKER_SPARSE])
        ),
        ranker.run(None, {"sparse": sparse, "dense": dense})[0],
        atol=1e-5,
    )
    # ... and without its table, for the vectors HPS's tiers return.
    dense_part = ort.InferenceSession(str(found.dense_ranker), providers=["CPUExecutionProvider"])
    assert [(n.name, n.shape[1:]) for n in dense_part.get_inputs()] == [
        ("embedded", [len(schema.RANKER_SPARSE), published.train.embedding_dim]),
        ("dense", [len(schema.RANKER_DENSE)]),
    ]
    for path, (inputs, outputs) in signatures.items():
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        for nodes, expected in ((session.get_inputs(), inputs), (session.get_outputs(), outputs)):
            assert [(n.name, n.type) for n in nodes] == [(name, kind) for name, kind, _ in expected]
            for node, (_, _, width) in zip(nodes, expected, strict=True):
                # A symbolic first dimension is the dynamic batch.
                assert isinstance(node.shape[0], str)
                assert node.shape[1:] == ([] if width is None else [width])


def test_onnx_matches_torch_on_any_batch_and_out_of_range_codes(
    data: TrainingData, tmp_path: Path
) -> None:
    cfg = dataclasses.replace(TINY_TRAIN, retrieval_epochs=1, ranker_epochs=1)
    towers = fit_two_tower(data, cfg)
    ranker = fit_dlrm(data, cfg)
    rows = data.train.take(slice(0, 16))
    sparse, dense = data.ranker_inputs(rows)
    users = data.user_columns(data.holdout.take(slice(0, 40)))
    export_onnx(
        towers.user, {"user_sparse": data.user_columns(rows)}, "user_embedding", tmp_path / "u.onnx"
    )
    export_onnx(ranker, {"sparse": sparse, "dense": dense}, "score", tmp_path / "r.onnx")
    # Codes a model never saw, negative or far out of range, fold in the same way in both.
    odd = np.array([-1, -(10**9), 10**12, 7], dtype=np.int64)
    for batch in (1, 3, 40):
        user_codes = users[:batch].copy()
        user_codes[:, 0] = odd[np.arange(batch) % len(odd)]
        check_onnx(tmp_path / "u.onnx", towers.user, {"user_sparse": user_codes}, "user_embedding")
        batch_sparse, batch_dense = data.ranker_inputs(data.holdout.take(slice(0, batch)))
        batch_sparse[:, -1] = odd[np.arange(batch) % len(odd)]
        check_onnx(
            tmp_path / "r.onnx", ranker, {"sparse": batch_sparse, "dense": batch_dense}, "score"
        )
    session = ort.InferenceSession(str(tmp_path / "u.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"user_sparse": users[:5]})[0]
    with torch.no_grad():
        want = towers.user(torch.from_numpy(users[:5])).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)
    # The tower reads the last-click category: another one moves every embedding.
    other = users[:5].copy()
    other[:, stream_inputs.LAST_CLICK_COLUMN] += 1
    moved = session.run(None, {"user_sparse": other})[0]
    assert (np.abs(moved - got).max(axis=1) > 1e-3).all()


def test_training_is_reproducible_and_the_version_stable(published: PipelineConfig) -> None:
    first = load_latest(published.paths.artifacts_dir)
    version_dir_mtime = first.path.stat().st_mtime_ns
    again = train(published)
    assert not again.changed and again.details["version"] == first.version
    assert first.path.stat().st_mtime_ns == version_dir_mtime

    # Same inputs elsewhere: same version and, with the same seeds, the same metrics.
    copy_root = published.paths.artifacts_dir.parent / "copy"
    copy = dataclasses.replace(
        published,
        paths=Paths(data_dir=published.paths.data_dir, artifacts_dir=copy_root),
    )
    result = train(copy)
    assert result.changed and result.details["version"] == first.version
    assert result.details["metrics"] == first.manifest["metrics"]

    # A different train config is a different version.
    other = dataclasses.replace(copy, train=dataclasses.replace(copy.train, seed=8))
    moved = train(other)
    assert moved.changed and moved.details["version"] != first.version
    assert load_latest(copy_root).version == moved.details["version"]


def test_quality_gate_blocks_and_publishes_nothing(
    published: PipelineConfig, tmp_path: Path
) -> None:
    strict = dataclasses.replace(
        published,
        paths=Paths(data_dir=published.paths.data_dir, artifacts_dir=tmp_path / "artifacts"),
        train=dataclasses.replace(
            published.train, min_retrieval_recall_at_k=1.0, min_ranker_auc=1.0
        ),
    )
    with pytest.raises(QualityGateError) as caught:
        train(strict)
    message = str(caught.value)
    assert "train.min_retrieval_recall_at_k" in message and "train.min_ranker_auc" in message
    assert "recall@20" in message and "1.0000" in message
    artifacts_dir = strict.paths.artifacts_dir
    assert not (artifacts_dir / "latest.json").exists()
    assert not artifacts_dir.exists() or not any(artifacts_dir.iterdir())
    with pytest.raises(ArtifactsError, match="run the train step first"):
        load_latest(artifacts_dir)


def test_untrained_models_fail_the_default_floors(data: TrainingData) -> None:
    torch.manual_seed(0)
    towers = TwoTower(data.cardinalities, TINY_TRAIN.embedding_dim).eval()
    ranker = DLRM(
        [data.cardinalities[c] for c in schema.RANKER_SPARSE],
        len(schema.RANKER_DENSE),
        TINY_TRAIN.embedding_dim,
    ).eval()
    metrics = evaluate(
        data, towers.user, embed(towers.item, data.item_sparse), ranker, TINY_TRAIN.eval_k
    )
    with pytest.raises(QualityGateError, match=r"train\.min_retrieval_recall_at_k"):
        check_quality(metrics, TrainConfig())
    assert metrics["ranker_auc"] < TrainConfig().min_ranker_auc


def test_sparse_ids_that_do_not_start_at_zero(published: PipelineConfig, tmp_path: Path) -> None:
    # The user's own tables: large, strided ids (within the INT32 serving contract), as
    # exported from a production system.
    raw = load_raw(published.paths.data_dir)
    user_id = {u: 10**9 + 7 * u for u in raw.users["user_id"]}
    item_id = {i: 5000 + 13 * i for i in raw.items["item_id"]}
    cfg = dataclasses.replace(
        published,
        paths=Paths(data_dir=tmp_path / "data", artifacts_dir=tmp_path / "artifacts"),
        data=dataclasses.replace(published.data, source="parquet"),
    )
    cfg.paths.data_dir.mkdir()
    raw.users.assign(user_id=raw.users["user_id"].map(user_id)).to_parquet(
        cfg.paths.data_dir / schema.USERS_FILE
    )
    raw.items.assign(item_id=raw.items["item_id"].map(item_id)).to_parquet(
        cfg.paths.data_dir / schema.ITEMS_FILE
    )
    raw.impressions.assign(
        user_id=raw.impressions["user_id"].map(user_id),
        item_id=raw.impressions["item_id"].map(item_id),
    ).to_parquet(cfg.paths.data_dir / schema.IMPRESSIONS_FILE)

    assert not generate(cfg).changed
    build(cfg)
    result = train(cfg)
    found = load_latest(cfg.paths.artifacts_dir)
    assert sorted(np.load(found.item_ids)) == sorted(item_id.values())
    # Sparse id spaces get a prime bucket count, not max id + 1 rows.
    assert found.manifest["cardinalities"]["user_id"] < 4 * len(user_id)
    reference = load_latest(published.paths.artifacts_dir).manifest["metrics"]
    assert result.details["metrics"]["retrieval_recall_at_k"] > reference["popularity_recall_at_k"]
    session = ort.InferenceSession(str(found.user_tower), providers=["CPUExecutionProvider"])
    users = load_features(cfg.paths.data_dir)[0].head(4)
    online = user_inputs(
        users["user_id"].to_numpy(np.int64),
        users[list(schema.USER_ONLINE_FEATURES)].to_numpy(np.float64),
        len(schema.USER_CATEGORICALS),
        np.full((len(users), len(stream_inputs.FEATURES)), np.nan),
    )
    assert np.isfinite(session.run(None, {"user_sparse": online.sparse})[0]).all()


def test_cardinality() -> None:
    assert cardinality(np.array([0, 3, 6])) == 7
    buckets = cardinality(10**12 + 7 * np.arange(1000))
    assert buckets >= 2000 and all(buckets % d for d in range(2, int(buckets**0.5) + 1))
    # A common stride does not collide under the prime modulus.
    assert len(np.unique((10**12 + 7 * np.arange(1000)) % buckets)) == 1000


def test_auc_matches_pairwise_definition() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=300).astype(float)  # many ties
    labels = rng.random(300) < 0.3
    positives, negatives = scores[labels], scores[~labels]
    pairwise = (positives[:, None] > negatives[None, :]).mean() + 0.5 * (
        positives[:, None] == negatives[None, :]
    ).mean()
    assert auc(scores, labels) == pytest.approx(pairwise)
    assert auc(np.array([0.1, 0.2, 0.9]), np.array([0, 0, 1])) == 1.0
    assert auc(np.array([0.9, 0.2, 0.1]), np.array([0, 0, 1])) == 0.0
    assert auc(np.ones(4), np.array([0, 1, 0, 1])) == 0.5
    with pytest.raises(ValueError, match="at least one click"):
        auc(np.ones(3), np.zeros(3))


def test_retrieval_at_k_judges_each_request_without_seen_items() -> None:
    # Four items; the first query vector favours items 0 > 1 > 2 > 3, the second the
    # reverse: one user's two requests, each as that moment found them.
    items = np.array([[4.0], [3.0], [2.0], [1.0]])
    queries = np.array([[1.0], [-1.0], [1.0], [1.0], [1.0]])
    users = np.array([0, 0, 0, 1, 1])
    targets = np.array([1, 3, 0, 0, 2])
    seen = (np.array([0]), np.array([0]))  # user 0 already clicked item 0
    score = retrieval_at_k(queries, users, targets, items, seen, k=1)
    # User 0: item 0 is seen, so excluded from both rankings (the first then ranks item
    # 1 top, a hit) and dropped as the third query's target; the second ranks item 3
    # top, a hit. User 1: top-1 is item 0, one hit out of two.
    assert score.queries == 4
    assert score.recall == pytest.approx(3 / 4)
    assert score.hit_rate == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no holdout click"):
        retrieval_at_k(queries[:1], users[:1], np.array([0]), items, seen, k=1)
