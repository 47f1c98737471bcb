"""The data layout between the offline store, training and serving.

The feature schema itself (entities, views, typed features) is defined once in
`recstack_contract.features`; the column lists below are derived from it.

Raw tables (what users replace with their own data, parquet in `paths.data_dir`):

users.parquet        user_id INT64 unique, then USER_CATEGORICALS as INT64 codes >= 0
items.parquet        item_id INT64 unique, then ITEM_CATEGORICALS as INT64 codes >= 0
impressions.parquet  user_id INT64, item_id INT64, click INT8 (0/1), timestamp TIMESTAMP(UTC)

Feature tables (written by the `features` step; the Feast offline store reads them):

user_features.parquet  user_id, USER_CATEGORICALS, user_activity FLOAT32, event_timestamp
item_features.parquet  item_id, ITEM_CATEGORICALS, item_popularity FLOAT32, event_timestamp
user_stream_features.parquet  user_id, user_clicks_1h INT64, user_last_click_category INT64,
                       event_timestamp: one row per user and event time

Model signatures (ONNX, used by training, the Triton stages and batch scoring):

user tower  user_sparse INT64 [B, len(USER_MODEL_SPARSE)] -> user_embedding FP32 [B, D],
            L2-normalised
ranker      sparse INT64 [B, len(RANKER_SPARSE)], dense FP32 [B, len(RANKER_DENSE)]
            -> score FP32 [B] (click probability); the user's columns come first
            (USER_MODEL_SPARSE, USER_RANKER_DENSE), the item's follow, then the cross
            of the two (CROSS_DENSE)

Both models read the user as of the moment served: the static features, then the
streaming ones (serving/stream_inputs.py), so a session's clicks move the user's
embedding towards what they are after as well as the ranker's scores.

Categorical codes are taken modulo the cardinality recorded in the model manifest inside
the models, so a code never seen in training cannot index out of range.
"""

from __future__ import annotations

from recstack_contract import features as contract

from .serving import stream_inputs

# The per-entity columns, in the order the feature views declare them.
USER_CATEGORICALS: tuple[str, ...] = contract.USER_FEATURES.names(contract.INT64)
ITEM_CATEGORICALS: tuple[str, ...] = contract.ITEM_FEATURES.names(contract.INT64)
(USER_DENSE,) = contract.USER_FEATURES.names(contract.FLOAT32)
(ITEM_DENSE,) = contract.ITEM_FEATURES.names(contract.FLOAT32)

# The category the ordering stage diversifies on and the streaming features report.
ITEM_CATEGORY = "item_category"
assert ITEM_CATEGORY in ITEM_CATEGORICALS

USER_KEY = contract.USER.join_key
ITEM_KEY = contract.ITEM.join_key

# Column order of the models' sparse inputs.
USER_SPARSE: tuple[str, ...] = (USER_KEY, *USER_CATEGORICALS)
ITEM_SPARSE: tuple[str, ...] = (ITEM_KEY, *ITEM_CATEGORICALS)
# The user's sparse columns as both models read them: the user tower's whole input and
# the user's part of the ranker's.
USER_MODEL_SPARSE: tuple[str, ...] = (*USER_SPARSE, *stream_inputs.SPARSE)
USER_RANKER_DENSE: tuple[str, ...] = (USER_DENSE, *stream_inputs.DENSE)
RANKER_SPARSE: tuple[str, ...] = (*USER_MODEL_SPARSE, *ITEM_SPARSE)
RANKER_DENSE: tuple[str, ...] = (*USER_RANKER_DENSE, ITEM_DENSE, *stream_inputs.CROSS_DENSE)

# Features the online store serves per user (Feast view `user_features`), in the order
# the serving path passes them between stages.
USER_ONLINE_FEATURES: tuple[str, ...] = contract.USER_FEATURES.names()
ITEM_ONLINE_FEATURES: tuple[str, ...] = contract.ITEM_FEATURES.names()

USERS_FILE = "users.parquet"
ITEMS_FILE = "items.parquet"
IMPRESSIONS_FILE = "impressions.parquet"
USER_FEATURES_FILE = contract.USER_FEATURES.file
ITEM_FEATURES_FILE = contract.ITEM_FEATURES.file
USER_STREAM_FEATURES_FILE = contract.USER_STREAM_FEATURES.file

USER_FEATURE_VIEW = contract.USER_FEATURES.name
ITEM_FEATURE_VIEW = contract.ITEM_FEATURES.name
