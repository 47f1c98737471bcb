"""The ranker served beside HPS scores as the exported files do: its embeddings from the
tiers (real Redis, real RocksDB), its dense part in onnxruntime, Redis up or down."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import redis
import torch
from redis.backoff import NoBackoff
from redis.retry import Retry

from pipelines.hugectr.evaluator import HugeCTRModel
from pipelines.hugectr.export import write_inference_model
from pipelines.serving.hps_layout import slot_keys
from pipelines.serving.hps_lookup import EmbeddingCache, HpsLookup
from pipelines.serving.hps_ranker import HpsRanker
from pipelines.serving.hps_redis import RedisTier
from pipelines.serving.hps_rocksdb import RocksDbReader, write_table
from pipelines.serving.hugectr_files import ExportedTable, InferenceFiles, SparseTable
from pipelines.train.dlrm import DLRM, DenseRanker
from pipelines.train.export import export_onnx
from recstack_contract import hps

SLOTS = [300, 7, 40, 5]
N_DENSE, DIM, PARTITIONS = 3, 8, 8


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[DLRM, InferenceFiles, Path]:
    root = tmp_path_factory.mktemp("ranker")
    torch.manual_seed(0)
    model = DLRM(SLOTS, N_DENSE, DIM).eval()
    files = write_inference_model(model, root)
    sample = {"embedded": np.zeros((4, len(SLOTS), DIM), np.float32), "dense": _dense(4)}
    export_onnx(DenseRanker(model).eval(), sample, "score", root / "ranker_dense.onnx")
    return model, files, root


def _dense(rows: int) -> np.ndarray:
    return np.random.default_rng(rows).random((rows, N_DENSE), dtype=np.float32)


def _codes(rows: int) -> np.ndarray:
    codes = np.random.default_rng(7).integers(0, 400, size=(rows, len(SLOTS)))
    codes[:3, 0] = [-1, 10**9, 12]  # out of range: folded as the model folds them
    return codes


def _ranker(files: InferenceFiles, root: Path, client, rocksdb=None) -> HpsRanker:
    table = ExportedTable.read(files.network)
    lookup = HpsLookup(
        lambda: client,
        hps.table_tag(),
        PARTITIONS,
        table.vec_size,
        EmbeddingCache(1000, 10.0),
        rocksdb,
        default_value=table.default_value,
    )
    session = ort.InferenceSession(str(root / "ranker_dense.onnx"))
    return HpsRanker(lookup, session, table.slot_sizes)


def test_scores_from_redis_equal_the_files_and_pytorch(
    exported: tuple[DLRM, InferenceFiles, Path], redis_server: tuple[str, int]
) -> None:
    model, files, root = exported
    client = redis.Redis(host=redis_server[0], port=redis_server[1], db=6)
    client.flushdb()
    table = SparseTable.read(files.sparse[0], DIM)
    RedisTier(client, PARTITIONS).write(hps.table_tag(), table.keys, table.vectors)
    codes, dense = _codes(200), _dense(200)
    (got,) = _ranker(files, root, client).run(None, {"sparse": codes, "dense": dense})
    want = HugeCTRModel(files).predict(dense, slot_keys(codes, SLOTS))
    assert np.abs(got - want).max() <= 1e-5
    with torch.no_grad():
        torch_scores = model(torch.from_numpy(codes), torch.from_numpy(dense)).numpy()
    assert np.abs(got - torch_scores).max() <= 1e-5


def test_without_redis_rocksdb_gives_the_same_scores(
    exported: tuple[DLRM, InferenceFiles, Path], tmp_path: Path
) -> None:
    _, files, root = exported
    write_table(tmp_path / "db", hps.table_tag(), SparseTable.read(files.sparse[0], DIM))
    reader = RocksDbReader(tmp_path / "db", hps.table_tag(), tmp_path / "secondary")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = redis.Redis(port=port, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    ranker = _ranker(files, root, down, reader)
    codes, dense = _codes(100), _dense(100)
    try:
        (got,) = ranker.run(None, {"sparse": codes, "dense": dense})
    finally:
        reader.close()
    want = HugeCTRModel(files).predict(dense, slot_keys(codes, SLOTS))
    assert np.abs(got - want).max() <= 1e-5
    assert ranker.lookup.redis_errors == 1 and ranker.lookup.counts.redis == 0


def test_keys_in_no_tier_score_with_the_default_vector(
    exported: tuple[DLRM, InferenceFiles, Path], redis_server: tuple[str, int]
) -> None:
    _, files, root = exported
    empty = redis.Redis(host=redis_server[0], port=redis_server[1], db=7)
    empty.flushdb()
    codes, dense = _codes(20), _dense(20)
    ranker = _ranker(files, root, empty)
    (got,) = ranker.run(None, {"sparse": codes, "dense": dense})
    keys = slot_keys(codes, SLOTS)
    absent = np.full_like(keys, -(10**15))  # no table holds it: the evaluator's default too
    assert np.abs(got - HugeCTRModel(files).predict(dense, absent)).max() <= 1e-6
    assert ranker.lookup.counts.default == len(np.unique(keys))
