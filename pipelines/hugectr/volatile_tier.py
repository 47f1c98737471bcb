"""The `hps` step: the published ranker's embedding table into HPS's Redis tier.

The exported files are first checked against ps.json's model entry
(consistency.file_problems). The table then goes in as HPS itself would insert it
(load_redis): the same hashes and bytes on the standalone `local` Redis and on a
cluster. A hash beside it (keys.hps_table) says what was loaded, with which
partitioning, so an unchanged model is not rewritten and the smoke tests can check the
tier without the model files.

Rows that online training updates later are overwritten only by a new model version; a
new num_partitions replaces the table's hashes as a whole (HPS finds a key only in its
own partition), and lookups miss until the load completes. One table tag serves every
version: this step runs before export, so for the minutes until Triton serves the new
version, the old dense model reads the new vectors.
"""

from __future__ import annotations

import json
import time

import numpy as np
import redis

from recstack_contract import hps

from ..artifacts import load_latest
from ..config import PipelineConfig
from ..online import redis_connection
from ..serving import keys
from ..serving.hps_layout import key_fields, partition_of, value_hash, vector_values
from ..serving.hugectr_files import ModelFileError, SparseTable
from ..steps import StepResult, fingerprint
from .consistency import file_problems
from .export import files_in
from .network import ServedShape
from .ps_json import ps_model

STEP = "hps"
# Fields per HSET: one command stays well under Redis's 512 MB request limit and a
# cluster node is never blocked for long.
REDIS_BATCH = 4096


def load_redis(
    client: redis.Redis | redis.RedisCluster, tag: str, table: SparseTable, num_partitions: int
) -> None:
    """Write every row into its partition's hash; each HSET addresses one hash, so one
    cluster slot, and works the same on a standalone server and a cluster."""
    partitions = partition_of(table.keys, num_partitions)
    pipe = client.pipeline(transaction=False)
    for partition in range(num_partitions):
        rows = np.flatnonzero(partitions == partition)
        for start in range(0, len(rows), REDIS_BATCH):
            chunk = rows[start : start + REDIS_BATCH]
            fields = dict(
                zip(
                    key_fields(table.keys[chunk]),
                    vector_values(table.vectors[chunk]),
                    strict=True,
                )
            )
            pipe.hset(value_hash(tag, partition), mapping=fields)
        pipe.execute()


def load_volatile_tier(cfg: PipelineConfig) -> StepResult:
    artifacts = load_latest(cfg.paths.artifacts_dir)
    files = files_in(artifacts.path)
    tag = hps.table_tag()
    partitions = cfg.hps.num_partitions
    details = {"model_version": artifacts.version, "table": tag, "partitions": partitions}
    client = redis_connection()
    digest = fingerprint(artifacts.version, tag, partitions)
    record = keys.hps_table(cfg.serving.key_prefix)
    loaded = client.hgetall(record)
    if loaded.get(b"fingerprint") == digest.encode():
        return StepResult(STEP, False, details)
    shape = ServedShape.of(json.loads(files.network.read_text()))
    problems = file_problems(ps_model(cfg.hps, shape), files)
    if problems:
        raise ModelFileError("; ".join(str(problem) for problem in problems))
    table = SparseTable.read(files.sparse[0], shape.vec_size)
    started = time.monotonic()
    if loaded and int(loaded[b"partitions"]) != partitions:
        for old in range(int(loaded[b"partitions"])):
            client.delete(value_hash(loaded[b"table"].decode(), old))
    load_redis(client, tag, table, partitions)
    client.hset(
        record,
        mapping={
            "fingerprint": digest,
            **details,
            "rows": len(table.keys),
            "vec_size": shape.vec_size,
            "loaded_at": int(time.time()),
        },
    )
    seconds = round(time.monotonic() - started, 2)
    return StepResult(STEP, True, {**details, "rows": len(table.keys), "load_s": seconds})
