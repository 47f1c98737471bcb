"""The Triton Python model of every serving stage: it builds the stage its model name
names from the serving graph (recstack_serving/graph.py), as its version directory's
spec says, and answers each dynamic batch with one transform. A stage scoring through
HPS also reports its lookup on Triton's metrics endpoint."""

from __future__ import annotations

import time
import traceback

import triton_python_backend_utils as pb_utils
from recstack_serving import graph
from recstack_serving.hps_lookup import TIERS, HpsLookup
from recstack_serving.operators.base import Context
from stage_common import Arrays, input_names, run_batched, version_dir

from recstack_contract import hps

# Seconds between updates of the lookup's metrics (each is a call into the server).
METRICS_EVERY_S = 1.0


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        self.name = args["model_name"]
        self.inputs = input_names(args)
        self.stage = graph.build(self.name, version_dir(args), Context.serving())
        lookup = getattr(self.stage, "lookup", None)
        self.metrics = (
            None if lookup is None else _LookupMetrics(args["model_instance_name"], lookup)
        )

    def execute(self, requests: list) -> list:
        return run_batched(requests, self.name, self.inputs, self._handle)

    def _handle(self, inputs: Arrays) -> Arrays:
        outputs = self.stage.transform(inputs)
        if self.metrics is not None:
            self.metrics.report()
        return outputs

    def finalize(self) -> None:
        self.stage.close()


class _LookupMetrics:
    """Rows each tier served, Redis failures and the cache's size, per instance, at most
    once a second; a failure there never fails scoring. The families are kept: Triton
    deletes a family's metrics when the family goes away."""

    def __init__(self, instance: str, lookup: HpsLookup) -> None:
        self._lookup = lookup
        self._families = {
            "rows": pb_utils.MetricFamily(
                name=hps.LOOKUP_ROWS_METRIC,
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
        self._reported_at = 0.0

    def report(self) -> None:
        now = time.monotonic()
        if now - self._reported_at < METRICS_EVERY_S:
            return
        self._reported_at = now
        try:
            self._update()
        except Exception:
            pb_utils.Logger.log_warn(f"scoring: metrics not updated: {traceback.format_exc()}")

    def _update(self) -> None:
        lookup = self._lookup
        counts = {tier: getattr(lookup.counts, tier) for tier in TIERS}
        for tier, value in counts.items():
            if value > self._reported[tier]:
                self._rows[tier].increment(value - self._reported[tier])
        if lookup.redis_errors > self._reported["errors"]:
            self._errors.increment(lookup.redis_errors - self._reported["errors"])
        self._reported = {**counts, "errors": lookup.redis_errors}
        self._cache.set(lookup.cache_size)
