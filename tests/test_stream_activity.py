"""The streaming features: the online path (the activity script and the Feast row, on a
real Redis, standalone and cluster) gives exactly what the offline computation gives for
the same events, in any order, in any batches, applied once or twice."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
import redis
from redis.cluster import RedisCluster

from pipelines.serving import feast_layout, keys
from pipelines.streaming import activity
from pipelines.streaming.store import STREAM_LAYOUT, ActivityStore
from recstack_contract.events import Event
from recstack_contract.features import NO_CATEGORY

PREFIX = "t"
CATEGORIES = {item: item % 7 for item in range(50)}
T0 = 1_700_000_000.0


def random_events(rng: random.Random, n: int, users: int = 12) -> list[Event]:
    """Clicks, impressions and purchases over three hours, with ties in time, clicks
    exactly one window apart, and fractional times."""
    events = []
    for index in range(n):
        ts = T0 + rng.choice([rng.uniform(0, 3 * 3600), rng.randrange(0, 3 * 3600, 600)])
        events.append(
            Event(
                event_id=f"{rng.getrandbits(24):06x}-{index}",
                user_id=rng.randrange(users),
                item_id=rng.randrange(len(CATEGORIES)),
                type=rng.choice(["click", "click", "impression", "purchase"]),
                ts=ts,
            )
        )
    return events


def frame(events: list[Event]) -> pd.DataFrame:
    return pd.DataFrame([e.__dict__ for e in events])


@pytest.fixture(params=["standalone", "cluster"])
def client(request: pytest.FixtureRequest) -> redis.Redis | RedisCluster:
    if request.param == "cluster":
        connection = request.getfixturevalue("redis_cluster")
    else:
        host, port = request.getfixturevalue("redis_server")
        # A database of its own: other tests' keys on the shared server stay.
        connection = redis.Redis(host=host, port=port, db=1)
    connection.flushdb()
    return connection


def online_rows(client: redis.Redis, users: list[int]) -> np.ndarray:
    rows, found = feast_layout.read_rows(client, STREAM_LAYOUT, users)
    assert found.all()
    return rows


def apply_in_batches(store: ActivityStore, events: list[Event], rng: random.Random) -> None:
    start = 0
    while start < len(events):
        size = rng.randint(1, 40)
        store.apply(events[start : start + size])
        start += size


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_online_values_equal_the_offline_computation(client: redis.Redis, seed: int) -> None:
    rng = random.Random(seed)
    events = random_events(rng, 600)
    # A replay of a third of the events, delivered again later (a restart), and the
    # rest in a shuffled order (producers' clocks are not the consumer's order).
    delivered = events + rng.sample(events, len(events) // 3)
    rng.shuffle(delivered)
    apply_in_batches(ActivityStore(client, PREFIX, CATEGORIES), delivered, rng)

    expected = activity.latest_features(frame(events), CATEGORIES)
    users = expected["user_id"].tolist()
    got = online_rows(client, users)
    assert got[:, 0].tolist() == expected["user_clicks_1h"].tolist()
    assert got[:, 1].tolist() == expected["user_last_click_category"].tolist()
    # Some users have clicks both inside and outside their window: the test means it.
    assert 0 < expected["user_clicks_1h"].sum() < sum(e.type == "click" for e in events)


def test_histories_hold_exactly_the_clicked_and_purchased_items(client: redis.Redis) -> None:
    rng = random.Random(9)
    events = random_events(rng, 300)
    store = ActivityStore(client, PREFIX, CATEGORIES)
    store.apply(events)
    store.apply(events)
    for user in {e.user_id for e in events}:
        expected = {
            e.item_id for e in events if e.user_id == user and e.type in ("click", "purchase")
        }
        members = client.smembers(keys.seen(PREFIX, user))
        assert {int(m) for m in members} == expected


def test_the_state_is_the_same_whatever_the_order(client: redis.Redis) -> None:
    rng = random.Random(4)
    events = random_events(rng, 200, users=3)
    store = ActivityStore(client, PREFIX, CATEGORIES)
    states = []
    for _ in range(3):
        client.flushdb()
        shuffled = rng.sample(events, len(events))
        apply_in_batches(store, shuffled, rng)
        states.append(
            [client.zrange(keys.activity(PREFIX, u), 0, -1, withscores=True) for u in range(3)]
        )
    assert states[0] == states[1] == states[2]


def test_the_window_excludes_its_start_and_keeps_the_newest_click(client: redis.Redis) -> None:
    store = ActivityStore(client, PREFIX, CATEGORIES)
    click = Event("a", 1, 3, "click", T0)
    inside = Event("b", 1, 4, "click", T0 + 1)
    # Exactly one window after the first click: that click is out of (latest - 1 h, latest].
    later = Event("c", 1, 5, "impression", T0 + activity.WINDOW_S)
    store.apply([click, inside, later])
    assert online_rows(client, [1])[0].tolist() == [1, CATEGORIES[4]]
    # Much later, no click in the window, but the last click's category stays.
    store.apply([Event("d", 1, 6, "impression", T0 + 10 * activity.WINDOW_S)])
    assert online_rows(client, [1])[0].tolist() == [0, CATEGORIES[4]]
    expected = activity.latest_features(
        frame([click, inside, later, Event("d", 1, 6, "impression", T0 + 36000)]), CATEGORIES
    )
    assert expected[["user_clicks_1h", "user_last_click_category"]].values.tolist() == [
        [0, CATEGORIES[4]]
    ]


def test_a_newest_click_at_the_window_start_is_kept_but_not_counted(client: redis.Redis) -> None:
    store = ActivityStore(client, PREFIX, CATEGORIES)
    store.apply([Event("a", 1, 3, "click", T0), Event("b", 1, 4, "impression", T0 + 3600)])
    assert online_rows(client, [1])[0].tolist() == [0, CATEGORIES[3]]


def test_users_without_clicks_have_no_category(client: redis.Redis) -> None:
    ActivityStore(client, PREFIX, CATEGORIES).apply([Event("x", 2, 1, "impression", T0)])
    assert online_rows(client, [2])[0].tolist() == [0, NO_CATEGORY]


def test_the_offline_rows_are_as_of_each_event_time() -> None:
    events = [
        Event("a", 1, 3, "click", T0),
        Event("b", 1, 4, "impression", T0 + 10),
        Event("c", 1, 5, "click", T0 + 20),
        Event("d", 1, 6, "impression", T0 + 20 + activity.WINDOW_S),
    ]
    rows = activity.offline_features(frame(events), CATEGORIES)
    assert rows["ts"].tolist() == [e.ts for e in events]
    assert rows["user_clicks_1h"].tolist() == [1, 1, 2, 0]
    assert rows["user_last_click_category"].tolist() == [
        CATEGORIES[3],
        CATEGORIES[3],
        CATEGORIES[5],
        CATEGORIES[5],
    ]


def test_an_impression_log_becomes_events_with_stable_ids() -> None:
    impressions = pd.DataFrame(
        {
            "user_id": [1, 2],
            "item_id": [10, 20],
            "click": [0, 1],
            "timestamp": pd.to_datetime([T0, T0 + 1.5], unit="s", utc=True),
        }
    )
    events = activity.events_from_impressions(impressions)
    assert events["event_id"].tolist() == ["i0", "i1", "c1"]
    assert events["type"].tolist() == ["impression", "impression", "click"]
    assert events["ts"].tolist() == [T0, T0 + 1.5, T0 + 1.5]
    assert events.equals(activity.events_from_impressions(impressions))


def test_states_computed_at_once_equal_the_applied_ones(client: redis.Redis) -> None:
    rng = random.Random(5)
    events = random_events(rng, 500)
    # Shuffled and in batches: each batch trims its users' windows on its own.
    apply_in_batches(ActivityStore(client, PREFIX, CATEGORIES), rng.sample(events, 500), rng)
    for user, expected in activity.states(frame(events)).items():
        members = client.zrange(keys.activity(PREFIX, user), 0, -1, withscores=True)
        assert {m.decode(): s for m, s in members} == expected
