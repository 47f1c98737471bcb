"""The stream processor's checks against the deployed dataset (the Kafka side runs
against the real broker in the deployed and smoke tests)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from tiny import tiny_config

from pipelines.data.synthetic import generate
from pipelines.streaming.processor import Known
from recstack_contract.events import Event, InvalidEvent


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    cfg = tiny_config(tmp_path)
    generate(cfg)
    return cfg.paths.data_dir


def test_events_about_users_or_items_outside_the_dataset_are_refused(data_dir: Path) -> None:
    known = Known.load(data_dir)
    user, item = min(known.users), min(known.categories)
    known.check(Event("a", user, item, "click", 1.0))
    with pytest.raises(InvalidEvent) as refused:
        known.check(Event("b", max(known.users) + 1, item, "click", 1.0))
    assert refused.value.reason == "unknown_user"
    with pytest.raises(InvalidEvent) as refused:
        known.check(Event("c", user, max(known.categories) + 1, "click", 1.0))
    assert refused.value.reason == "unknown_item"


def test_a_replaced_dataset_is_picked_up(data_dir: Path) -> None:
    known = Known.load(data_dir)
    assert known.current(data_dir) is known
    users = data_dir / "users.parquet"
    table = pd.read_parquet(users)
    newcomer = int(table["user_id"].max()) + 1
    extra = table.tail(1).assign(user_id=newcomer)
    pd.concat([table, extra]).to_parquet(users, index=False)
    now = known.current(data_dir)
    assert newcomer in now.users and newcomer not in known.users
