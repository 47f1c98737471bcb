"""Stage logic on hand-made inputs: filtering, ordering, catalog look-ups, and how the
Triton models answer a dynamic batch."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import faiss
import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from pipelines.export import triton_models
from pipelines.serving import stream_inputs
from pipelines.serving.catalog import Catalog
from pipelines.serving.filtering import PAD, filter_candidates
from pipelines.serving.ordering import order
from pipelines.serving.retrieval import Retrieval
from pipelines.serving.scoring import Scoring
from recstack_contract.features import NO_CATEGORY


def _catalog(categories: dict[int, int]) -> Catalog:
    ids = np.array(sorted(categories), dtype=np.int64)
    return Catalog(
        item_ids=ids,
        sparse=np.stack([ids, ids % 3], axis=1),
        dense=np.zeros((len(ids), 1), dtype=np.float32),
        category=np.array([categories[i] for i in ids], dtype=np.int64),
    )


def test_filtering_drops_seen_and_excluded_and_keeps_order() -> None:
    candidates = np.array([[5, 3, 9, 1, 7], [1, 2, 3, 4, 5]])
    seen = [np.array([3, 100]), np.array([], dtype=np.int64)]
    excluded = np.array([7, 2])
    result = filter_candidates(candidates, seen, excluded)
    assert result.tolist() == [[5, 9, 1, PAD, PAD], [1, 3, 4, 5, PAD]]


def test_filtering_ignores_padding() -> None:
    result = filter_candidates(np.array([[PAD, 4]]), [np.array([], dtype=np.int64)], np.array([]))
    assert result.tolist() == [[4, PAD]]


def test_catalog_rows_mark_unknown_ids() -> None:
    catalog = _catalog({10: 0, 20: 1, 30: 1})
    rows, known = catalog.rows(np.array([20, 25, 30, 99, PAD]))
    assert known.tolist() == [True, False, True, False, False]
    assert rows[0] == 1 and rows[2] == 2


def test_ordering_applies_the_category_cap_then_fills() -> None:
    catalog = _catalog({1: 0, 2: 0, 3: 0, 4: 1, 5: 2})
    candidates = np.array([[1, 2, 3, 4, 5]])
    scores = np.array([[0.9, 0.8, 0.7, 0.6, 0.5]], dtype=np.float32)
    ids, ordered = order(candidates, scores, catalog, k=4, max_per_category=2)
    # Item 3 is the third of category 0: skipped while others fit.
    assert ids.tolist() == [[1, 2, 4, 5]]
    assert np.all(np.diff(ordered[0]) <= 0)
    ids, _ = order(candidates, scores, catalog, k=5, max_per_category=1)
    # Only three categories: the two best skipped items fill the list, in score order.
    assert ids.tolist() == [[1, 2, 3, 4, 5]]


def test_ordering_pads_when_too_few_scored_candidates() -> None:
    catalog = _catalog({1: 0, 2: 1})
    candidates = np.array([[2, 1, PAD]])
    scores = np.array([[0.2, 0.4, -np.inf]], dtype=np.float32)
    ids, ordered = order(candidates, scores, catalog, k=3, max_per_category=5)
    assert ids.tolist() == [[1, 2, PAD]]
    assert ordered[0, 2] == -np.inf


def test_fallback_users_are_ordered_by_popularity_without_the_ranker() -> None:
    catalog = Catalog(
        item_ids=np.array([1, 2, 3], dtype=np.int64),
        sparse=np.zeros((3, 2), dtype=np.int64),
        dense=np.array([[0.5], [2.0], [1.0]], dtype=np.float32),
        category=np.zeros(3, dtype=np.int64),
    )
    # No ranker at all: a fallback-only request must never reach it.
    scoring = Scoring(ranker=None, catalog=catalog)  # type: ignore[arg-type]
    scores = scoring.score(
        np.zeros((1, 2), dtype=np.int64),
        np.zeros((1, 1), dtype=np.float32),
        np.array([[1, 2, 3, PAD]]),
        np.array([[True]]),
    )
    assert scores.tolist() == [[0.5, 2.0, 1.0, -np.inf]]


class _EchoRanker:
    """Scores each row by one of its dense inputs: shows what the ranker was given."""

    def __init__(self, column: int) -> None:
        self.column = column
        self.feeds: dict[str, np.ndarray] = {}

    def run(self, _outputs: None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.feeds = feeds
        return [feeds["dense"][:, self.column]]


def test_the_ranker_is_told_which_candidates_match_the_last_click_category() -> None:
    catalog = _catalog({10: 1, 11: 2, 12: 1})
    ranker = _EchoRanker(column=-1)  # the cross closes the dense inputs
    scoring = Scoring(ranker=ranker, catalog=catalog)  # type: ignore[arg-type]
    # The user's ranker columns: id, then the last-click category's code (0: none yet).
    last_click = stream_inputs.category_code(np.array([1, NO_CATEGORY]))
    user_sparse = np.stack([np.array([5, 6]), last_click], axis=1)
    scores = scoring.score(
        user_sparse,
        np.array([[0.1], [0.2]], dtype=np.float32),
        np.array([[10, 11, 12], [12, 11, PAD]]),
        np.array([[False], [False]]),
    )
    assert scores.tolist() == [[1.0, 0.0, 1.0], [0.0, 0.0, -np.inf]]
    # Each row: the user's columns, then the item's; dense likewise, the cross last.
    assert ranker.feeds["sparse"][:3].tolist() == [[5, 2, 10, 1], [5, 2, 11, 2], [5, 2, 12, 0]]
    assert ranker.feeds["dense"][0].tolist() == pytest.approx([0.1, 0.0, 1.0])


def _linear_tower(width: int, dim: int) -> ort.InferenceSession:
    """A user tower stand-in with the real signature: cast the ids, multiply by W."""
    weights = numpy_helper.from_array(np.ones((width, dim), dtype=np.float32), "w")
    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["user_sparse"], ["as_float"], to=TensorProto.FLOAT),
            helper.make_node("MatMul", ["as_float", "w"], ["user_embedding"]),
        ],
        "tower",
        [helper.make_tensor_value_info("user_sparse", TensorProto.INT64, [None, width])],
        [helper.make_tensor_value_info("user_embedding", TensorProto.FLOAT, [None, dim])],
        initializer=[weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_retrieval_pads_when_the_catalog_is_smaller_than_the_candidate_count() -> None:
    index = faiss.IndexFlatIP(2)
    index.add(np.array([[1, 0], [0, 1], [0.7, 0.7]], dtype=np.float32))
    retrieval = Retrieval(
        user_tower=_linear_tower(width=2, dim=2),
        index=index,
        item_ids=np.array([10, 20, 30]),
        popular_items=np.array([30, 10, 20]),
        n_candidates=5,
    )
    found = np.array([True, False])
    result = retrieval.retrieve(np.array([[1, 1], [5, 5]], dtype=np.int64), found)
    assert sorted(result.item_ids[0, :3].tolist()) == [10, 20, 30]
    assert result.item_ids[0, 3:].tolist() == [PAD, PAD]
    assert result.item_ids[1].tolist() == [30, 10, 20, PAD, PAD]
    assert result.fallback.tolist() == [False, True]


class _FakeTensor:
    def __init__(self, name: str, value: np.ndarray) -> None:
        self.name, self.value = name, value

    def as_numpy(self) -> np.ndarray:
        return self.value


def _stage_common(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """triton_models/common.py over a stand-in for the Python backend's utilities; a
    request is a dict of input arrays, a response keeps its tensors or its error."""
    backend = types.ModuleType("triton_python_backend_utils")
    backend.Tensor = _FakeTensor
    backend.TritonError = str
    backend.Logger = SimpleNamespace(log_error=lambda message: None)
    backend.get_input_tensor_by_name = lambda request, name: _FakeTensor(name, request[name])
    backend.InferenceResponse = lambda output_tensors=(), error=None: SimpleNamespace(
        tensors={t.name: t.value for t in output_tensors}, error=error
    )
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", backend)
    # Loaded from its file under the name the exported models import it by.
    source = Path(triton_models.__file__).with_name("common.py")
    spec = importlib.util.spec_from_file_location("stage_common", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_dynamic_batch_is_answered_in_one_pass_and_split_back_per_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    common = _stage_common(monkeypatch)
    passes = []

    def handle(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        passes.append(inputs["user_id_raw"].reshape(-1).tolist())
        return {"doubled": inputs["user_id_raw"] * 2, "shifted": inputs["user_id_raw"] + 1}

    requests = [{"user_id_raw": np.array([[1], [2]])}, {"user_id_raw": np.array([[3]])}]
    responses = common.run_batched(requests, "stage", ("user_id_raw",), handle)
    assert passes == [[1, 2, 3]]
    assert [r.error for r in responses] == [None, None]
    assert [r.tensors["doubled"].tolist() for r in responses] == [[[2], [4]], [[6]]]
    assert [r.tensors["shifted"].tolist() for r in responses] == [[[2], [3]], [[4]]]


def test_a_failed_batch_answers_each_of_its_requests_with_the_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    common = _stage_common(monkeypatch)

    def handle(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise ValueError("boom")

    requests = [{"user_id_raw": np.array([[1]])}, {"user_id_raw": np.array([[2]])}]
    responses = common.run_batched(requests, "scoring", ("user_id_raw",), handle)
    assert [r.error for r in responses] == ["scoring stage failed: boom"] * 2
