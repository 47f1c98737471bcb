"""The stream processor's checks against the deployed dataset (the Kafka side runs
against the real broker in the deployed and smoke tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny import tiny_config

from pipelines.data.synthetic import generate
from pipelines.streaming.processor import Known, dataset_version
from recstack_contract.events import Event, InvalidEvent


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = tiny_config(tmp_path_factory.mktemp("processor"))
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


def test_a_rewritten_dataset_is_a_new_version(data_dir: Path) -> None:
    before = dataset_version(data_dir)
    users = data_dir / "users.parquet"
    users.write_bytes(users.read_bytes())
    assert dataset_version(data_dir) != before
