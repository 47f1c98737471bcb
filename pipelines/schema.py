"""The data contract between the offline store, training and serving.

Raw tables (what users replace with their own data, parquet in `paths.data_dir`):

users.parquet        user_id INT64 unique, then USER_CATEGORICALS as INT64 codes >= 0
items.parquet        item_id INT64 unique, then ITEM_CATEGORICALS as INT64 codes >= 0
impressions.parquet  user_id INT64, item_id INT64, click INT8 (0/1), timestamp TIMESTAMP(UTC)

Feature tables (written by the `features` step; the Feast offline store reads them):

user_features.parquet  user_id, USER_CATEGORICALS, user_activity FLOAT32, event_timestamp
item_features.parquet  item_id, ITEM_CATEGORICALS, item_popularity FLOAT32, event_timestamp

Model signatures (ONNX, used by training, the Triton stages and batch scoring):

user tower  user_sparse INT64 [B, len(USER_SPARSE)] -> user_embedding FP32 [B, D], L2-normalised
ranker      sparse INT64 [B, len(RANKER_SPARSE)], dense FP32 [B, len(RANKER_DENSE)]
            -> score FP32 [B] (click probability)

Categorical codes are taken modulo the cardinality recorded in the model manifest inside
the models, so a code never seen in training cannot index out of range.
"""

from __future__ import annotations

USER_CATEGORICALS: tuple[str, ...] = (
    "user_gender",
    "user_age",
    "user_geography",
    "user_group",
    "user_profile",
)
ITEM_CATEGORICALS: tuple[str, ...] = (
    "item_category",
    "item_shop",
    "item_brand",
    "item_intention",
)

USER_DENSE = "user_activity"
ITEM_DENSE = "item_popularity"

# Column order of the models' sparse inputs.
USER_SPARSE: tuple[str, ...] = ("user_id", *USER_CATEGORICALS)
ITEM_SPARSE: tuple[str, ...] = ("item_id", *ITEM_CATEGORICALS)
RANKER_SPARSE: tuple[str, ...] = (*USER_SPARSE, *ITEM_SPARSE)
RANKER_DENSE: tuple[str, ...] = (USER_DENSE, ITEM_DENSE)

# Features the online store serves per user (Feast view `user_features`), in the order
# the serving path passes them between stages.
USER_ONLINE_FEATURES: tuple[str, ...] = (*USER_CATEGORICALS, USER_DENSE)
ITEM_ONLINE_FEATURES: tuple[str, ...] = (*ITEM_CATEGORICALS, ITEM_DENSE)

USERS_FILE = "users.parquet"
ITEMS_FILE = "items.parquet"
IMPRESSIONS_FILE = "impressions.parquet"
USER_FEATURES_FILE = "user_features.parquet"
ITEM_FEATURES_FILE = "item_features.parquet"

USER_FEATURE_VIEW = "user_features"
ITEM_FEATURE_VIEW = "item_features"
