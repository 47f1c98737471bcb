"""The ranker in HugeCTR's inference format: file layout, layer semantics and the CPU
evaluator that every other scorer is held to."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny import TINY_TRAIN, tiny_config

from pipelines.data.synthetic import generate
from pipelines.data.validate import load_raw
from pipelines.features import build, load_features
from pipelines.hugectr.evaluator import HugeCTRModel
from pipelines.hugectr.export import check_inference_model, write_inference_model
from pipelines.hugectr.from_torch import dense_weights, dlrm_shape
from pipelines.hugectr.network import (
    DlrmShape,
    NetworkError,
    dense_floats,
    interaction_pairs,
    interaction_width,
    network_json,
)
from pipelines.serving.hps_layout import slot_keys
from pipelines.serving.hugectr_files import (
    KEY_FILE,
    VECTOR_FILE,
    InferenceFiles,
    ModelFileError,
    SparseTable,
    write_dense,
)
from pipelines.train.dlrm import DLRM, DenseRanker, fit_dlrm
from pipelines.train.errors import ExportError
from pipelines.train.export import export_onnx
from pipelines.train.inputs import TrainingData, prepare
from recstack_contract import hps


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> TrainingData:
    cfg = tiny_config(tmp_path_factory.mktemp("hugectr"))
    generate(cfg)
    build(cfg)
    users, items, stream = load_features(cfg.paths.data_dir)
    raw = load_raw(cfg.paths.data_dir)
    return prepare(users, items, stream, raw.impressions, cfg.train.holdout_fraction)


@pytest.fixture(scope="module")
def ranker(data: TrainingData) -> DLRM:
    return fit_dlrm(data, TINY_TRAIN)


@pytest.fixture
def files(ranker: DLRM, tmp_path: Path) -> InferenceFiles:
    return write_inference_model(ranker, tmp_path)


def holdout(data: TrainingData, rows: int = 300) -> tuple[np.ndarray, np.ndarray]:
    return data.ranker_inputs(data.holdout.take(slice(0, rows)))


def torch_scores(ranker: DLRM, sparse: np.ndarray, dense: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return ranker(torch.from_numpy(sparse), torch.from_numpy(dense)).numpy()


def test_interaction_order_is_hugectrs() -> None:
    # interaction_layer.cu: the pair (row, col), row < col, lands at col*(col-1)/2 + row.
    assert interaction_pairs(4) == [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]
    assert interaction_width(vec_size=128, slots=26) == 480


def test_the_embedding_gradient_is_pytorchs(
    ranker: DLRM, data: TrainingData, files: InferenceFiles
) -> None:
    """What online training steps along: d BCE / d each sample's embedding vectors, from
    the files alone, equals PyTorch's autograd through the trained model."""
    sparse, dense = holdout(data, rows=64)
    labels = (np.arange(64) % 3 == 0).astype(np.float32)
    model = HugeCTRModel(files)
    embedded = model.embeddings(slot_keys(sparse, dlrm_shape(ranker).slot_sizes))
    probabilities, got = model.dense.embedding_gradient(dense, embedded, labels)

    leaf = torch.from_numpy(embedded.copy()).requires_grad_()
    logit = ranker.dense_logit(leaf, torch.from_numpy(dense))
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        logit, torch.from_numpy(labels), reduction="sum"
    )
    loss.backward()
    want = leaf.grad.numpy()
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())
    assert np.abs(want).max() > 1e-3  # a gradient that vanished would match trivially
    np.testing.assert_allclose(probabilities, torch.sigmoid(logit).detach().numpy(), atol=1e-5)


def test_dense_size_of_hugectrs_reference_dlrm() -> None:
    # HugeCTR's DLRM sample (13 dense, 26 slots of 128, bottom 512-256-128, top
    # 1024-1024-512-256-1) writes a dense file of 9,479,684 bytes.
    shape = DlrmShape(13, (1000,) * 26, 128, (512, 256, 128), (1024, 1024, 512, 256, 1))
    network = network_json(shape, "dlrm", "sparse_embedding1")
    assert dense_floats(network) * 4 == 9_479_684


def test_files_score_as_pytorch_within_1e5(
    ranker: DLRM, data: TrainingData, files: InferenceFiles
) -> None:
    sparse, dense = holdout(data)
    # Codes never seen in training, negative or far out of range, fold in as in PyTorch.
    sparse[:4, -1] = [-1, -(10**9), 10**12, 7]
    keys = slot_keys(sparse, dlrm_shape(ranker).slot_sizes)
    got = HugeCTRModel(files).predict(dense, keys)
    want = torch_scores(ranker, sparse, dense)
    assert np.abs(got - want).max() <= 1e-5
    assert want.std() > 0.01  # the rows differ, so equal scores are not a coincidence
    check_inference_model(files, ranker, sparse, dense)


def test_file_layout(ranker: DLRM, files: InferenceFiles) -> None:
    assert [p.name for p in (files.network, files.dense, *files.sparse)] == [
        "ranker.json",
        "ranker_dense_0.model",
        "ranker0_sparse_0.model",
    ]
    network = json.loads(files.network.read_text())
    assert network["model_name"] == hps.MODEL
    embedding = network["layers"][1]
    assert embedding["type"] == "DistributedSlotSparseEmbeddingHash"
    assert embedding["top"] == hps.TABLE
    assert network["layers"][-1]["type"] == "BinaryCrossEntropyLoss"
    table = ranker.embed.table.weight.detach().numpy()
    rows, dim = table.shape
    assert (files.sparse[0] / KEY_FILE).stat().st_size == rows * 8
    assert (files.sparse[0] / VECTOR_FILE).stat().st_size == rows * dim * 4
    keys = np.fromfile(files.sparse[0] / KEY_FILE, "<i8")
    vectors = np.fromfile(files.sparse[0] / VECTOR_FILE, "<f4").reshape(rows, dim)
    np.testing.assert_array_equal(vectors[np.argsort(keys)], table)
    # The dense file opens with the first InnerProduct's W as [in][out], then its bias.
    first = ranker.bottom[0]
    head = np.fromfile(files.dense, "<f4", count=first.in_features * first.out_features)
    np.testing.assert_array_equal(
        head.reshape(first.in_features, first.out_features), first.weight.detach().numpy().T
    )
    assert files.dense.stat().st_size == dense_floats(network) * 4


def test_weights_in_pytorchs_interaction_order_are_caught(
    ranker: DLRM, data: TrainingData, files: InferenceFiles
) -> None:
    shape = dlrm_shape(ranker)
    weights = dense_weights(ranker)
    top = 2 * len(shape.bottom)
    unpermuted = ranker.top[0].weight.detach().numpy().T
    pad = np.zeros((1, unpermuted.shape[1]), np.float32)
    weights[top] = np.concatenate([unpermuted, pad])
    write_dense(files.dense, weights)
    with pytest.raises(ExportError, match="HugeCTR files score"):
        check_inference_model(files, ranker, *holdout(data))


def test_a_key_in_no_table_gets_the_default_vector(
    ranker: DLRM, data: TrainingData, files: InferenceFiles
) -> None:
    sparse, dense = holdout(data, rows=50)
    keys = slot_keys(sparse, dlrm_shape(ranker).slot_sizes)
    table = SparseTable.read(files.sparse[0], ranker.embed.table.embedding_dim)
    # Row of the last slot's key zeroed, versus that key missing from the table.
    zeroed = table.vectors.copy()
    zeroed[keys[0, -1]] = 0
    SparseTable(table.keys, zeroed).write(files.sparse[0])
    with_zero_row = HugeCTRModel(files).predict(dense[:1], keys[:1])
    absent = keys[:1].copy()
    absent[0, -1] = 10**15
    np.testing.assert_array_equal(HugeCTRModel(files).predict(dense[:1], absent), with_zero_row)


def test_files_that_hps_would_misread_are_refused(files: InferenceFiles, ranker: DLRM) -> None:
    dim = ranker.embed.table.embedding_dim
    vectors = files.sparse[0] / VECTOR_FILE
    whole = vectors.read_bytes()
    vectors.write_bytes(whole[: -dim * 4])  # one row short: HPS would shift every row
    with pytest.raises(ModelFileError, match="embedding_vec_size"):
        SparseTable.read(files.sparse[0], dim)
    vectors.write_bytes(whole[:-2])
    with pytest.raises(ModelFileError, match="whole, non-zero number of 4-byte"):
        SparseTable.read(files.sparse[0], dim)
    vectors.write_bytes(whole)
    dense = files.dense.read_bytes()
    files.dense.write_bytes(dense[:-4])  # HugeCTR reads a short dense file without error
    with pytest.raises(ModelFileError, match="export the dense file and the network JSON"):
        HugeCTRModel(files)
    files.dense.write_bytes(dense)
    keys = np.fromfile(files.sparse[0] / KEY_FILE, "<i8")
    keys[1] = keys[0]
    keys.tofile(files.sparse[0] / KEY_FILE)
    with pytest.raises(ModelFileError, match="more than once"):
        SparseTable.read(files.sparse[0], dim)


def test_networks_hugectr_would_refuse_are_refused() -> None:
    shape = DlrmShape(3, (5, 5), 8, (16, 4), (8, 1))  # bottom ends at 4, vectors are 8
    with pytest.raises(NetworkError, match="widths must be the same"):
        dense_floats(network_json(shape, "m", "t"))
    network = network_json(DlrmShape(3, (5, 5), 8, (16, 8), (8, 1)), "m", "t")
    network["layers"][3]["type"] = "Dropout"
    with pytest.raises(NetworkError, match="No such layer: Dropout"):
        dense_floats(network)


def test_the_dense_model_on_the_files_vectors_scores_as_the_files(
    ranker: DLRM, data: TrainingData, files: InferenceFiles, tmp_path: Path
) -> None:
    sparse, dense = holdout(data)
    with torch.no_grad():
        embedded = ranker.embed(torch.from_numpy(sparse[:16])).numpy()
    served = tmp_path / "ranker_dense.onnx"
    sample = {"embedded": embedded, "dense": dense[:16]}
    export_onnx(DenseRanker(ranker).eval(), sample, "score", served)
    check_inference_model(files, ranker, sparse, dense, dense_model=served)
    # A dense part trained apart from the table scores differently.
    other = DLRM([int(n) for n in ranker.embed.cardinality], dense.shape[1], embedded.shape[2])
    export_onnx(DenseRanker(other).eval(), sample, "score", served)
    with pytest.raises(ExportError, match=r"ranker_dense\.onnx on the files' vectors"):
        check_inference_model(files, ranker, sparse, dense, dense_model=served)
