"""Live traffic follows the model behind the synthetic log: the click-through rate is
the log's, and clicks go to the items closest to each user's taste."""

from __future__ import annotations

import numpy as np

from pipelines.config import DataConfig
from pipelines.data.simulate import TARGET_CTR, build_world, simulate
from pipelines.streaming.traffic import Traffic

DATA = DataConfig(n_users=400, n_items=300, n_categories=12, n_shops=30, n_brands=30)


def test_the_world_is_the_one_the_log_was_drawn_from() -> None:
    users, items, _ = simulate(DATA)
    world = build_world(DATA)
    assert world.users.equals(users) and world.items.equals(items)


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
