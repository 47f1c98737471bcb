"""Interaction events, end to end: a click reaches the served answer within the freshness
objective, and a message that is no valid event lands in the dead-letter topic."""

from __future__ import annotations

import random
import time
import uuid

import numpy as np
import pytest
import redis
from confluent_kafka import Consumer, Producer, TopicPartition

from pipelines import schema
from pipelines.serving import feast_layout, stream_inputs
from pipelines.serving.kafka_client import client_config
from pipelines.streaming.events import EventProducer
from pipelines.streaming.processor import FRESHNESS_SLO_S
from pipelines.streaming.store import STREAM_LAYOUT
from recstack import client, health
from recstack.endpoints import Endpoints
from recstack_contract.events import Event
from recstack_contract.features import ITEM_FEATURES
from recstack_contract.kafka import INTERACTIONS, INTERACTIONS_DLQ, INTERACTIONS_DLQ_HEADERS

POLL_S = 0.02


@pytest.fixture(scope="module")
def streaming_services_ready(where: Endpoints, redis_password: str) -> None:
    """Every trainer host's stream processor reports and is in its group (a fresh
    deployment's may still be joining), and its HPS updater and online trainer report, as
    does every serving host's RocksDB updater."""
    deadline = time.monotonic() + 30
    while True:
        checks = [
            check(where, redis_password, name)
            for check in (
                health.check_stream_processor,
                health.check_hps_updater,
                health.check_online_trainer,
            )
            for name in where.trainer_hosts
        ] + [health.check_rocksdb_updater(where, redis_password, n) for n in where.serving_hosts]
        failed = [c for c in checks if not c.ok]
        if not failed:
            return
        if time.monotonic() > deadline:
            first = failed[0]
            pytest.fail(f"{first.component} {first.endpoint}: {first.detail} → {first.hint}")
        time.sleep(0.5)


def test_a_clicked_item_leaves_the_answer_within_the_freshness_objective(
    streaming_services_ready: None,
    where: Endpoints,
    redis_client: redis.Redis,
    sampled_users: list[int],
) -> None:
    users = health.users_with_history(redis_client, where.key_prefix)
    # Not one of the users the other smoke tests sample: this click changes their answer.
    user = random.Random(1).choice(sorted(set(users) - set(sampled_users)))
    urls = [where.grpc_url(host) for host in where.triton_hosts]
    (before,) = client.recommend(urls[0], [user])
    assert before.item_ids and not before.degraded, (
        f"triton {urls[0]}: no usable answer for user {user} before the click"
    )
    item = before.item_ids[0]
    stream_before = feast_layout.read_rows(redis_client, STREAM_LAYOUT, [user])[0]
    producer = EventProducer(where.kafka)
    # The impression first: the producer has its connections before the clock starts.
    producer.send(user, item, "impression")
    producer.flush()
    sent_at = time.time()
    producer.send(user, item, "click", ts=sent_at)
    producer.flush()
    # One connection per server for the whole poll: a new one per request would cost
    # more than the request, and the poll asks every POLL_S.
    recommenders = {url: client.Recommender(url) for url in urls}
    still_there = set(urls)
    while still_there and time.time() - sent_at <= FRESHNESS_SLO_S:
        for url in sorted(still_there):
            if item not in recommenders[url].recommend([user])[0].item_ids:
                still_there.discard(url)
        time.sleep(POLL_S)
    took = time.time() - sent_at
    assert not still_there, (
        f"stream-processor: item {item} clicked by user {user} is still recommended by "
        f"{sorted(still_there)} {took:.2f} s later (objective {FRESHNESS_SLO_S} s) → "
        "recstack status shows the processor's lag; its log: /var/log/recstack/stream-processor/"
    )
    items = feast_layout.FeastViewLayout.of(
        where.feast_project, ITEM_FEATURES, (schema.ITEM_CATEGORY,)
    )
    category = feast_layout.read_rows(redis_client, items, [item])[0][0][0]
    stream_after = feast_layout.read_rows(redis_client, STREAM_LAYOUT, [user])[0]
    clicks, last_category = stream_after[0]
    assert clicks >= 1 and last_category == category, (
        f"feast: user {user}'s {STREAM_LAYOUT.view} row ({clicks:g} clicks in the hour, "
        f"last click category {last_category:g}) does not show the click on item {item} "
        f"(category {category:g})"
    )
    # The ranker reads the streaming features: once the click has changed its inputs,
    # the items recommended before and after are scored differently. (Where the row's
    # ranker inputs happen to be the same as before, there is nothing to compare.)
    inputs_before, inputs_after = (
        np.concatenate(stream_inputs.model_inputs(row), axis=1)
        for row in (stream_before, stream_after)
    )
    if not np.array_equal(inputs_before, inputs_after):
        (after,) = client.recommend(urls[0], [user])
        scores_before = dict(zip(before.item_ids, before.scores, strict=True))
        common = [i for i in after.item_ids if i in scores_before]
        unchanged = [
            i
            for i, s in zip(after.item_ids, after.scores, strict=True)
            if i in scores_before and s == scores_before[i]
        ]
        assert common and len(unchanged) < len(common), (
            f"triton {urls[0]}: user {user}'s scores did not change with their streaming "
            f"features ({inputs_before.tolist()} -> {inputs_after.tolist()}) → the "
            "retrieval stage must pass the user_stream_features row to scoring"
        )


def dead_letters(where: Endpoints, marker: bytes, count: int) -> list:
    """The dead-lettered messages whose value holds `marker`, read from the start."""
    consumer = Consumer(
        {
            **client_config(where.kafka),
            "group.id": f"smoke-{uuid.uuid4()}",
            # Where retention dropped offset 0: from the oldest message kept.
            "auto.offset.reset": "earliest",
        }
    )
    topic = consumer.list_topics(INTERACTIONS_DLQ.name, timeout=10).topics[INTERACTIONS_DLQ.name]
    consumer.assign([TopicPartition(INTERACTIONS_DLQ.name, p, 0) for p in topic.partitions])
    found = []
    deadline = time.monotonic() + 30
    while len(found) < count and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and not message.error() and marker in message.value():
            found.append(message)
    consumer.close()
    return found


def test_messages_that_are_no_valid_event_land_in_the_dead_letter_topic(
    streaming_services_ready: None, where: Endpoints
) -> None:
    marker = uuid.uuid4().hex.encode()
    garbage = b"{not json " + marker
    # Well-formed, about a user the dataset does not have.
    stranger = Event(marker.decode(), 999_999_999, 1, "click", time.time())
    producer = Producer(client_config(where.kafka))
    producer.produce(INTERACTIONS.name, key=b"1", value=garbage)
    producer.produce(INTERACTIONS.name, key=stranger.key(), value=stranger.value())
    assert producer.flush(10) == 0, "kafka: the messages were not delivered"
    found = dead_letters(where, marker, 2)
    reasons = {m.value(): dict(m.headers())["reason"].decode() for m in found}
    assert reasons == {garbage: "invalid_json", stranger.value(): "unknown_user"}, (
        f"stream-processor: expected both messages in {INTERACTIONS_DLQ.name} with their "
        f"reasons, found {reasons} → the processor's log: /var/log/recstack/stream-processor/"
    )
    for message in found:
        assert tuple(name for name, _ in message.headers()) == INTERACTIONS_DLQ_HEADERS
