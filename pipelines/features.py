"""The `features` step: the user and item feature tables the Feast offline store reads.

Dense features count clicks of the train split only, so a model evaluated on the holdout
never sees holdout clicks through its inputs. Every raw user and item gets a row (zero
activity is a valid feature: it is what a new user looks like at serving time).

The streaming user features (pipelines/streaming/activity.py) are computed from the
whole interaction log, one row per user and event time: point-in-time rows, which a
join as of a moment reads without seeing anything later.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines import schema
from pipelines.config import PipelineConfig
from pipelines.data.files import read_json, write_json, write_parquet
from pipelines.data.validate import RAW_FILES, TIMESTAMP_TYPE, DataError, load_raw
from pipelines.split import temporal_split
from pipelines.steps import StepResult, fingerprint
from pipelines.streaming import activity
from recstack_contract import features as contract_features

STEP = "features"
STAMP_FILE = "_features.json"
# Bump when the features computed here change, so existing tables are rebuilt.
FEATURES_VERSION = 2
EVENT_TIMESTAMP = contract_features.EVENT_TIMESTAMP

USER_FEATURE_COLUMNS: tuple[str, ...] = (
    "user_id",
    *schema.USER_CATEGORICALS,
    schema.USER_DENSE,
    EVENT_TIMESTAMP,
)
ITEM_FEATURE_COLUMNS: tuple[str, ...] = (
    "item_id",
    *schema.ITEM_CATEGORICALS,
    schema.ITEM_DENSE,
    EVENT_TIMESTAMP,
)


USER_STREAM_FEATURE_COLUMNS: tuple[str, ...] = (
    "user_id",
    *contract_features.USER_STREAM_FEATURES.names(),
    EVENT_TIMESTAMP,
)


def build(cfg: PipelineConfig) -> StepResult:
    """Write user_features.parquet and item_features.parquet unless they are current."""
    data_dir = cfg.paths.data_dir
    raw = load_raw(data_dir)
    digest = fingerprint(
        STEP,
        FEATURES_VERSION,
        cfg.train.holdout_fraction,
        files=tuple(data_dir / name for name in RAW_FILES),
    )
    stamp_path = data_dir / STAMP_FILE
    outputs = (
        data_dir / schema.USER_FEATURES_FILE,
        data_dir / schema.ITEM_FEATURES_FILE,
        data_dir / schema.USER_STREAM_FEATURES_FILE,
    )
    if read_json(stamp_path) == {"fingerprint": digest} and all(p.is_file() for p in outputs):
        return StepResult(STEP, False, {"data_dir": data_dir, "fingerprint": digest})

    train, _ = temporal_split(raw.impressions, cfg.train.holdout_fraction)
    clicks = train[train["click"] == 1]
    # Features are "as of" the end of the train period: that is when they were known.
    # Flooring to the stored microsecond precision keeps it at or before that moment.
    as_of = train["timestamp"].max().floor("us")
    users = _with_clicks(raw.users, "user_id", clicks, schema.USER_DENSE, as_of)
    items = _with_clicks(raw.items, "item_id", clicks, schema.ITEM_DENSE, as_of)

    stamp_path.unlink(missing_ok=True)
    write_parquet(_to_arrow(users, USER_FEATURE_COLUMNS), outputs[0])
    write_parquet(_to_arrow(items, ITEM_FEATURE_COLUMNS), outputs[1])
    stream = stream_features(raw.impressions, activity.item_categories(data_dir))
    write_parquet(_to_arrow(stream, USER_STREAM_FEATURE_COLUMNS), outputs[2])
    write_json({"fingerprint": digest}, stamp_path)
    return StepResult(
        STEP,
        True,
        {
            "data_dir": data_dir,
            "fingerprint": digest,
            "users": len(users),
            "items": len(items),
            "train_clicks": len(clicks),
            "as_of": as_of.isoformat(),
        },
    )


def stream_features(impressions: pd.DataFrame, categories: dict[int, int]) -> pd.DataFrame:
    """The streaming feature rows of an impressions table, with their event timestamps."""
    rows = activity.offline_features(activity.events_from_impressions(impressions), categories)
    stamps = pd.to_datetime(activity.micros(rows["ts"].to_numpy()), unit="us")
    return rows.assign(**{EVENT_TIMESTAMP: stamps.tz_localize("UTC")})


def load_features(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(user_features, item_features, user_stream_features) as written by build()."""
    tables = []
    for name, columns in (
        (schema.USER_FEATURES_FILE, USER_FEATURE_COLUMNS),
        (schema.ITEM_FEATURES_FILE, ITEM_FEATURE_COLUMNS),
        (schema.USER_STREAM_FEATURES_FILE, USER_STREAM_FEATURE_COLUMNS),
    ):
        path = data_dir / name
        if not path.is_file():
            raise DataError(f"{path}: file not found; run the features step first")
        frame = pd.read_parquet(path)
        missing = [column for column in columns if column not in frame.columns]
        if missing:
            raise DataError(
                f"{path}: missing column {missing[0]!r}; the file predates this version, "
                "rerun the features step"
            )
        tables.append(frame[list(columns)])
    return tables[0], tables[1], tables[2]


def _with_clicks(
    table: pd.DataFrame, key: str, clicks: pd.DataFrame, dense: str, as_of: pd.Timestamp
) -> pd.DataFrame:
    counts = clicks[key].value_counts()
    out = table.sort_values(key, kind="stable").reset_index(drop=True)
    per_row = counts.reindex(out[key], fill_value=0).to_numpy()
    out[dense] = np.log1p(per_row).astype(np.float32)
    out[EVENT_TIMESTAMP] = as_of
    return out


def _to_arrow(frame: pd.DataFrame, columns: tuple[str, ...]) -> pa.Table:
    fields = [pa.field(name, _arrow_type(name)) for name in columns]
    return pa.Table.from_pandas(
        frame[list(columns)], schema=pa.schema(fields), preserve_index=False
    )


def _arrow_type(column: str) -> pa.DataType:
    if column == EVENT_TIMESTAMP:
        return TIMESTAMP_TYPE
    if column in (schema.USER_DENSE, schema.ITEM_DENSE):
        return pa.float32()
    return pa.int64()
