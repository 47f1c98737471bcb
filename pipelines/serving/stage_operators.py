"""The serving stages as operators (graph.py declares them and their tensors): each is
built from its version directory, its spec and a Context, then answers
`transform(arrays) -> arrays` for a batch of users until `close()`.

The logic is in the stage modules (retrieval, filtering, scoring, ordering and HPS's);
an operator only joins it to its files, its settings and what it reads at run time.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np
import onnxruntime as ort

from recstack_contract import hps
from recstack_contract.features import USER_STREAM_FEATURES

from . import feast_layout, redis_client, resilience
from .catalog import Catalog
from .filtering import Exclusions, filter_candidates
from .hps_lookup import EmbeddingCache, HpsLookup
from .hps_ranker import HpsRanker
from .hps_rocksdb import RocksDbReader
from .hugectr_files import ExportedTable, InferenceFiles
from .ordering import order
from .retrieval import Retrieval, read_user_features, user_inputs
from .scoring import Scoring
from .spec import (
    DENSE_RANKER_FILE,
    HUGECTR_DIRECTORY,
    INDEX_FILE,
    ITEM_IDS_FILE,
    POPULAR_ITEMS_FILE,
    RANKER_FILE,
    USER_TOWER_FILE,
    ServingSpec,
)
from .tensors import (
    CANDIDATES,
    FILTERED,
    IS_DEGRADED,
    IS_FALLBACK,
    ORDERED_IDS,
    ORDERED_SCORES,
    RETRIEVAL_DEGRADED,
    SCORES,
    USER_DENSE,
    USER_ID,
    USER_SPARSE,
)

Arrays = dict[str, np.ndarray]


class Operator(Protocol):
    def transform(self, inputs: Arrays) -> Arrays: ...

    def close(self) -> None: ...


class UserFeatures(Protocol):
    def read(self, user_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        """[users, the spec's user_features then USER_STREAM_FEATURES] (NaN where
        missing), whether each user has features, and whether Redis could not be read."""
        ...


@dataclass(frozen=True)
class Context:
    """What the stages read beyond their files. Triton's stages: `serving()`. The batch
    job gives its own connection, the users' features from its data, and no RocksDB
    (the trainer hosts have none)."""

    # A Redis client; the HPS lookup makes its own on first use, so that a stage starts
    # while Redis is down.
    connect: Callable[[], object]
    # How long a stage retries a failed Redis read before it answers degraded.
    retry_budget_s: float
    # Where retrieval reads the users' features; None: the online store (Feast's rows).
    user_features: UserFeatures | None = None
    # Whether this host has the RocksDB tier (hps scoring falls back to it).
    rocksdb: bool = True

    @classmethod
    def serving(cls) -> Context:
        return cls(redis_client.client_from_env, resilience.retry_budget_s())


def onnx_session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    # Stage instances run side by side: one thread each avoids oversubscribing the cores.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnlineUserFeatures:
    """The users' static and streaming features, from the Feast rows in Redis, in one
    round trip."""

    def __init__(self, client, spec: ServingSpec, budget_s: float) -> None:
        user = feast_layout.FeastViewLayout(
            project=spec.feast_project,
            view=spec.user_view,
            join_key=spec.user_join_key,
            features=spec.user_features,
        )
        stream = feast_layout.FeastViewLayout.of(spec.feast_project, USER_STREAM_FEATURES)
        self._layout = feast_layout.EntityRow((user, stream))
        self._client = client
        self._budget_s = budget_s

    def read(self, user_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        return read_user_features(self._client, self._layout, user_ids, self._budget_s)


class RetrievalStage:
    """User ids -> features -> user tower -> FAISS top-N; hands the ranker's user inputs
    on to scoring."""

    def __init__(self, files: Path, spec: ServingSpec, context: Context) -> None:
        faiss.omp_set_num_threads(1)
        self._features = context.user_features or OnlineUserFeatures(
            context.connect(), spec, context.retry_budget_s
        )
        self._n_static = len(spec.user_features)
        self._n_categoricals = len(spec.user_categoricals)
        self._retrieval = Retrieval(
            user_tower=onnx_session(files / USER_TOWER_FILE),
            index=faiss.read_index(str(files / INDEX_FILE)),
            item_ids=np.load(files / ITEM_IDS_FILE),
            popular_items=np.load(files / POPULAR_ITEMS_FILE),
            n_candidates=spec.retrieval_candidates,
        )

    def transform(self, inputs: Arrays) -> Arrays:
        user_ids = inputs[USER_ID.name].reshape(-1).astype(np.int64)
        rows, found, degraded = self._features.read(user_ids)
        n = self._n_static
        user = user_inputs(user_ids, rows[:, :n], self._n_categoricals, rows[:, n:])
        candidates = self._retrieval.retrieve(user.sparse, found)
        return {
            CANDIDATES.name: candidates.item_ids,
            USER_SPARSE.name: user.sparse,
            USER_DENSE.name: user.dense,
            IS_FALLBACK.name: candidates.fallback.reshape(-1, 1),
            RETRIEVAL_DEGRADED.name: np.full((len(user_ids), 1), degraded),
        }

    def close(self) -> None:
        pass


class FilteringStage:
    """Drops seen, blocked and out-of-stock candidates."""

    def __init__(self, files: Path, spec: ServingSpec, context: Context) -> None:
        del files  # the stage loads none
        self._exclusions = Exclusions(
            context.connect(), spec.key_prefix, context.retry_budget_s, spec.blocklist
        )
        # The live exclusions now, so that an outage right after a (re)start still
        # finds operators' latest blocklist in memory.
        self._exclusions.fetch([])

    def transform(self, inputs: Arrays) -> Arrays:
        seen, excluded, degraded = self._exclusions.fetch(inputs[USER_ID.name].reshape(-1))
        return {
            FILTERED.name: filter_candidates(inputs[CANDIDATES.name], seen, excluded),
            # Degraded when this stage or retrieval had to answer without Redis.
            IS_DEGRADED.name: inputs[RETRIEVAL_DEGRADED.name] | degraded,
        }

    def close(self) -> None:
        pass


class _ScoringStage:
    def __init__(self, scoring: Scoring) -> None:
        self._scoring = scoring

    def transform(self, inputs: Arrays) -> Arrays:
        scores = self._scoring.score(
            inputs[USER_SPARSE.name],
            inputs[USER_DENSE.name],
            inputs[FILTERED.name],
            inputs[IS_FALLBACK.name],
        )
        return {SCORES.name: scores}

    def close(self) -> None:
        pass


class OnnxScoringStage(_ScoringStage):
    """The ranker with its own embedding table, in one ONNX model."""

    def __init__(self, files: Path, spec: ServingSpec, context: Context) -> None:
        del spec, context  # reads nothing at run time
        super().__init__(Scoring(onnx_session(files / RANKER_FILE), Catalog.load(files)))


class HpsScoringStage(_ScoringStage):
    """The ranker's embeddings from HPS's tiers (cache, Redis, this host's RocksDB), the
    dense part in onnxruntime; `lookup` has the tiers' counts. It holds a RocksDB
    secondary instance and its state directory open until close(). Without the RocksDB
    tier (Context.rocksdb false) a failed Redis read fails the batch: there is nothing
    to answer with but default vectors."""

    def __init__(self, files: Path, spec: ServingSpec, context: Context) -> None:
        table = ExportedTable.read(
            InferenceFiles.under(files / HUGECTR_DIRECTORY, hps.MODEL).network
        )
        dense_part = onnx_session(files / DENSE_RANKER_FILE)
        catalog = Catalog.load(files)
        # Opened last, when nothing else can fail: only close() releases them.
        self._secondary: Path | None = None
        self._rocksdb: RocksDbReader | None = None
        if context.rocksdb:
            # A secondary RocksDB instance keeps a little state of its own, per instance.
            self._secondary = Path(tempfile.mkdtemp(prefix="recstack-rocksdb-"))
            self._rocksdb = RocksDbReader(
                Path(spec.hps_rocksdb_dir), hps.table_tag(), self._secondary
            )
        self.lookup = HpsLookup(
            context.connect,
            hps.table_tag(),
            spec.hps_partitions,
            table.vec_size,
            EmbeddingCache(spec.hps_cache_rows, spec.hps_refresh_s),
            self._rocksdb,
            default_value=table.default_value,
            redis_retry_s=spec.hps_redis_retry_s,
        )
        super().__init__(Scoring(HpsRanker(self.lookup, dense_part, table.slot_sizes), catalog))

    def transform(self, inputs: Arrays) -> Arrays:
        failures = self.lookup.redis_errors
        outputs = super().transform(inputs)
        if self._rocksdb is None and self.lookup.redis_errors > failures:
            raise resilience.RedisUnavailable(
                "the HPS lookup could not read Redis, and there is no RocksDB tier here"
            )
        return outputs

    def close(self) -> None:
        self.lookup.close()
        if self._rocksdb is not None:
            self._rocksdb.close()
        if self._secondary is not None:
            shutil.rmtree(self._secondary, ignore_errors=True)


class OrderingStage:
    """Top-k by score with at most max_per_category items per category."""

    def __init__(self, files: Path, spec: ServingSpec, context: Context) -> None:
        del context  # reads nothing at run time
        self._catalog = Catalog.load(files)
        self._k = spec.top_k
        self._max_per_category = spec.max_per_category

    def transform(self, inputs: Arrays) -> Arrays:
        ids, scores = order(
            inputs[FILTERED.name],
            inputs[SCORES.name],
            self._catalog,
            self._k,
            self._max_per_category,
        )
        # The reference ensemble's contract is INT32 ids.
        return {ORDERED_IDS.name: ids.astype(np.int32), ORDERED_SCORES.name: scores}

    def close(self) -> None:
        pass
