"""Export builds a complete, self-contained Triton repository from the serving graph: each
stage's config, its model, the stage package and the files its variant loads."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from tiny import tiny_config

from pipelines.config import PipelineConfig, ServingConfig
from pipelines.data.synthetic import generate
from pipelines.export.repository import MARKER, export, serving_code
from pipelines.features import build
from pipelines.serving import graph
from pipelines.train.run import train
from recstack_contract.triton import ENSEMBLE


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
    assert sorted(p.name for p in repo.iterdir() if p.is_dir()) == sorted([*graph.NAMES, ENSEMBLE])
    for stage in graph.NAMES:
        version = repo / stage / "1"
        assert (version / "model.py").exists() and (version / "stage_common.py").exists()
        assert (version / "recstack_serving" / "retrieval.py").exists()
        assert not list(version.rglob("__pycache__"))
        spec = json.loads((version / "serving_spec.json").read_text())
        assert spec["top_k"] == 10 and spec["retrieval_candidates"] == 60
        assert 'string_value: "/opt/env"' in (repo / stage / "config.pbtxt").read_text()
    assert (repo / "retrieval" / "1" / "items.faiss").exists()
    # The scoring stage holds its variant's files (hps: the dense part and the table in
    # HugeCTR's format), not the other's.
    scoring = repo / "scoring" / "1"
    assert (scoring / "ranker_dense.onnx").exists() and (scoring / "hugectr").is_dir()
    assert not (scoring / "ranker.onnx").exists()
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
