"""The scoring stage's hps variant: the ranker's embeddings from HPS's tiers (cache,
Redis, this host's RocksDB), the dense part in onnxruntime."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from recstack_contract import hps

from .. import resilience
from ..catalog import Catalog
from ..hps_lookup import EmbeddingCache, HpsLookup
from ..hps_ranker import HpsRanker
from ..hps_rocksdb import RocksDbReader
from ..hugectr_files import ExportedTable, InferenceFiles
from ..scoring import Scoring
from ..spec import DENSE_RANKER_FILE, HUGECTR_DIRECTORY, ServingSpec
from .base import Arrays, Context
from .onnx import onnx_session
from .scoring import ScoringStage


class HpsScoringStage(ScoringStage):
    """`lookup` has the tiers' counts. The stage holds a RocksDB secondary instance and
    its state directory open until close(). Without the RocksDB tier (Context.rocksdb
    false) a failed Redis read fails the batch: there is nothing to answer with but
    default vectors."""

    def __init__(self, files: Path, spec: ServingSpec, context: Context) -> None:
        super().__init__(context)
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
            self.redis,
            hps.table_tag(),
            spec.hps_partitions,
            table.vec_size,
            EmbeddingCache(spec.hps_cache_rows, spec.hps_refresh_s),
            self._rocksdb,
            default_value=table.default_value,
            redis_retry_s=spec.hps_redis_retry_s,
        )
        self._scoring = Scoring(HpsRanker(self.lookup, dense_part, table.slot_sizes), catalog)

    def transform(self, inputs: Arrays) -> Arrays:
        failures = self.lookup.redis_errors
        outputs = super().transform(inputs)
        if self._rocksdb is None and self.lookup.redis_errors > failures:
            raise resilience.RedisUnavailable(
                "the HPS lookup could not read Redis, and there is no RocksDB tier here"
            )
        return outputs

    def close(self) -> None:
        super().close()
        if self._rocksdb is not None:
            self._rocksdb.close()
        if self._secondary is not None:
            shutil.rmtree(self._secondary, ignore_errors=True)
