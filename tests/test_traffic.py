"""Live traffic follows the model behind the synthetic log: the click-through rate is
the log's, and clicks go to the items closest to each user's taste."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.config import DataConfig
from pipelines.data import simulate as generator
from pipelines.data.simulate import TARGET_CTR, TasteTable, build_world, simulate
from pipelines.streaming.traffic import Traffic

DATA = DataConfig(n_users=400, n_items=300, n_categories=12, n_shops=30, n_brands=30)


def test_the_world_is_the_one_the_log_was_drawn_from() -> None:
    users, items, _ = simulate(DATA)
    world = build_world(DATA)
    assert world.users.equals(users) and world.items.equals(items)


def test_the_taste_table_draws_what_the_log_generator_draws() -> None:
    world = build_world(DATA)
    users = np.sort(np.random.default_rng(0).integers(len(world.user_latent), size=3000))
    cached = TasteTable(world).draw(np.random.default_rng(5), users)
    computed = generator._preferred(
        np.random.default_rng(5), users, world.user_latent, world.item_latent, world.popularity
    )
    # The same random numbers land on the same items (all users fit in one block).
    assert np.mean(cached == computed) > 0.999
    assert len(np.unique(cached)) > 100


def test_a_world_too_large_for_the_table_draws_without_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = build_world(DATA)
    assert world.for_live_traffic().tastes is not None
    monkeypatch.setattr(generator, "TASTE_TABLE_BYTES", 1024)
    assert world.for_live_traffic().tastes is None


def test_traffic_clicks_at_the_logs_rate_and_by_taste() -> None:
    world = build_world(DATA)
    drawn = Traffic(world, np.random.default_rng(1)).draw(20_000)
    clicked = np.array([i.clicked for i in drawn])
    assert abs(clicked.mean() - TARGET_CTR) < 0.015
    user = np.array([i.user_id for i in drawn])
    item = np.array([i.item_id for i in drawn])
    affinity = np.einsum("ij,ij->i", world.user_latent[user], world.item_latent[item])
    # Taste drives clicks: clicked impressions sit clearly closer to the user's taste.
    assert affinity[clicked].mean() > affinity[~clicked].mean() + 0.1


def test_traffic_mixes_users_rather_than_sending_them_in_order() -> None:
    drawn = Traffic(build_world(DATA), np.random.default_rng(2)).draw(500)
    users = [i.user_id for i in drawn]
    assert users != sorted(users)
    assert len(set(users)) > 200


def _lift_after_a_click(user: np.ndarray, category: np.ndarray, clicked: np.ndarray) -> float:
    """CTR of impressions of the category of the user's previous click, over the CTR of
    the others that follow a click (events in time order)."""
    last = {}
    match, other = [], []
    for u, c, k in zip(user.tolist(), category.tolist(), clicked.tolist(), strict=True):
        if u in last:
            (match if last[u] == c else other).append(k)
        if k:
            last[u] = c
    return float(np.mean(match) / np.mean(other))


def test_the_log_has_sessions_whose_intent_the_last_click_shows() -> None:
    _, items, impressions = simulate(DATA)
    frame = impressions.to_pandas().sort_values("timestamp", kind="stable")
    user = frame["user_id"].to_numpy()
    category = items["item_category"].to_numpy()[frame["item_id"].to_numpy()]
    clicked = frame["click"].to_numpy() == 1
    gap = frame.groupby("user_id")["timestamp"].diff().dt.total_seconds().to_numpy()
    near = ~(gap > 1800)  # within a session's half hour of the user's previous event
    # Long-term taste makes a later click of the same category likelier at any distance;
    # a session's intent adds to it only close by (without sessions both are ~1.8).
    within = _lift_after_a_click(user[near], category[near], clicked[near])
    across = _lift_after_a_click(user[~near], category[~near], clicked[~near])
    assert within > 1.2 * across


def test_traffic_has_the_same_sessions() -> None:
    world = build_world(DATA)
    traffic = Traffic(world, np.random.default_rng(3))
    # Drawn a few at a time, as it is sent: sessions span draws.
    drawn = [i for _ in range(50) for i in traffic.draw(400)]
    user = np.array([i.user_id for i in drawn])
    category = world.item_category[np.array([i.item_id for i in drawn])]
    clicked = np.array([i.clicked for i in drawn])
    # Shuffled, the events keep the users' taste but lose their sessions.
    mixed = np.random.default_rng(0).permutation(len(drawn))
    in_order = _lift_after_a_click(user, category, clicked)
    assert in_order > 1.1 * _lift_after_a_click(user[mixed], category[mixed], clicked[mixed])
