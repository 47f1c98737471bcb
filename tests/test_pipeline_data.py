"""The data side of the pipelines: synthetic generator, validator, split and features."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tiny import TINY_DATA, tiny_config

from pipelines import schema
from pipelines.config import PipelineConfig
from pipelines.data.synthetic import generate
from pipelines.data.validate import RAW_FILES, DataError, load_raw, validate_raw
from pipelines.features import build, load_features
from pipelines.split import temporal_split
from recstack_contract.features import NO_CATEGORY


def tiny_data_config(root: Path, seed: int = 7, source: str = "synthetic") -> PipelineConfig:
    return tiny_config(root, data=dataclasses.replace(TINY_DATA, seed=seed, source=source))


@pytest.fixture
def cfg(tmp_path: Path) -> PipelineConfig:
    config = tiny_data_config(tmp_path)
    generate(config)
    return config


def raw_bytes(data_dir: Path) -> dict[str, bytes]:
    return {name: (data_dir / name).read_bytes() for name in RAW_FILES}


def mtimes(paths: list[Path]) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in paths}


def test_generate_is_deterministic_by_seed(tmp_path: Path) -> None:
    first, again, other = (
        tiny_data_config(tmp_path / "a"),
        tiny_data_config(tmp_path / "b"),
        tiny_data_config(tmp_path / "c", seed=8),
    )
    for config in (first, again, other):
        assert generate(config).changed
    assert raw_bytes(first.paths.data_dir) == raw_bytes(again.paths.data_dir)
    differs = raw_bytes(other.paths.data_dir)
    for name, content in raw_bytes(first.paths.data_dir).items():
        assert differs[name] != content, name


def test_raw_tables_have_the_contract_dtypes(cfg: PipelineConfig) -> None:
    data_dir = cfg.paths.data_dir
    users = pq.read_table(data_dir / schema.USERS_FILE)
    items = pq.read_table(data_dir / schema.ITEMS_FILE)
    impressions = pq.read_table(data_dir / schema.IMPRESSIONS_FILE)
    assert users.schema == pa.schema(
        [(name, pa.int64()) for name in ("user_id", *schema.USER_CATEGORICALS)]
    )
    assert items.schema == pa.schema(
        [(name, pa.int64()) for name in ("item_id", *schema.ITEM_CATEGORICALS)]
    )
    assert impressions.schema == pa.schema(
        [
            ("user_id", pa.int64()),
            ("item_id", pa.int64()),
            ("click", pa.int8()),
            ("timestamp", pa.timestamp("us", tz="UTC")),
        ]
    )
    assert users.num_rows == cfg.data.n_users and items.num_rows == cfg.data.n_items
    frame = impressions.to_pandas()
    assert 0.10 <= frame["click"].mean() <= 0.20
    assert set(frame["click"].unique()) == {0, 1}
    span = frame["timestamp"].max() - frame["timestamp"].min()
    assert pd.Timedelta(days=25) < span <= pd.Timedelta(days=30)
    per_user = len(frame) / cfg.data.n_users
    assert 0.7 * cfg.data.impressions_per_user < per_user < 1.3 * cfg.data.impressions_per_user
    validate_raw(data_dir)


def test_popular_items_get_more_clicks_and_groups_prefer_categories(cfg: PipelineConfig) -> None:
    raw = load_raw(cfg.paths.data_dir)
    clicks = raw.impressions[raw.impressions["click"] == 1]
    per_item = clicks["item_id"].value_counts()
    # Zipf: the top tenth of items collects far more than a tenth of the clicks.
    assert per_item.nlargest(len(raw.items) // 10).sum() > 0.3 * len(clicks)
    # Preferences: within a user group, clicks concentrate on a few categories.
    joined = clicks.merge(raw.users, on="user_id").merge(raw.items, on="item_id")
    top3_share = joined.groupby("user_group")["item_category"].agg(
        lambda c: c.value_counts().nlargest(3).sum() / len(c)
    )
    assert top3_share.mean() > 3 / cfg.data.n_categories * 2


def test_generate_is_idempotent(cfg: PipelineConfig) -> None:
    files = [cfg.paths.data_dir / name for name in RAW_FILES]
    before = mtimes(files)
    result = generate(cfg)
    assert not result.changed
    assert mtimes(files) == before
    bigger = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, n_users=301))
    assert generate(bigger).changed
    assert pq.read_metadata(files[0]).num_rows == 301


def test_parquet_source_writes_nothing(tmp_path: Path) -> None:
    config = tiny_data_config(tmp_path, source="parquet")
    assert not generate(config).changed
    assert not config.paths.data_dir.exists()
    with pytest.raises(DataError, match=r"users\.parquet: file not found"):
        validate_raw(config.paths.data_dir)


def rewrite(data_dir: Path, name: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    frame = pd.read_parquet(data_dir / name)
    change(frame).to_parquet(data_dir / name, index=False)


def set_column(column: str, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = value
        return frame

    return change


def set_first(column: str, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        values = frame[column].to_numpy().copy()
        values[0] = value
        frame[column] = values
        return frame

    return change


BAD_INPUTS = {
    "missing column": (
        schema.USERS_FILE,
        lambda f: f.drop(columns=["user_age"]),
        ["missing column 'user_age'"],
    ),
    "string codes": (
        schema.USERS_FILE,
        lambda f: f.assign(user_gender=f["user_gender"].map({0: "f", 1: "m"})),
        ["'user_gender'", "type string"],
    ),
    "fractional codes": (
        schema.ITEMS_FILE,
        set_column("item_brand", 1.5),
        ["'item_brand'", "without loss"],
    ),
    "negative code": (schema.ITEMS_FILE, set_first("item_shop", -3), ["'item_shop'", "negative"]),
    "duplicate id": (schema.USERS_FILE, set_first("user_id", 1), ["'user_id'", "duplicated"]),
    "click not 0/1": (schema.IMPRESSIONS_FILE, set_first("click", 2), ["'click'", "0 and 1"]),
    "null click": (
        schema.IMPRESSIONS_FILE,
        lambda f: f.assign(click=f["click"].astype("float").where(f.index > 0)),
        ["'click'", "null"],
    ),
    "unknown user": (
        schema.IMPRESSIONS_FILE,
        set_first("user_id", 10**9),
        ["'user_id'", "missing from users.parquet"],
    ),
    "unknown item": (
        schema.IMPRESSIONS_FILE,
        set_first("item_id", 10**9),
        ["'item_id'", "missing from items.parquet"],
    ),
    "string timestamp": (
        schema.IMPRESSIONS_FILE,
        lambda f: f.assign(timestamp=f["timestamp"].astype(str)),
        ["'timestamp'", "UTC timestamp"],
    ),
    "empty table": (schema.ITEMS_FILE, lambda f: f.iloc[:0], ["empty"]),
    "id beyond INT32": (
        schema.USERS_FILE,
        set_first("user_id", 2**31),
        ["'user_id'", "INT32", "re-number"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_validator_rejects_bad_input(cfg: PipelineConfig, case: str) -> None:
    name, change, expected = BAD_INPUTS[case]
    rewrite(cfg.paths.data_dir, name, change)
    with pytest.raises(DataError) as caught:
        validate_raw(cfg.paths.data_dir)
    message = str(caught.value)
    assert name in message
    for part in expected:
        assert part in message


def test_validator_rejects_a_missing_file(cfg: PipelineConfig) -> None:
    (cfg.paths.data_dir / schema.ITEMS_FILE).unlink()
    with pytest.raises(DataError, match=r"items\.parquet: file not found"):
        validate_raw(cfg.paths.data_dir)


def test_validator_casts_safe_types(cfg: PipelineConfig) -> None:
    data_dir = cfg.paths.data_dir
    rewrite(data_dir, schema.USERS_FILE, lambda f: f.astype({"user_age": "int32"}))
    rewrite(data_dir, schema.ITEMS_FILE, lambda f: f.astype({"item_brand": "float64"}))
    rewrite(
        data_dir,
        schema.IMPRESSIONS_FILE,
        lambda f: f.assign(
            click=f["click"].astype(bool), timestamp=f["timestamp"].dt.tz_localize(None)
        ),
    )
    raw = load_raw(data_dir)
    assert raw.users["user_age"].dtype == np.int64
    assert raw.items["item_brand"].dtype == np.int64
    assert raw.impressions["click"].dtype == np.int8
    assert str(raw.impressions["timestamp"].dt.tz) == "UTC"


def test_split_is_temporal_without_leakage(cfg: PipelineConfig) -> None:
    impressions = load_raw(cfg.paths.data_dir).impressions
    train, holdout = temporal_split(impressions, 0.2)
    assert train["timestamp"].max() < holdout["timestamp"].min()
    assert len(train) + len(holdout) == len(impressions)
    assert abs(len(holdout) / len(impressions) - 0.2) < 0.01
    # Shuffled input gives the same split: it depends on time, not row order.
    shuffled_train, _ = temporal_split(impressions.sample(frac=1.0, random_state=0), 0.2)
    assert sorted(shuffled_train.index) == sorted(train.index)


def test_features_cover_every_user_and_item_and_count_train_clicks(cfg: PipelineConfig) -> None:
    result = build(cfg)
    assert result.changed
    raw = load_raw(cfg.paths.data_dir)
    users, items, _ = load_features(cfg.paths.data_dir)
    assert sorted(users["user_id"]) == sorted(raw.users["user_id"])
    assert sorted(items["item_id"]) == sorted(raw.items["item_id"])
    assert users[schema.USER_DENSE].dtype == np.float32
    assert items[schema.ITEM_DENSE].dtype == np.float32
    pd.testing.assert_frame_equal(
        users[["user_id", *schema.USER_CATEGORICALS]],
        raw.users.sort_values("user_id").reset_index(drop=True),
    )

    train, holdout = temporal_split(raw.impressions, cfg.train.holdout_fraction)
    clicks = train[train["click"] == 1]
    for table, key, dense in (
        (users, "user_id", schema.USER_DENSE),
        (items, "item_id", schema.ITEM_DENSE),
    ):
        expected = clicks[key].value_counts().reindex(table[key], fill_value=0)
        np.testing.assert_allclose(np.expm1(table[dense]), expected.to_numpy(), rtol=1e-5)
    assert (users[schema.USER_DENSE] == 0).any(), "users without train clicks keep a row"
    assert (users["event_timestamp"] == train["timestamp"].max()).all()
    # Holdout clicks exist and are not counted.
    holdout_clicks = holdout[holdout["click"] == 1]["item_id"].value_counts()
    all_clicks = clicks["item_id"].value_counts().add(holdout_clicks, fill_value=0)
    assert not np.allclose(
        np.expm1(items[schema.ITEM_DENSE]), all_clicks.reindex(items["item_id"], fill_value=0)
    )


def test_stream_features_are_point_in_time_rows_of_the_log(cfg: PipelineConfig) -> None:
    build(cfg)
    raw = load_raw(cfg.paths.data_dir)
    rows = pd.read_parquet(cfg.paths.data_dir / schema.USER_STREAM_FEATURES_FILE)
    log = raw.impressions
    assert len(rows) == len(log[["user_id", "timestamp"]].drop_duplicates())
    category = raw.items.set_index("item_id")[schema.ITEM_CATEGORY]
    # Checked row by row the slow way, on a sample of users.
    for user in sorted(log["user_id"].unique())[:25]:
        mine = log[log["user_id"] == user]
        clicks = mine[mine["click"] == 1].sort_values("timestamp", kind="stable")
        for row in rows[rows["user_id"] == user].itertuples():
            at = row.event_timestamp
            assert at in set(mine["timestamp"])
            before = clicks[clicks["timestamp"] <= at]
            in_hour = before[before["timestamp"] > at - pd.Timedelta(hours=1)]
            assert row.user_clicks_1h == len(in_hour)
            if before.empty:
                assert row.user_last_click_category == NO_CATEGORY
            elif (before["timestamp"] == before["timestamp"].max()).sum() == 1:
                assert row.user_last_click_category == category[before["item_id"].iloc[-1]]
    assert (rows["user_clicks_1h"] > 1).any()


def test_features_are_idempotent(cfg: PipelineConfig) -> None:
    build(cfg)
    outputs = [
        cfg.paths.data_dir / schema.USER_FEATURES_FILE,
        cfg.paths.data_dir / schema.ITEM_FEATURES_FILE,
        cfg.paths.data_dir / schema.USER_STREAM_FEATURES_FILE,
    ]
    before = mtimes(outputs)
    assert not build(cfg).changed
    assert mtimes(outputs) == before
    # New raw data is a new input: the features are rebuilt.
    rewrite(cfg.paths.data_dir, schema.IMPRESSIONS_FILE, lambda f: f.iloc[:-10])
    assert build(cfg).changed
