"""`python -m benchmarks.hps`: HPS's tiers at scale, on a synthetic table of 1M keys.

A throwaway redis-server (no persistence) and a RocksDB in a temporary directory hold a
table of `--keys` rows of 32 floats in HPS's layout. Measured:
- the lookup of one request's keys (200 distinct candidates, popular ones likelier: the
  user's slots once, each candidate's item slots) with exactly 0, 90, 99 and 100 % of
  its unique keys in the cache and the rest read from Redis, and at 90 % with the rest
  read from RocksDB (Redis failing), p50/p99 over `--batches` requests after a warm-up,
  the variants taking turns request by request;
- the ranker's work for the same request at 90 %: the lookup plus the dense part in
  onnxruntime (a DLRM of the kit's shape, random weights), i.e. the scoring stage
  without Triton's own overhead;
- a PING to the same Redis: the least a lookup with a miss pays (its round trip);
- Redis memory per million keys (used_memory before and after the load) and the
  RocksDB directory's size on disk;
- load throughput into each tier;
- the updater's throughput: UPDATED_ROWS rows of random keys, encoded in HPS's message
  format (messages of HPS's 256 KiB), applied to each tier by the updater, batches of
  the service's size; the broker is not part of it (messages are handed over decoded
  from memory).
Written to benchmarks/results/hps.json. Needs `redis-server` on PATH. Redis here is a
standalone server on loopback: a cluster's pipeline adds routing, a network adds
round-trip time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import redis
import torch

from pipelines import schema
from pipelines.hugectr.settings import HpsSettings
from pipelines.serving.hps_layout import slot_keys
from pipelines.serving.hps_lookup import EmbeddingCache, HpsLookup
from pipelines.serving.hps_messages import Update, encode
from pipelines.serving.hps_ranker import HpsRanker
from pipelines.serving.hps_redis import RedisTier
from pipelines.serving.hps_rocksdb import RocksDbReader, RocksDbWriter, write_table
from pipelines.serving.hps_updater import BATCH_MAX, Tier, Updater
from pipelines.serving.hugectr_files import SparseTable
from pipelines.train.dlrm import DLRM, DenseRanker
from pipelines.train.export import export_onnx

RESULTS = Path(__file__).resolve().parent / "results"
TAG = "hps_et.bench.sparse_embedding0"
DIM = 32
PARTITIONS = 8
CANDIDATES = 200
# Requests run before measuring (allocations, ONNX's first runs).
WARM_UP = 20
HIT_RATES = (0.0, 0.9, 0.99, 1.0)
# Rows the updater benchmark applies to each tier.
UPDATED_ROWS = 200_000
USER_SLOTS = len(schema.USER_MODEL_SPARSE)
SLOTS = len(schema.RANKER_SPARSE)


def _slot_sizes(keys: int) -> list[int]:
    """The kit's slots, most of the table in the user and item id slots, summing to keys."""
    small = [100] * (SLOTS - 2)
    ids = keys - sum(small)
    sizes = small.copy()
    sizes.insert(0, ids // 2)  # user ids
    sizes.insert(USER_SLOTS, ids - ids // 2)  # item ids
    return sizes


def _requests(sizes: list[int], count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Raw codes [CANDIDATES, SLOTS] per request: one user and distinct candidate items,
    popular ones likelier (Zipf), as retrieval returns them."""
    out = []
    for _ in range(count):
        codes = np.empty((CANDIDATES, SLOTS), np.int64)
        for slot, size in enumerate(sizes):
            if slot < USER_SLOTS:
                codes[:, slot] = rng.integers(0, size)
            elif slot == USER_SLOTS:  # the item id: distinct candidates
                drawn = np.minimum(rng.zipf(1.1, 8 * CANDIDATES) - 1, size - 1)
                _, first = np.unique(drawn, return_index=True)
                distinct = drawn[np.sort(first)][:CANDIDATES]
                fill = rng.choice(size, CANDIDATES - len(distinct), replace=False)
                codes[:, slot] = np.concatenate([distinct, fill])
            else:
                codes[:, slot] = np.minimum(rng.zipf(1.2, CANDIDATES) - 1, size - 1)
        out.append(codes)
    return out


def _percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.array(samples) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
    }


def _warm(cache: EmbeddingCache, table: SparseTable, keys: np.ndarray, hit: float, rng) -> None:
    """Leave exactly a share `hit` of the request's unique keys in the cache (not timed)."""
    cache.clear()
    unique = np.unique(keys)
    cached = np.sort(rng.choice(unique, size=round(hit * len(unique)), replace=False))
    cache.store(cached, table.vectors[cached], time.monotonic())


def _unreachable() -> redis.Redis:
    raise redis.ConnectionError("the benchmark's Redis-less variant")


def _dense_part(work: Path) -> ort.InferenceSession:
    """The dense part of a DLRM of the kit's shape (random weights), as the stage runs it;
    its table is not part of it, so a one-row table per slot will do."""
    torch.manual_seed(0)
    model = DLRM([1] * SLOTS, len(schema.RANKER_DENSE), DIM).eval()
    sample = {
        "embedded": np.zeros((4, SLOTS, DIM), np.float32),
        "dense": np.zeros((4, len(schema.RANKER_DENSE)), np.float32),
    }
    export_onnx(DenseRanker(model).eval(), sample, "score", work / "dense.onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(
        str(work / "dense.onnx"), options, providers=["CPUExecutionProvider"]
    )


def _update_rows_per_s(tier: Tier, keys: int, rng: np.random.Generator) -> int:
    update = Update(
        rng.integers(0, keys, UPDATED_ROWS).astype(np.int64),
        rng.random((UPDATED_ROWS, DIM), np.float32),
    )
    messages = [(TAG, None, message) for message in encode(update)]
    updater = Updater(tier, {TAG: DIM})
    started = time.monotonic()
    for start in range(0, len(messages), BATCH_MAX):
        updater.apply(messages[start : start + BATCH_MAX])
    return int(updater.counts.rows / (time.monotonic() - started))


def run(keys: int, batches: int) -> dict:
    rng = np.random.default_rng(0)
    work = Path(tempfile.mkdtemp(prefix="recstack-hps-bench-"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        cwd=work,
        stdout=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        sizes = _slot_sizes(keys)
        table = SparseTable(np.arange(keys, dtype=np.int64), rng.random((keys, DIM), np.float32))
        before = client.info("memory")["used_memory"]
        started = time.monotonic()
        RedisTier(client, PARTITIONS).write(TAG, table.keys, table.vectors)
        redis_load_s = time.monotonic() - started
        used = client.info("memory")["used_memory"] - before
        started = time.monotonic()
        write_table(work / "rocksdb", TAG, table)
        rocksdb_load_s = time.monotonic() - started
        rocksdb_bytes = sum(p.stat().st_size for p in (work / "rocksdb").rglob("*") if p.is_file())
        reader = RocksDbReader(work / "rocksdb", TAG, work / "secondary")
        # The stage's default size (it holds any request's keys); vectors never expire.
        cache = EmbeddingCache(capacity=HpsSettings().cache_rows, refresh_s=3600.0)
        lookup = HpsLookup(lambda: client, TAG, PARTITIONS, DIM, cache, reader)
        # The same lookup with Redis failing: its misses come from RocksDB.
        without_redis = HpsLookup(
            _unreachable, TAG, PARTITIONS, DIM, cache, reader, redis_retry_s=1e9
        )
        ranker = HpsRanker(lookup, _dense_part(work), tuple(sizes))
        dense = rng.random((CANDIDATES, len(schema.RANKER_DENSE)), dtype=np.float32)
        variants = {
            **{
                f"lookup_hit_rate_{round(hit * 100)}": (hit, lambda k, c: lookup.lookup(k))
                for hit in HIT_RATES
            },
            "lookup_hit_rate_90_misses_from_rocksdb": (0.9, lambda k, c: without_redis.lookup(k)),
            "scoring_stage_hit_rate_90": (
                0.9,
                lambda k, c: ranker.run(None, {"sparse": c, "dense": dense}),
            ),
            # What any read of a miss costs at least: one round trip to this Redis.
            "redis_ping": (1.0, lambda k, c: client.ping()),
        }
        samples: dict[str, list[float]] = {name: [] for name in variants}
        requests = _requests(sizes, WARM_UP + batches, rng)
        # Round robin over the variants, so drift on the machine touches all alike.
        for index, codes in enumerate(requests):
            request_keys = slot_keys(codes, sizes)
            for name, (hit, call) in variants.items():
                _warm(cache, table, request_keys, hit, rng)
                started = time.perf_counter()
                call(request_keys, codes)
                if index >= WARM_UP:
                    samples[name].append(time.perf_counter() - started)
        unique = int(np.mean([len(np.unique(slot_keys(c, sizes))) for c in requests]))
        measured = {name: _percentiles(values) for name, values in samples.items()}
        reader.close()
        redis_update = _update_rows_per_s(RedisTier(client, PARTITIONS), keys, rng)
        writer = RocksDbWriter(work / "rocksdb")
        rocksdb_update = _update_rows_per_s(writer, keys, rng)
        writer.close()
        return {
            "keys": keys,
            "vec_size": DIM,
            "partitions": PARTITIONS,
            "candidates_per_request": CANDIDATES,
            "requests": batches,
            "unique_keys_per_request": unique,
            **measured,
            "redis_bytes_per_million_keys": int(used * 1_000_000 / keys),
            "rocksdb_bytes": rocksdb_bytes,
            "redis_load_rows_per_s": int(keys / redis_load_s),
            "rocksdb_load_rows_per_s": int(keys / rocksdb_load_s),
            "updated_rows": UPDATED_ROWS,
            "redis_update_rows_per_s": redis_update,
            "rocksdb_update_rows_per_s": rocksdb_update,
        }
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hps", description=__doc__)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=500)
    args = parser.parse_args()
    torch.set_num_threads(1)
    report = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        **run(args.keys, args.batches),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hps.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
