"""The serving spec: what the export step records about a model repository for the stages.

Written as `serving_spec.json` next to every stage model; model-specific settings only.
Where Redis is comes from the Triton process's environment (redis_client.py), so one
model repository deploys unchanged to any environment.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

SPEC_FILE = "serving_spec.json"
# Files the stages load from their version directory (the export step writes them).
USER_TOWER_FILE = "user_tower.onnx"
RANKER_FILE = "ranker.onnx"
# The ranker after its embedding lookup (HPS mode: the vectors come from the HPS tiers).
DENSE_RANKER_FILE = "ranker_dense.onnx"
INDEX_FILE = "items.faiss"
ITEM_IDS_FILE = "item_ids.npy"
POPULAR_ITEMS_FILE = "popular_items.npy"
# The ranker in HugeCTR's format (pipelines/hugectr), in the scoring stage's directory.
HUGECTR_DIRECTORY = "hugectr"
# The scoring stage's variants (graph.SCORING_VARIANTS), by scoring_mode.
HPS_SCORING = "hps"
ONNX_SCORING = "onnx"
SCORING_MODES = (HPS_SCORING, ONNX_SCORING)


@dataclass(frozen=True)
class ServingSpec:
    model_version: str
    key_prefix: str
    feast_project: str
    user_view: str
    user_join_key: str
    # Online user features in the order stages pass them: categoricals, then dense.
    user_features: tuple[str, ...]
    user_dense_features: tuple[str, ...]
    retrieval_candidates: int
    top_k: int
    max_per_category: int
    # How the scoring stage gets the ranker's embeddings (config.ServingConfig.scoring)
    # and HPS's settings it needs (hugectr/settings.py): the Redis partitions, this
    # host's RocksDB, the in-process cache (rows, seconds a vector is used) and how long
    # to leave a failed Redis alone.
    scoring_mode: str
    hps_partitions: int
    hps_rocksdb_dir: str
    hps_cache_rows: int
    hps_refresh_s: float
    hps_redis_retry_s: float
    # The configured blocklist at export time: what a stage excludes before it has
    # read the live one from Redis (see filtering.Exclusions).
    blocklist: tuple[int, ...] = ()

    @property
    def user_categoricals(self) -> tuple[str, ...]:
        return tuple(f for f in self.user_features if f not in self.user_dense_features)

    def write(self, directory: Path) -> None:
        (directory / SPEC_FILE).write_text(json.dumps(asdict(self), indent=2, sort_keys=True))

    @classmethod
    def read(cls, directory: Path) -> ServingSpec:
        raw = json.loads((directory / SPEC_FILE).read_text())
        for name in ("user_features", "user_dense_features", "blocklist"):
            raw[name] = tuple(raw[name])
        return cls(**raw)
