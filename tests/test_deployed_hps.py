"""The deployed HPS tiers hold the published ranker's table: every exported key in its
Redis partition, read the way HPS reads it (HMGET of its partition), and in the serving
host's RocksDB; the scoring stage in `hps` mode scores the rows Redis holds as the
HugeCTR files' own evaluation does."""

from __future__ import annotations

import json
import time
import urllib.request

import numpy as np
import pytest
import redis
import tritonclient.grpc as grpcclient
from hps_tier import redis_rows, rocksdb_rows
from scoring_stage import tier_scoring

from pipelines.artifacts import load_latest
from pipelines.config import Paths
from pipelines.hugectr.export import files_in
from pipelines.hugectr.network import ServedShape
from pipelines.serving import keys
from pipelines.serving.hps_layout import value_hash
from pipelines.serving.hugectr_files import SparseTable
from pipelines.serving.spec import ServingSpec
from recstack.endpoints import Endpoints
from recstack.stages import scoring_inputs, served_scores
from recstack_contract import hps

pytestmark = pytest.mark.deployed


def test_every_exported_row_is_in_its_partition(local: Endpoints, live_redis: redis.Redis) -> None:
    """The load put each key of the exported table in its own partition's hash, and
    nothing else is there (the values are the exported ones until online training and
    updates change them: the unit tests compare them byte for byte)."""
    files = files_in(load_latest(Paths().artifacts_dir).path)
    shape = ServedShape.of(json.loads(files.network.read_text()))
    table = SparseTable.read(files.sparse[0], shape.vec_size)
    record = live_redis.hgetall(keys.hps_table(local.key_prefix))
    tag, partitions = record[b"table"].decode(), int(record[b"partitions"])
    rows = redis_rows(live_redis, tag, table.keys, partitions)
    assert all(row is not None and len(row) == shape.vec_size for row in rows)
    stored = sum(live_redis.hlen(value_hash(tag, p)) for p in range(partitions))
    assert stored == len(table.keys)


def test_every_exported_row_is_in_the_rocksdb_tier() -> None:
    """The serving host's RocksDB has every key of the exported table (its updater keeps
    the values following the updates: test_deployed_hps_updates.py)."""
    files = files_in(load_latest(Paths().artifacts_dir).path)
    shape = ServedShape.of(json.loads(files.network.read_text()))
    table = SparseTable.read(files.sparse[0], shape.vec_size)
    assert not np.isnan(rocksdb_rows(table.keys, shape.vec_size)).any()


@pytest.mark.usefixtures("training_settled")
def test_the_scoring_stage_in_hps_mode_scores_the_tiers_rows_as_the_files_do(
    local: Endpoints, live_redis: redis.Redis, known_users: list[int]
) -> None:
    stage = Paths().model_repository / "scoring" / "1"
    spec = ServingSpec.read(stage)
    assert spec.scoring_mode == "hps"
    reference = tier_scoring(stage, live_redis)
    triton = grpcclient.InferenceServerClient(local.grpc_url())
    arrays = scoring_inputs(triton, known_users[:8])
    user_sparse, user_dense = arrays["user_sparse"], arrays["user_dense"]
    candidates, fallback = arrays["filtered_ids"], arrays["is_fallback"]
    want = reference.score(user_sparse, user_dense, candidates, fallback)
    scored = np.isfinite(want)
    assert scored.sum() > 100

    def as_the_tier_reference() -> bool:
        served = served_scores(triton, arrays)
        assert (np.isfinite(served) == scored).all()
        return bool(np.abs(served[scored] - want[scored]).max() <= 1e-5)

    # A row updated just before (online training) reaches the stage's cache within its
    # refresh interval.
    deadline = time.monotonic() + spec.hps_refresh_s + 5
    while not as_the_tier_reference():
        assert time.monotonic() < deadline, "the stage's scores are not the tiers' rows'"
        time.sleep(0.5)
    # The lookup reports its tiers and its cache on Triton's metrics endpoint.
    with urllib.request.urlopen(local.metrics_url(), timeout=10) as response:
        metrics = response.read().decode()
    served_rows = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith(f"{hps.LOOKUP_ROWS_METRIC}{{")
    )
    assert served_rows > 0 and "recstack_hps_cache_rows{" in metrics
