"""Bad pipeline config fails early with the dotted key and what to change."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import ConfigError, PipelineConfig, from_mapping, load_config


def test_defaults_are_valid() -> None:
    assert isinstance(load_config(None), PipelineConfig)


def test_file_values_override_defaults(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yml"
    path.write_text("data:\n  n_users: 50\nserving:\n  blocklist: [3, 4]\n")
    cfg = load_config(path)
    assert cfg.data.n_users == 50
    assert cfg.serving.blocklist == (3, 4)
    assert cfg.data.n_items == PipelineConfig().data.n_items


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"data": {"n_user": 5}}, "unknown key data.n_user"),
        ({"train": {"epochs": 5}}, "unknown key train.epochs"),
        ({"data": {"n_users": "many"}}, "data.n_users must be an integer"),
        ({"data": {"n_users": True}}, "data.n_users must be an integer"),
        ({"data": {"source": "csv"}}, "data.source must be one of synthetic, parquet"),
        # Redis is the environment's business (recstack_contract/redis.py), not the file's.
        ({"serving": {"redis": {"port": 7000}}}, "unknown key serving.redis"),
        (
            {"serving": {"top_k": 50, "retrieval_candidates": 60}},
            "serving.retrieval_candidates must be at least twice",
        ),
        ({"serving": {"key_prefix": "a:b"}}, "serving.key_prefix"),
        ({"paths": {"data_dir": ""}}, "paths.data_dir must be a path"),
        (
            {"train": {"holdout_fraction": 0.9}},
            "train.holdout_fraction must be 0.05 to 0.5; got 0.9",
        ),
        ({"serving": {"blocklist": [1, "x"]}}, r"serving.blocklist\[1\] must be an integer"),
        (
            {"data": {"n_items": 100}, "serving": {"retrieval_candidates": 200}},
            "must not exceed data.n_items",
        ),
        ({"data": []}, "data must be a mapping"),
    ],
)
def test_invalid_values_name_the_key(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_mapping(raw).validate()


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yml")
