"""Online training on a published tiny model: samples are the scoring stage's inputs,
clicks raise and impressions lower the trained pair's probability, the step is SGD on
exactly the touched rows, the trainer starts from the rows in the real Redis tier and
then from its own, and events the model does not know are counted, never trained."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from itertools import pairwise

import numpy as np
import onnxruntime as ort
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from tiny import published_config

from pipelines import schema
from pipelines.artifacts import load_latest
from pipelines.config import PipelineConfig
from pipelines.hugectr.export import files_in
from pipelines.hugectr.online_training import OnlineTrainer, PublishedModel
from pipelines.serving import stream_inputs
from pipelines.serving.hps_redis import RedisTier
from pipelines.serving.hugectr_files import SparseTable
from pipelines.serving.retrieval import user_inputs
from pipelines.serving.scoring import Scoring
from recstack_contract import hps
from recstack_contract.events import Event

TAG = hps.table_tag()
PARTITIONS = 8


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> PipelineConfig:
    return published_config(tmp_path_factory.mktemp("online"))


@pytest.fixture(scope="module")
def model(published: PipelineConfig) -> PublishedModel:
    return PublishedModel.load(published.paths.artifacts_dir, published.paths.data_dir)


@pytest.fixture(scope="module")
def table(published: PipelineConfig, model: PublishedModel) -> SparseTable:
    files = files_in(load_latest(published.paths.artifacts_dir).path)
    return SparseTable.read(files.sparse[0], model.vec_size)


@pytest.fixture
def tier(redis_server: tuple[str, int], table: SparseTable) -> Iterator[RedisTier]:
    """The exported table in a real Redis, in HPS's layout."""
    client = redis.Redis(*redis_server, db=7)
    client.flushdb()
    tier = RedisTier(client, PARTITIONS)
    tier.write(TAG, table.keys, table.vectors)
    yield tier
    client.flushdb()
    client.close()


def no_stream_rows(user_ids: np.ndarray) -> np.ndarray:
    return np.full((len(user_ids), len(stream_inputs.FEATURES)), np.nan)


def event(user: int, item: int, kind: str, n: int = 0) -> Event:
    return Event(f"e{user}-{item}-{kind}-{n}", user, item, kind, 1.0e9)


def trainer(model: PublishedModel, tier: RedisTier, rows_in_memory: int = 10_000):
    return OnlineTrainer(
        model,
        lambda keys: tier.read(TAG, keys),
        no_stream_rows,
        learning_rate=0.05,
        rows_in_memory=rows_in_memory,
    )


def probability(model: PublishedModel, rows: dict[int, np.ndarray], e: Event) -> float:
    keys, dense, _ = model.samples([e], no_stream_rows, Counter())
    embedded = np.stack([rows[k] for k in keys[0].tolist()])[None]
    return float(model.network.probabilities(dense, embedded)[0])


def test_samples_are_the_scoring_stages_inputs(
    published: PipelineConfig, model: PublishedModel, table: SparseTable
) -> None:
    """The exported table's rows for a sample score it as the whole ONNX ranker scores
    the same user and candidate in the scoring stage."""
    users, items = model.user_ids[:5], model.catalog.item_ids[:5]
    events = [event(int(u), int(i), "impression") for u, i in zip(users, items, strict=True)]
    rows = dict(zip(table.keys.tolist(), table.vectors, strict=True))
    got = [probability(model, rows, e) for e in events]
    onnx = ort.InferenceSession(str(load_latest(published.paths.artifacts_dir).ranker))
    user = user_inputs(
        users,
        model.user_features[:5],
        len(schema.USER_CATEGORICALS),
        no_stream_rows(users),
    )
    want = Scoring(onnx, model.catalog).score(
        user.sparse, user.dense, items.reshape(-1, 1), np.zeros(5, bool)
    )
    np.testing.assert_allclose(got, want[:, 0], atol=1e-5)


def test_clicks_raise_and_impressions_lower_the_pairs_probability(
    model: PublishedModel, tier: RedisTier, table: SparseTable
) -> None:
    rows = dict(zip(table.keys.tolist(), table.vectors, strict=True))
    user, item = int(model.user_ids[3]), int(model.catalog.item_ids[7])
    clicks = trainer(model, tier)
    before = probability(model, rows, event(user, item, "click"))
    seen = [before]
    for n in range(5):
        update = clicks.step([event(user, item, "click", n)])
        rows.update(zip(update.keys.tolist(), update.vectors, strict=True))
        seen.append(probability(model, rows, event(user, item, "click")))
    assert all(b > a for a, b in pairwise(seen)), seen
    assert seen[-1] - before > 0.01

    rows = dict(zip(table.keys.tolist(), table.vectors, strict=True))
    update = trainer(model, tier).step([event(user, item, "impression")])
    rows.update(zip(update.keys.tolist(), update.vectors, strict=True))
    assert probability(model, rows, event(user, item, "impression")) < before


def test_a_step_is_sgd_on_exactly_the_touched_rows(
    model: PublishedModel, tier: RedisTier, table: SparseTable
) -> None:
    events = [
        event(int(model.user_ids[0]), int(model.catalog.item_ids[1]), "click"),
        event(int(model.user_ids[0]), int(model.catalog.item_ids[2]), "impression"),
        event(int(model.user_ids[9]), int(model.catalog.item_ids[1]), "purchase"),
    ]
    keys, dense, labels = model.samples(events, no_stream_rows, Counter())
    assert labels.tolist() == [1.0, 0.0, 1.0]
    rows = dict(zip(table.keys.tolist(), table.vectors, strict=True))
    embedded = np.stack([[rows[k] for k in sample] for sample in keys.tolist()])
    _, gradient = model.network.embedding_gradient(dense, embedded, labels)
    want: dict[int, np.ndarray] = {}
    for sample, grads in zip(keys.tolist(), gradient, strict=True):
        for key, grad in zip(sample, grads, strict=True):
            want[key] = want.get(key, rows[key]) - 0.05 * grad

    online = trainer(model, tier)
    update = online.step(events)
    assert sorted(update.keys.tolist()) == sorted(want)
    for key, vector in zip(update.keys.tolist(), update.vectors, strict=True):
        np.testing.assert_allclose(vector, want[key], atol=1e-6)
    assert online.counts.trained == 3 and online.counts.rows == len(want)


def test_the_trainer_starts_from_redis_then_from_its_own_rows(
    model: PublishedModel, tier: RedisTier
) -> None:
    user, item = int(model.user_ids[4]), int(model.catalog.item_ids[4])
    keys, _, _ = model.samples([event(user, item, "click")], no_stream_rows, Counter())
    key = int(keys[0, 0])
    tier.write(TAG, np.array([key]), np.full((1, model.vec_size), 0.5, np.float32))
    online = trainer(model, tier)
    first = online.step([event(user, item, "click")])
    row = first.vectors[first.keys.tolist().index(key)]
    assert np.abs(row - 0.5).max() < 0.05 and np.abs(row - 0.5).max() > 0
    # Redis is behind (the update is still on its way): the trainer goes on from its own.
    second = online.step([event(user, item, "click", 1)])
    moved = second.vectors[second.keys.tolist().index(key)] - row
    assert np.abs(moved).max() > 0
    assert (
        np.abs(second.vectors[second.keys.tolist().index(key)] - 0.5).max()
        > np.abs(row - 0.5).max()
    )
    # Out of memory again (capacity 0): a row comes from Redis.
    forgetful = trainer(model, tier, rows_in_memory=0)
    forgetful.step([event(user, item, "click")])
    again = forgetful.step([event(user, item, "click", 1)])
    np.testing.assert_allclose(again.vectors[again.keys.tolist().index(key)], row, atol=1e-6)


def test_events_the_model_does_not_know_are_counted_not_trained(
    model: PublishedModel, tier: RedisTier
) -> None:
    online = trainer(model, tier)
    user, item = int(model.user_ids[0]), int(model.catalog.item_ids[0])
    update = online.step(
        [event(10**9, item, "click"), event(user, 10**9, "click"), event(user, item, "click")]
    )
    assert online.counts.skipped == Counter(unknown_user=1, unknown_item=1)
    assert online.counts.events == 3 and online.counts.trained == 1
    assert len(update.keys) == len(model.slot_sizes)
    assert not len(online.step([event(10**9, item, "click")]).keys)


def test_a_step_that_cannot_read_redis_changes_nothing(
    model: PublishedModel, tier: RedisTier
) -> None:
    """Redis down (a closed port): the step raises, and retried once Redis answers it
    counts and changes what one step does."""
    closed = redis.Redis(port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    down = RedisTier(closed, PARTITIONS)
    reads = [down, tier]
    online = OnlineTrainer(
        model,
        lambda keys: reads[0].read(TAG, keys),
        no_stream_rows,
        learning_rate=0.05,
        rows_in_memory=10_000,
    )
    batch = [
        event(10**9, 1, "click"),
        event(int(model.user_ids[0]), int(model.catalog.item_ids[0]), "click"),
    ]
    with pytest.raises(redis.ConnectionError):
        online.step(batch)
    assert online.counts.events == 0 and not online.counts.skipped and not len(online.rows)
    reads.pop(0)
    online.step(batch)
    assert online.counts.events == 2 and online.counts.skipped == Counter(unknown_user=1)
    assert online.counts.trained == 1
