"""HugeCTR's Hierarchical Parameter Server (HPS): the names its layers must agree on.

The trainer's exported model, ps.json, the Triton model, the Redis and RocksDB tiers and
the Kafka update topics all name the model and its embedding table; HPS joins them by
these names (and silently serves nothing when they differ), so they are defined here
once. The table tag is what HPS calls a table everywhere it stores or streams one:
`hps_et.<model>.<table>` (HugeCTR `make_tag_name`).
"""

from __future__ import annotations

import re
from typing import Any

# The ranker as HPS knows it: the exported network's model_name and ps.json's `model`.
MODEL = "ranker"
# The ranker's one embedding table, named as HPS names a table when ps.json gives no
# names (sparse_embedding<i>), so a hand-written ps.json finds it too.
TABLE = "sparse_embedding0"
TAG_PREFIX = "hps_et"
# HPS aborts the server on a model or table name outside this pattern (make_tag_name).
NAME_PATTERN = re.compile(r"[a-zA-Z0-9_\-]{1,120}")
# The CPU scoring stage's counter, on Triton's metrics endpoint, of the keys each HPS tier
# served; only a stage in hps mode reports it, which is how clients tell the modes apart.
LOOKUP_ROWS_METRIC = "recstack_hps_lookup_rows_total"


def table_tag(model: str = MODEL, table: str = TABLE) -> str:
    return f"{TAG_PREFIX}.{model}.{table}"


def as_dict() -> dict[str, Any]:
    return {"model": MODEL, "table": TABLE, "tag": table_tag()}
