"""Checks that the raw tables in `paths.data_dir` follow the contract in pipelines.schema.

Users replace the synthetic tables with their own exports, so every step starts here: a
bad table must stop the pipeline with the file, the column and the fix, not surface later
as a shape error inside training or a silently wrong recommendation. Only the contract's
columns are read and every check is a vectorised Arrow kernel, so this stays cheap
enough to run at the start of every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines import schema

# The column kinds of the contract: what each column must hold.
_ID = "id"  # integer >= 0, unique within its own table
_CODE = "code"  # integer >= 0
_REF = "reference"  # integer id that must exist in another table
_CLICK = "click"  # 0 or 1
_TIME = "timestamp"

RAW_COLUMNS: dict[str, dict[str, str]] = {
    schema.USERS_FILE: {"user_id": _ID, **dict.fromkeys(schema.USER_CATEGORICALS, _CODE)},
    schema.ITEMS_FILE: {"item_id": _ID, **dict.fromkeys(schema.ITEM_CATEGORICALS, _CODE)},
    schema.IMPRESSIONS_FILE: {
        "user_id": _REF,
        "item_id": _REF,
        "click": _CLICK,
        "timestamp": _TIME,
    },
}
RAW_FILES: tuple[str, ...] = tuple(RAW_COLUMNS)

# Normalised Arrow types of the raw tables (what the synthetic generator writes).
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")
_TARGET_TYPES = {_ID: pa.int64(), _CODE: pa.int64(), _REF: pa.int64(), _CLICK: pa.int8()}


class DataError(ValueError):
    """A table in the data directory breaks the data contract (pipelines.schema)."""


@dataclass(frozen=True)
class RawTables:
    """The three raw tables, validated, with the contract's dtypes and nothing else."""

    users: pd.DataFrame
    items: pd.DataFrame
    impressions: pd.DataFrame


def validate_raw(data_dir: Path) -> None:
    """Raise DataError naming file, column and fix if a raw table breaks the contract."""
    _read_checked(data_dir)


def load_raw(data_dir: Path) -> RawTables:
    """Validated raw tables as DataFrames: ids and codes int64, click int8, UTC timestamps."""
    tables = _read_checked(data_dir)
    return RawTables(*(table.to_pandas() for table in tables))


def _read_checked(data_dir: Path) -> tuple[pa.Table, pa.Table, pa.Table]:
    users, items, impressions = (_read(data_dir / name) for name in RAW_FILES)
    _unique_ids(data_dir / schema.USERS_FILE, users, "user_id")
    _unique_ids(data_dir / schema.ITEMS_FILE, items, "item_id")
    where = data_dir / schema.IMPRESSIONS_FILE
    _known(where, impressions, "user_id", users, schema.USERS_FILE)
    _known(where, impressions, "item_id", items, schema.ITEMS_FILE)
    return users, items, impressions


def _read(path: Path) -> pa.Table:
    columns = RAW_COLUMNS[path.name]
    if not path.is_file():
        raise DataError(
            f"{path}: file not found; with data.source: synthetic the generate step "
            f"writes it, with data.source: parquet export your table there with the "
            f"columns {', '.join(columns)}"
        )
    try:
        present = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{path}: not a readable parquet file ({exc}); rewrite it") from exc
    missing = [name for name in columns if name not in present.names]
    if missing:
        raise DataError(
            f"{path}: missing column {missing[0]!r} (has: {', '.join(present.names)}); "
            f"the table needs the columns {', '.join(columns)}"
        )
    table = pq.read_table(path, columns=list(columns))
    if table.num_rows == 0:
        raise DataError(f"{path}: the table is empty; export at least one row")
    return pa.table({name: _column(path, table, name, kind) for name, kind in columns.items()})


# The ensemble's contract (user_id_raw in, ordered_ids out) carries ids as INT32.
_SERVED_IDS = ("user_id", "item_id")
_INT32_MAX = 2**31 - 1


def _column(path: Path, table: pa.Table, name: str, kind: str) -> pa.ChunkedArray:
    values = table[name]
    if values.null_count:
        raise DataError(
            f"{path}: column {name!r} has {values.null_count} null values; drop those "
            "rows or fill them before exporting"
        )
    if kind == _TIME:
        return _timestamps(path, name, values)
    values = _cast(path, name, values, _TARGET_TYPES[kind])
    low, high = pc.min_max(values).values()
    if kind == _CLICK and (low.as_py() < 0 or high.as_py() > 1):
        raise DataError(
            f"{path}: column {name!r} must hold only 0 and 1, found values from "
            f"{low.as_py()} to {high.as_py()}; map clicks to 1 and non-clicks to 0"
        )
    if low.as_py() < 0:
        raise DataError(
            f"{path}: column {name!r} has negative values (minimum {low.as_py()}); "
            "ids and categorical codes must be integers >= 0, re-encode them"
        )
    if name in _SERVED_IDS and high.as_py() > _INT32_MAX:
        raise DataError(
            f"{path}: column {name!r} has ids up to {high.as_py()}, but the serving API "
            f"carries ids as INT32 (at most {_INT32_MAX}); re-number them densely"
        )
    return values


def _cast(path: Path, name: str, values: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    kind = values.type
    # Integers of any width, booleans (clicks) and integral floats convert without loss;
    # Arrow's safe cast refuses overflow and truncation, which is exactly the line.
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        try:
            return values.cast(target, safe=True)
        except pa.ArrowInvalid:
            pass
    raise DataError(
        f"{path}: column {name!r} has type {kind}, which does not convert to {target} "
        f"without loss; write it as {target} (e.g. df[{name!r}].astype('{target}'))"
    )


def _timestamps(path: Path, name: str, values: pa.ChunkedArray) -> pa.ChunkedArray:
    kind = values.type
    if not pa.types.is_timestamp(kind):
        raise DataError(
            f"{path}: column {name!r} has type {kind}, expected a UTC timestamp; convert "
            f"it, e.g. df[{name!r}] = pd.to_datetime(df[{name!r}], utc=True)"
        )
    # A zone-less timestamp is read as UTC (the contract's zone); a zoned one is the
    # same instant whatever its zone, so converting it loses nothing.
    if kind.tz is None:
        return pc.assume_timezone(values, "UTC")
    return values.cast(pa.timestamp(kind.unit, tz="UTC"))


def _unique_ids(path: Path, table: pa.Table, name: str) -> None:
    counts = pc.value_counts(table[name])
    repeated = pc.filter(counts, pc.greater(counts.field("counts"), 1))
    if len(repeated):
        example = repeated[0]["values"].as_py()
        raise DataError(
            f"{path}: column {name!r} has {len(repeated)} duplicated ids (e.g. {example}); "
            "keep one row per id"
        )


def _known(path: Path, table: pa.Table, name: str, other: pa.Table, other_file: str) -> None:
    unknown = pc.filter(table[name], pc.invert(pc.is_in(table[name], value_set=other[name])))
    if len(unknown):
        raise DataError(
            f"{path}: column {name!r} references {len(unknown)} rows with ids missing "
            f"from {other_file} (e.g. {unknown[0].as_py()}); add those to {other_file} "
            "or drop the impressions"
        )
