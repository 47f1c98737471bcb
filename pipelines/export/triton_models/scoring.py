"""Triton model `scoring`: the DLRM ranker scores every surviving candidate, its
embeddings from HPS's tiers (`scoring_mode` "hps": cache, Redis, this host's RocksDB)
or from the ranker's own ONNX table ("onnx")."""

from __future__ import annotations

import shutil
import tempfile
import time
import traceback
from pathlib import Path

import triton_python_backend_utils as pb_utils
from recstack_serving import redis_client
from recstack_serving.catalog import Catalog
from recstack_serving.hps_lookup import TIERS, EmbeddingCache, HpsLookup
from recstack_serving.hps_ranker import HpsRanker
from recstack_serving.hps_rocksdb import RocksDbReader
from recstack_serving.hugectr_files import ExportedTable, InferenceFiles
from recstack_serving.scoring import Scoring
from recstack_serving.spec import DENSE_RANKER_FILE, HUGECTR_DIRECTORY, RANKER_FILE, ServingSpec
from stage_common import Arrays, input_names, onnx_session, run_batched, version_dir

from recstack_contract import hps

# Seconds between updates of the lookup's metrics (each is a call into the server).
METRICS_EVERY_S = 1.0


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        self.inputs = input_names(args)
        files = version_dir(args)
        spec = ServingSpec.read(files)
        self.hps: _HpsScoring | None = None
        if spec.scoring_mode == "hps":
            self.hps = _HpsScoring(files, spec, args["model_instance_name"])
            ranker = self.hps.ranker
        else:
            ranker = onnx_session(files / RANKER_FILE)
        self.scoring = Scoring(ranker, Catalog.load(files))

    def execute(self, requests: list) -> list:
        return run_batched(requests, "scoring", self.inputs, self._handle)

    def _handle(self, inputs: Arrays) -> Arrays:
        scores = self.scoring.score(
            inputs["user_sparse"],
            inputs["user_dense"],
            inputs["filtered_ids"],
            inputs["is_fallback"],
        )
        if self.hps is not None:
            self.hps.report()
        return {"candidate_scores": scores}

    def finalize(self) -> None:
        if self.hps is not None:
            self.hps.close()


class _HpsScoring:
    """The HPS ranker with what it holds open (a RocksDB secondary instance and its
    state directory, a Redis client), and its figures on Triton's metrics endpoint."""

    def __init__(self, files: Path, spec: ServingSpec, instance: str) -> None:
        table = ExportedTable.read(
            InferenceFiles.under(files / HUGECTR_DIRECTORY, hps.MODEL).network
        )
        # A secondary RocksDB instance keeps a little state of its own, per instance.
        self._secondary = Path(tempfile.mkdtemp(prefix="recstack-rocksdb-"))
        try:
            self._rocksdb = RocksDbReader(
                Path(spec.hps_rocksdb_dir), hps.table_tag(), self._secondary
            )
            self.lookup = HpsLookup(
                redis_client.client_from_env,
                hps.table_tag(),
                spec.hps_partitions,
                table.vec_size,
                EmbeddingCache(spec.hps_cache_rows, spec.hps_refresh_s),
                self._rocksdb,
                default_value=table.default_value,
                redis_retry_s=spec.hps_redis_retry_s,
            )
            self.ranker = HpsRanker(
                self.lookup, onnx_session(files / DENSE_RANKER_FILE), table.slot_sizes
            )
        except Exception:
            # Triton does not finalize a model whose initialize failed.
            if hasattr(self, "_rocksdb"):
                self._rocksdb.close()
            shutil.rmtree(self._secondary, ignore_errors=True)
            raise
        self._metrics = _LookupMetrics(instance)
        self._reported_at = 0.0

    def report(self) -> None:
        """Metrics at most once a second; a failure there never fails scoring."""
        now = time.monotonic()
        if now - self._reported_at < METRICS_EVERY_S:
            return
        self._reported_at = now
        try:
            self._metrics.report(self.lookup)
        except Exception:
            pb_utils.Logger.log_warn(f"scoring: metrics not updated: {traceback.format_exc()}")

    def close(self) -> None:
        self.lookup.close()
        self._rocksdb.close()
        shutil.rmtree(self._secondary, ignore_errors=True)


class _LookupMetrics:
    """Rows each tier served, Redis failures and the cache's size, per instance. The
    families are kept: Triton deletes a family's metrics when the family goes away."""

    def __init__(self, instance: str) -> None:
        self._families = {
            "rows": pb_utils.MetricFamily(
                name="recstack_hps_lookup_rows_total",
                description="Unique keys of each batch the HPS lookup served, by tier",
                kind=pb_utils.MetricFamily.COUNTER,
            ),
            "errors": pb_utils.MetricFamily(
                name="recstack_hps_redis_errors_total",
                description="HPS lookups whose Redis read failed (answered from RocksDB)",
                kind=pb_utils.MetricFamily.COUNTER,
            ),
            "cache": pb_utils.MetricFamily(
                name="recstack_hps_cache_rows",
                description="Vectors in the scoring instance's in-process cache",
                kind=pb_utils.MetricFamily.GAUGE,
            ),
        }
        labels = {"instance": instance}
        self._rows = {
            tier: self._families["rows"].Metric(labels={**labels, "tier": tier}) for tier in TIERS
        }
        self._errors = self._families["errors"].Metric(labels=labels)
        self._cache = self._families["cache"].Metric(labels=labels)
        self._reported = dict.fromkeys((*TIERS, "errors"), 0)

    def report(self, lookup: HpsLookup) -> None:
        now = {tier: getattr(lookup.counts, tier) for tier in TIERS}
        for tier, value in now.items():
            if value > self._reported[tier]:
                self._rows[tier].increment(value - self._reported[tier])
        if lookup.redis_errors > self._reported["errors"]:
            self._errors.increment(lookup.redis_errors - self._reported["errors"])
        self._reported = {**now, "errors": lookup.redis_errors}
        self._cache.set(lookup.cache_size)
