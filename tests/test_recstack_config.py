"""The shared config builder: both key spellings, nested dataclasses and tuples, and every
refusal naming the dotted key and what the file should say."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import pipelines.config
import stacks.stack_config
from recstack_config import (
    ConfigError,
    DataclassBuilder,
    at_least,
    between,
    one_of,
    snake_to_camel,
)


@dataclass(frozen=True)
class Inner:
    max_bytes: int = 1
    ratio: float = 0.5


@dataclass(frozen=True)
class Outer:
    data_dir: Path = Path("/data")
    public_access: bool = False
    version: str = "1.0"
    block_list: tuple[int, ...] = ()
    inner: Inner = field(default_factory=Inner)


@dataclass(frozen=True)
class Unsupported:
    labels: dict[str, str] = field(default_factory=dict)
    pair: tuple[int, str] = (0, "")


AS_WRITTEN = DataclassBuilder()
CAMEL = DataclassBuilder(spell=snake_to_camel)


def test_keys_as_written_build_nested_dataclasses_and_tuples() -> None:
    raw = {
        "data_dir": "/srv/data",
        "public_access": True,
        "block_list": [3, 4],
        "inner": {"max_bytes": 8},
    }
    built = AS_WRITTEN.build(Outer, raw, "serving.")
    assert built == Outer(
        data_dir=Path("/srv/data"),
        public_access=True,
        block_list=(3, 4),
        inner=Inner(max_bytes=8),
    )


def test_camel_case_keys_build_the_snake_case_fields() -> None:
    raw = {"publicAccess": True, "blockList": (5,), "inner": {"maxBytes": 2, "ratio": 1}}
    built = CAMEL.build(Outer, raw, "recstack:kafka.")
    assert built.public_access is True
    assert built.block_list == (5,)
    assert built.inner == Inner(max_bytes=2, ratio=1.0)
    assert isinstance(built.inner.ratio, float)


def test_left_out_fields_keep_their_defaults() -> None:
    assert AS_WRITTEN.build(Outer, {}) == Outer()


def test_numbers_are_taken_as_strings() -> None:
    """YAML reads an unquoted 7.1 as a number; a string field takes it as written."""
    assert AS_WRITTEN.build(Outer, {"version": 7.1}).version == "7.1"
    assert AS_WRITTEN.build(Outer, {"version": 1042}).version == "1042"


@pytest.mark.parametrize(
    ("builder", "prefix", "raw", "message"),
    [
        (AS_WRITTEN, "serving.", {"data_dirr": "/x"}, "unknown key serving.data_dirr"),
        (CAMEL, "recstack:kafka.", {"dataDirr": "/x"}, "unknown key recstack:kafka.dataDirr"),
        # Only the file's own spelling is a key: the field name itself is not.
        (CAMEL, "recstack:kafka.", {"data_dir": "/x"}, "unknown key recstack:kafka.data_dir"),
        (AS_WRITTEN, "", {"inner": {"bytes": 1}}, "unknown key inner.bytes"),
    ],
)
def test_unknown_keys_are_refused(
    builder: DataclassBuilder, prefix: str, raw: dict, message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        builder.build(Outer, raw, prefix)


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        (AS_WRITTEN, "block_list, data_dir, inner, public_access, version"),
        (CAMEL, "blockList, dataDir, inner, publicAccess, version"),
    ],
)
def test_an_unknown_key_lists_the_expected_ones_as_the_file_spells_them(
    builder: DataclassBuilder, expected: str
) -> None:
    with pytest.raises(ConfigError) as error:
        builder.build(Outer, {"bogus": 1}, "x.")
    assert str(error.value) == f"unknown key x.bogus; expected one of: {expected}"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"inner": {"max_bytes": "many"}},
            "serving.inner.max_bytes must be an integer, got 'many'",
        ),
        ({"inner": {"max_bytes": True}}, "serving.inner.max_bytes must be an integer, got True"),
        ({"inner": {"max_bytes": 1.5}}, "serving.inner.max_bytes must be an integer, got 1.5"),
        ({"inner": {"ratio": "half"}}, "serving.inner.ratio must be a number, got 'half'"),
        ({"inner": {"ratio": False}}, "serving.inner.ratio must be a number, got False"),
        ({"public_access": "yes"}, "serving.public_access must be true or false, got 'yes'"),
        ({"public_access": 1}, "serving.public_access must be true or false, got 1"),
        ({"version": ["1"]}, "serving.version must be a string, got ['1']"),
        ({"version": True}, "serving.version must be a string, got True"),
        ({"data_dir": ""}, "serving.data_dir must be a path string, got ''"),
        ({"data_dir": 5}, "serving.data_dir must be a path string, got 5"),
        ({"block_list": 3}, "serving.block_list must be a list, got 3"),
        ({"block_list": [1, "x"]}, "serving.block_list[1] must be an integer, got 'x'"),
        ({"inner": [1]}, "serving.inner must be a mapping, got [1]"),
    ],
)
def test_a_value_of_the_wrong_type_names_its_dotted_key(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        AS_WRITTEN.build(Outer, raw, "serving.")
    assert str(error.value) == message


def test_camel_case_keys_are_named_as_the_file_spells_them() -> None:
    with pytest.raises(ConfigError) as error:
        CAMEL.build(Outer, {"inner": {"maxBytes": "8 MiB"}}, "recstack:kafka.")
    assert str(error.value) == "recstack:kafka.inner.maxBytes must be an integer, got '8 MiB'"


def test_a_whole_config_that_is_no_mapping_is_named_config() -> None:
    with pytest.raises(ConfigError, match=re.escape("config must be a mapping, got [1, 2]")):
        AS_WRITTEN.build(Outer, [1, 2])


def test_removed_keys_fail_with_their_fix_before_anything_else() -> None:
    builder = DataclassBuilder(
        spell=snake_to_camel,
        removed={
            # A field's own name too: the table wins, so a removed key is never read.
            "recstack:kafka.version": "delete it; the version follows the broker type",
            "recstack:kafka.inner.mode": "delete it; MSK only",
        },
    )
    with pytest.raises(ConfigError) as error:
        builder.build(Outer, {"version": "2"}, "recstack:kafka.")
    assert str(error.value) == (
        "recstack:kafka.version '2' was removed: delete it; the version follows the broker type"
    )
    with pytest.raises(ConfigError, match=re.escape("recstack:kafka.inner.mode 'x' was removed")):
        builder.build(Outer, {"inner": {"mode": "x"}}, "recstack:kafka.")
    # The same key elsewhere is only unknown.
    with pytest.raises(ConfigError, match=re.escape("unknown key recstack:redis.inner.mode")):
        builder.build(Outer, {"inner": {"mode": "x"}}, "recstack:redis.")


def test_coerce_checks_a_single_value() -> None:
    assert AS_WRITTEN.coerce(str, 1042, "recstack:costCenter") == "1042"
    with pytest.raises(ConfigError, match=re.escape("recstack:tier must be a string")):
        AS_WRITTEN.coerce(str, ["staging"], "recstack:tier")


@pytest.mark.parametrize(
    ("raw", "where"), [({"labels": {}}, "x.labels"), ({"pair": [1]}, "x.pair")]
)
def test_a_field_type_the_builder_does_not_know_is_a_programming_error(
    raw: dict, where: str
) -> None:
    with pytest.raises(
        TypeError, match=f"unsupported config type .* at {re.escape(where)}"
    ) as error:
        AS_WRITTEN.build(Unsupported, raw, "x.")
    assert not isinstance(error.value, ConfigError)


def test_snake_to_camel() -> None:
    assert snake_to_camel("hps_receive_buffer_bytes") == "hpsReceiveBufferBytes"
    assert snake_to_camel("tier") == "tier"


def test_range_rules_name_the_key_and_the_bounds() -> None:
    at_least("train.eval_k", 1, 1)
    between("train.holdout_fraction", 0.05, 0.05, 0.5)
    between("train.holdout_fraction", 0.5, 0.05, 0.5)
    one_of("data.source", "parquet", ("synthetic", "parquet"))
    cases = [
        (lambda: at_least("train.eval_k", 0, 1), "train.eval_k must be >= 1; got 0"),
        (
            lambda: between("train.holdout_fraction", 0.9, 0.05, 0.5),
            "train.holdout_fraction must be 0.05 to 0.5; got 0.9",
        ),
        (
            lambda: between("recstack:redis.replicasPerShard", -1, 0, 5),
            "recstack:redis.replicasPerShard must be 0 to 5; got -1",
        ),
        (
            lambda: one_of("data.source", "csv", ("synthetic", "parquet")),
            "data.source must be one of synthetic, parquet; got 'csv'",
        ),
    ]
    for check, message in cases:
        with pytest.raises(ConfigError) as error:
            check()
        assert str(error.value) == message


def test_both_configs_raise_the_one_error() -> None:
    assert pipelines.config.ConfigError is ConfigError
    assert stacks.stack_config.ConfigError is ConfigError
    assert issubclass(ConfigError, ValueError)
