"""Publish and batch against a real (throwaway) Redis: what they write, and that a rerun
with unchanged inputs writes nothing."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pandas as pd
import pytest
import redis
from tiny import tiny_config

from pipelines import publish as publish_module
from pipelines import schema
from pipelines.batch import batch
from pipelines.config import PipelineConfig, ServingConfig
from pipelines.data.synthetic import generate
from pipelines.export.repository import export
from pipelines.features import build
from pipelines.hugectr.volatile_tier import load_volatile_tier
from pipelines.publish import publish
from pipelines.serving import feast_layout, keys
from pipelines.serving.hps_layout import value_hash
from pipelines.streaming import activity
from pipelines.streaming.store import STREAM_LAYOUT, ActivityStore
from pipelines.train.run import train
from recstack_contract.events import Event
from recstack_contract.redis import RedisConnection


@dataclasses.dataclass(frozen=True)
class Latest:
    version: str


@pytest.fixture(scope="module", autouse=True)
def redis_environment(redis_server: tuple[str, int]) -> Iterator[None]:
    """The steps find Redis the way every recstack process does: in their environment."""
    host, port = redis_server
    with pytest.MonkeyPatch.context() as patch:
        for name, value in RedisConnection((host,), port).environment().items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> PipelineConfig:
    root = tmp_path_factory.mktemp("publish")
    cfg = tiny_config(
        root,
        serving=ServingConfig(
            key_prefix="t",
            retrieval_candidates=50,
            top_k=8,
            blocklist=(1, 2),
        ),
    )
    generate(cfg)
    build(cfg)
    train(cfg)
    # The batch runs the exported serving graph, scoring (hps mode) with Redis's rows.
    load_volatile_tier(cfg)
    export(cfg)
    return cfg


@pytest.fixture(scope="module")
def client(redis_server: tuple[str, int]) -> redis.Redis:
    return redis.Redis(host=redis_server[0], port=redis_server[1])


def test_publish_writes_histories_blocklist_and_model(
    cfg: PipelineConfig, client: redis.Redis
) -> None:
    result = publish(cfg)
    assert result.changed
    assert {int(i) for i in client.smembers(keys.blocked("t"))} == {1, 2}
    model = client.hgetall(keys.model("t"))
    assert model[b"version"].decode() == result.details["model_version"]
    assert int(model[b"top_k"]) == 8
    assert result.details["users_with_history"] == len(list(client.scan_iter("t:seen:*")))
    assert publish(cfg).changed is False


def test_publish_seeds_activity_from_the_log_and_a_new_model_keeps_streamed_history(
    cfg: PipelineConfig, client: redis.Redis
) -> None:
    publish(cfg)
    impressions = pd.read_parquet(cfg.paths.data_dir / schema.IMPRESSIONS_FILE)
    states = activity.states(activity.events_from_impressions(impressions))
    user = min(states)
    stored = client.zrange(keys.activity("t", user), 0, -1, withscores=True)
    assert {m.decode(): score for m, score in stored} == states[user]
    assert len(list(client.scan_iter("t:activity:*"))) == len(states)
    items = pd.read_parquet(cfg.paths.data_dir / schema.ITEMS_FILE)
    categories = dict(zip(items["item_id"], items[schema.ITEM_CATEGORY], strict=True))
    events = activity.events_from_impressions(impressions)
    latest = activity.latest_features(events, categories).set_index("user_id")
    expected = latest.loc[user, ["user_clicks_1h", "user_last_click_category"]].tolist()
    rows, _ = feast_layout.read_rows(client, STREAM_LAYOUT, [user])
    assert rows[0].tolist() == expected
    # A click streamed in since, then a retrained model is published.
    client.sadd(keys.seen("t", user), 123456)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(publish_module, "load_latest", lambda _: Latest("v-next"))
        result = publish(cfg)
    assert result.changed and result.details["histories_replaced"] is False
    assert client.sismember(keys.seen("t", user), 123456)
    assert client.hget(keys.model("t"), "version") == b"v-next"
    # A new log replaces what was streamed: history, activity and the Feast row alike.
    ActivityStore(client, "t", categories).apply([Event("s", user, 1, "click", 4e9)])
    client.delete(keys.histories_marker("t"))
    assert publish(cfg).details["histories_replaced"] is True
    assert not client.sismember(keys.seen("t", user), 123456)
    assert feast_layout.read_rows(client, STREAM_LAYOUT, [user])[0][0].tolist() == expected


def test_publish_keeps_operator_blocklist_entries(cfg: PipelineConfig, client: redis.Redis) -> None:
    client.sadd(keys.blocked("t"), 99)
    publish(dataclasses.replace(cfg, serving=dataclasses.replace(cfg.serving, blocklist=(1, 2, 3))))
    assert {int(i) for i in client.smembers(keys.blocked("t"))} == {1, 2, 3, 99}


def test_batch_writes_every_user_and_skips_unchanged_reruns(
    cfg: PipelineConfig, client: redis.Redis
) -> None:
    publish(cfg)
    started = int(time.time())
    result = batch(cfg)
    assert result.changed and result.details["users"] == cfg.data.n_users
    record = client.hgetall(keys.topk("t", 0))
    items = [int(i) for i in record[b"items"].split(b",")]
    assert len(items) == 8 and len(set(items)) == 8
    blocked = {int(i) for i in client.smembers(keys.blocked("t"))}
    seen = {int(i) for i in client.smembers(keys.seen("t", 0))}
    assert not set(items) & (blocked | seen)
    assert record[b"model_version"].decode() == result.details["model_version"]
    assert int(record[b"generated_at"]) >= started
    assert batch(cfg).changed is False
    # A newly blocked item changes the exclusions: the next batch recomputes.
    client.sadd(keys.blocked("t"), items[0])
    assert batch(cfg).changed
    assert items[0] not in [int(i) for i in client.hget(keys.topk("t", 0), "items").split(b",")]


def test_records_of_users_absent_from_the_data_are_removed(
    cfg: PipelineConfig, client: redis.Redis
) -> None:
    gone = 999_999
    client.sadd(keys.seen("t", gone), 1)
    client.hset(keys.topk("t", gone), "items", "1")
    client.delete(keys.histories_marker("t"), keys.batch_marker("t"))
    assert publish(cfg).details["histories_removed"] == 1
    assert batch(cfg).details["stale_removed"] == 1
    assert not client.exists(keys.seen("t", gone), keys.topk("t", gone))
    assert client.exists(keys.seen("t", 0)) or client.exists(keys.topk("t", 0))


def test_results_older_than_the_limit_are_recomputed(
    cfg: PipelineConfig, client: redis.Redis
) -> None:
    publish(cfg)
    batch(cfg)
    assert batch(cfg).changed is False
    too_old = time.time() - (cfg.serving.batch_max_age_hours + 1) * 3600
    client.hset(keys.batch_marker("t"), "generated_at", int(too_old))
    assert batch(cfg).changed
    assert int(client.hget(keys.topk("t", 0), "generated_at")) > too_old


def test_batch_scores_with_the_streaming_features_redis_holds(
    cfg: PipelineConfig, client: redis.Redis
) -> None:
    publish(cfg)
    client.delete(keys.batch_marker("t"))
    batch(cfg)
    user = 3

    def scores() -> dict[int, float]:
        record = client.hgetall(keys.topk("t", user))
        ids = [int(i) for i in record[b"items"].split(b",")]
        return dict(zip(ids, (float(s) for s in record[b"scores"].split(b",")), strict=True))

    before = scores()
    items = pd.read_parquet(cfg.paths.data_dir / schema.ITEMS_FILE)
    categories = dict(zip(items["item_id"], items[schema.ITEM_CATEGORY], strict=True))
    ((_, last_category),), _ = feast_layout.read_rows(client, STREAM_LAYOUT, [user])
    # A click in another category than the user's last one changes both features.
    item = next(i for i, c in categories.items() if c != last_category and i not in before)
    ActivityStore(client, "t", categories).apply([Event("b", user, item, "click", 4e9)])
    client.delete(keys.batch_marker("t"))
    batch(cfg)
    after = scores()
    common = set(before) & set(after)
    assert common and any(before[i] != after[i] for i in common)


def test_hps_step_loads_the_table_once_per_model_and_partitioning(
    cfg: PipelineConfig, client: redis.Redis
) -> None:
    client.delete(keys.hps_table("t"))  # the fixture loaded it
    first = load_volatile_tier(cfg)
    assert first.changed and first.details["rows"] > 0
    record = client.hgetall(keys.hps_table("t"))
    tag, partitions = record[b"table"].decode(), int(record[b"partitions"])
    assert partitions == cfg.hps.num_partitions
    lengths = [client.hlen(value_hash(tag, p)) for p in range(partitions)]
    assert sum(lengths) == first.details["rows"] == int(record[b"rows"])
    assert not load_volatile_tier(cfg).changed
    # Another partitioning is another layout: the step loads again.
    repartitioned = dataclasses.replace(cfg, hps=dataclasses.replace(cfg.hps, num_partitions=6))
    assert load_volatile_tier(repartitioned).changed
    assert int(client.hget(keys.hps_table("t"), "partitions")) == 6
    assert sum(client.hlen(value_hash(tag, p)) for p in range(6)) == first.details["rows"]
    # The old layout's other hashes are gone, not left holding stale copies.
    old = range(6, partitions)
    assert partitions > 6 and not client.exists(*(value_hash(tag, p) for p in old))
