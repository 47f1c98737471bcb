"""The feature schema: entities, feature views and their typed features.

Training (pipelines/schema.py derives its column lists from here), the Feast repository
the feature_store role renders, and the serving path's direct reads of Feast's Redis
layout all use these definitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Feast's project: the suffix of every online-store key.
FEAST_PROJECT = "recstack"
# Feast type names (feast.types) the schema uses, and the dtype of each in the tables.
INT64 = "Int64"
FLOAT32 = "Float32"
# The feature tables' time column, which Feast's file sources read.
EVENT_TIMESTAMP = "event_timestamp"


@dataclass(frozen=True)
class Entity:
    name: str
    join_key: str


@dataclass(frozen=True)
class Feature:
    name: str
    dtype: str


@dataclass(frozen=True)
class FeatureView:
    name: str
    entity: Entity
    # Parquet file in the data directory that the view's offline source reads.
    file: str
    features: tuple[Feature, ...]

    def names(self, dtype: str | None = None) -> tuple[str, ...]:
        return tuple(f.name for f in self.features if dtype is None or f.dtype == dtype)


USER = Entity("user", "user_id")
ITEM = Entity("item", "item_id")

USER_FEATURES = FeatureView(
    "user_features",
    USER,
    "user_features.parquet",
    (
        Feature("user_gender", INT64),
        Feature("user_age", INT64),
        Feature("user_geography", INT64),
        Feature("user_group", INT64),
        Feature("user_profile", INT64),
        # log1p of the user's clicks before the cut-off (pipelines/features.py).
        Feature("user_activity", FLOAT32),
    ),
)
ITEM_FEATURES = FeatureView(
    "item_features",
    ITEM,
    "item_features.parquet",
    (
        Feature("item_category", INT64),
        Feature("item_shop", INT64),
        Feature("item_brand", INT64),
        Feature("item_intention", INT64),
        # log1p of the item's clicks before the cut-off.
        Feature("item_popularity", FLOAT32),
    ),
)
# Kept current by the stream processor from interaction events, and computed offline from
# the interaction log by the same definitions (pipelines/streaming/activity.py): values
# as of the user's latest event.
USER_STREAM_FEATURES = FeatureView(
    "user_stream_features",
    USER,
    "user_stream_features.parquet",
    (
        # Clicks in the hour up to the user's latest event.
        Feature("user_clicks_1h", INT64),
        # Category of the user's latest click; NO_CATEGORY before the first one.
        Feature("user_last_click_category", INT64),
    ),
)
NO_CATEGORY = -1
ENTITIES: tuple[Entity, ...] = (USER, ITEM)
VIEWS: tuple[FeatureView, ...] = (USER_FEATURES, ITEM_FEATURES, USER_STREAM_FEATURES)


def as_dict() -> dict[str, Any]:
    return {
        "feast_project": FEAST_PROJECT,
        "event_timestamp": EVENT_TIMESTAMP,
        "entities": [{"name": e.name, "join_key": e.join_key} for e in ENTITIES],
        "views": [
            {
                "name": v.name,
                "entity": v.entity.name,
                "file": v.file,
                "features": [{"name": f.name, "dtype": f.dtype} for f in v.features],
            }
            for v in VIEWS
        ],
    }
