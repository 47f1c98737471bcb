"""The `hps` step: the published ranker's embedding table into HPS's Redis tier.

The exported files are first checked against ps.json's model entry
(consistency.file_problems). The table then goes in as HPS itself would insert it
(hps_redis.py): the same hashes and bytes on the standalone `local` Redis and on a
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

from recstack_contract import hps

from ..artifacts import load_latest
from ..config import PipelineConfig
from ..online import redis_connection
from ..serving import keys
from ..serving.hps_layout import value_hash
from ..serving.hps_redis import RedisTier
from ..serving.hugectr_files import ModelFileError, SparseTable
from ..steps import StepResult, fingerprint
from .consistency import file_problems
from .export import files_in
from .network import ServedShape
from .ps_json import ps_model

STEP = "hps"


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
    RedisTier(client, partitions).write(tag, table.keys, table.vectors)
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
