"""Export builds a complete, self-contained Triton repository, and the stage code inside
it (the same code Triton runs) serves good recommendations in-process."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from tiny import tiny_config

from pipelines import schema
from pipelines.config import PipelineConfig, ServingConfig
from pipelines.data.synthetic import generate
from pipelines.export import pbtxt
from pipelines.export.repository import MARKER, export, serving_code
from pipelines.features import build
from pipelines.train.run import train


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> PipelineConfig:
    root = tmp_path_factory.mktemp("export")
    cfg = tiny_config(
        root,
        serving=ServingConfig(
            retrieval_candidates=60, top_k=10, max_per_category=3, triton_python_env="/opt/env"
        ),
    )
    generate(cfg)
    build(cfg)
    train(cfg)
    assert export(cfg).changed
    return cfg


def test_repository_holds_every_model_and_its_files(exported: PipelineConfig) -> None:
    repo = exported.paths.model_repository
    assert sorted(p.name for p in repo.iterdir() if p.is_dir()) == sorted(
        [*pbtxt.STAGES, pbtxt.ENSEMBLE]
    )
    for stage in pbtxt.STAGES:
        version = repo / stage / "1"
        assert (version / "model.py").exists() and (version / "stage_common.py").exists()
        assert (version / "recstack_serving" / "retrieval.py").exists()
        assert not list(version.rglob("__pycache__"))
        spec = json.loads((version / "serving_spec.json").read_text())
        assert spec["top_k"] == 10 and spec["retrieval_candidates"] == 60
        assert 'string_value: "/opt/env"' in (repo / stage / "config.pbtxt").read_text()
    assert (repo / "retrieval" / "1" / "items.faiss").exists()
    assert (repo / "scoring" / "1" / "ranker.onnx").exists()
    # Nothing hidden is left at the top level: Triton would try to load it as a model.
    assert [p.name for p in repo.iterdir() if p.name.startswith(".")] == [MARKER]


def test_unchanged_inputs_skip_the_export(exported: PipelineConfig) -> None:
    marker = exported.paths.model_repository / MARKER
    before = marker.stat().st_mtime_ns
    assert export(exported).changed is False
    assert marker.stat().st_mtime_ns == before


def test_a_serving_setting_change_re_exports_by_switching_the_link(
    exported: PipelineConfig,
) -> None:
    link = exported.paths.model_repository
    before = link.resolve()
    changed = dataclasses.replace(exported, serving=dataclasses.replace(exported.serving, top_k=12))
    assert export(changed).changed
    assert link.is_symlink() and link.resolve() != before
    spec = json.loads((link / "ordering" / "1" / "serving_spec.json").read_text())
    assert spec["top_k"] == 12
    # The previous version stays for a rollback: going back only switches the link.
    marker_time = (before / MARKER).stat().st_mtime_ns
    assert export(exported).changed
    assert link.resolve() == before
    assert (before / MARKER).stat().st_mtime_ns == marker_time


def test_a_plain_directory_is_replaced_by_the_link(
    exported: PipelineConfig, tmp_path: Path
) -> None:
    legacy = tmp_path / "models"
    (legacy / "old-model").mkdir(parents=True)
    moved = dataclasses.replace(
        exported, paths=dataclasses.replace(exported.paths, model_repository=legacy)
    )
    assert export(moved).changed
    assert legacy.is_symlink()
    assert not (legacy / "old-model").exists()


def test_the_fingerprint_covers_all_serving_code() -> None:
    names = {p.name for p in serving_code()}
    assert {"pbtxt.py", "repository.py", "retrieval.py", "feast_layout.py", "common.py"} <= names


def test_exported_stages_recommend_unseen_items(
    exported: PipelineConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run the copied stage package the way Triton imports it."""
    version = exported.paths.model_repository / "retrieval" / "1"
    monkeypatch.syspath_prepend(str(version))
    for name in [m for m in sys.modules if m.startswith("recstack_serving")]:
        monkeypatch.delitem(sys.modules, name)
    import faiss
    from recstack_serving import stream_inputs
    from recstack_serving.catalog import Catalog
    from recstack_serving.filtering import filter_candidates
    from recstack_serving.ordering import order
    from recstack_serving.retrieval import Retrieval, user_inputs
    from recstack_serving.scoring import Scoring
    from recstack_serving.spec import ServingSpec

    spec = ServingSpec.read(version)
    scoring_dir = exported.paths.model_repository / "scoring" / "1"
    retrieval = Retrieval(
        ort.InferenceSession(str(version / "user_tower.onnx")),
        faiss.read_index(str(version / "items.faiss")),
        np.load(version / "item_ids.npy"),
        np.load(version / "popular_items.npy"),
        spec.retrieval_candidates,
    )
    catalog = Catalog.load(scoring_dir)
    scoring = Scoring(ort.InferenceSession(str(scoring_dir / "ranker.onnx")), catalog)

    users = pd.read_parquet(exported.paths.data_dir / schema.USER_FEATURES_FILE).head(50)
    clicks = pd.read_parquet(exported.paths.data_dir / schema.IMPRESSIONS_FILE)
    clicks = clicks[clicks["click"] == 1]
    user_ids = users["user_id"].to_numpy(np.int64)
    seen = [clicks.loc[clicks["user_id"] == u, "item_id"].to_numpy() for u in user_ids]
    rows = users[list(spec.user_features)].to_numpy(np.float64)
    # No streamed event yet for any of them: the stream rows are missing.
    no_events = np.full((len(user_ids), len(stream_inputs.FEATURES)), np.nan)
    user = user_inputs(user_ids, rows, len(spec.user_categoricals), no_events)
    candidates = retrieval.retrieve(user.sparse, np.ones(len(user_ids), dtype=bool))
    filtered = filter_candidates(candidates.item_ids, seen, np.array([], dtype=np.int64))
    ids, scores = order(
        filtered,
        scoring.score(user.sparse, user.dense, filtered, candidates.fallback),
        catalog,
        spec.top_k,
        spec.max_per_category,
    )

    assert ids.shape == (50, spec.top_k)
    assert (ids >= 0).all()
    for row, user_seen in zip(ids, seen, strict=True):
        assert len(set(row.tolist())) == spec.top_k
        assert not set(row.tolist()) & set(user_seen.tolist())
    assert np.all(np.diff(scores, axis=1) <= 0)
    # Personalised: users do not all get the same list.
    assert len({tuple(r) for r in ids.tolist()}) > 10
