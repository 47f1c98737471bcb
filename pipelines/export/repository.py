"""The export step: latest published models -> a Triton model repository.

Layout written to `paths.model_repository`:
  <stage>/config.pbtxt                   for retrieval, filtering, scoring, ordering
  <stage>/1/model.py, stage_common.py    the Python-backend model (triton_models/), which
                                         builds its stage from the serving graph
  <stage>/1/recstack_serving/            a copy of pipelines.serving (the stage logic)
  <stage>/1/recstack_contract/           a copy of the cross-layer contract it reads
  <stage>/1/serving_spec.json            model settings (spec.py)
  <stage>/1/...                          the files its variant loads (serving/graph.py)
  scoring/1/hugectr/                     the ranker in HugeCTR's format, which each serving
                                         host loads into its RocksDB tier
  ensemble-model/config.pbtxt, 1/        the ensemble joining the stages
  .export.json                           fingerprint of what this repository was built from

`paths.model_repository` is a symbolic link to a complete version directory in
`.<name>.versions/` beside it. A new export is built there and the link is replaced in
one atomic rename, so Triton never sees half a repository or none; the previous version
stays for a rollback. An unchanged fingerprint skips the export.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np
import pandas as pd

import recstack_contract
from recstack_contract.features import FEAST_PROJECT

from .. import schema
from ..artifacts import Artifacts, load_latest
from ..config import PipelineConfig
from ..serving import graph
from ..serving.catalog import Catalog
from ..serving.spec import (
    DENSE_RANKER_FILE,
    HUGECTR_DIRECTORY,
    INDEX_FILE,
    ITEM_IDS_FILE,
    POPULAR_ITEMS_FILE,
    RANKER_FILE,
    USER_TOWER_FILE,
    ServingSpec,
)
from ..steps import StepResult, fingerprint
from . import pbtxt

MARKER = ".export.json"
_EXPORT_PACKAGE = Path(__file__).resolve().parent
_SERVING_PACKAGE = _EXPORT_PACKAGE.parent / "serving"
_MODEL_SOURCES = _EXPORT_PACKAGE / "triton_models"
# The stage code reads the contract (the Redis connection's variables): it travels along.
_CONTRACT_PACKAGE = Path(recstack_contract.__file__).resolve().parent
_KEPT_VERSIONS = 2
# Exact search is fastest below this many items; above it, HNSW keeps latency flat.
_EXACT_INDEX_MAX_ITEMS = 50_000


def serving_code() -> tuple[Path, ...]:
    """Every source file that decides what the serving path computes."""
    return tuple(
        path
        for package in (_SERVING_PACKAGE, _EXPORT_PACKAGE, _CONTRACT_PACKAGE)
        for path in sorted(package.rglob("*.py"))
    )


def export(cfg: PipelineConfig) -> StepResult:
    artifacts = load_latest(cfg.paths.artifacts_dir)
    spec = serving_spec(cfg, artifacts.version)
    digest = fingerprint(
        artifacts.version,
        spec.__dict__,
        cfg.serving.instances_per_stage,
        cfg.serving.triton_python_env,
        faiss.__version__,
        files=(*serving_code(), cfg.paths.data_dir / schema.ITEM_FEATURES_FILE),
    )
    target = cfg.paths.model_repository
    if _fingerprint_of(target) == digest:
        return StepResult("export", False, {"model_repository": str(target)})

    versions = target.with_name(f".{target.name}.versions")
    built = versions / digest[:16]
    if _fingerprint_of(built) != digest:  # a kept version is reused as it is
        _build(cfg, artifacts, spec, digest, built)
    _point(target, built)
    _prune(versions, keep=built)
    return StepResult(
        "export", True, {"model_repository": str(target), "model_version": spec.model_version}
    )


def _build(
    cfg: PipelineConfig, artifacts: Artifacts, spec: ServingSpec, digest: str, built: Path
) -> None:
    partial = built.with_name(f"{built.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    shared = partial / ".shared"
    shared.mkdir(parents=True)
    _write_shared_files(cfg, artifacts, shared)
    for stage in graph.STAGES:
        _write_stage(cfg, spec, stage, shared, partial / stage.name)
    (partial / pbtxt.ENSEMBLE / "1").mkdir(parents=True)
    (partial / pbtxt.ENSEMBLE / "config.pbtxt").write_text(pbtxt.ensemble_config())
    shutil.rmtree(shared)
    (partial / MARKER).write_text(json.dumps(asdict(Exported(digest, spec.model_version))))
    shutil.rmtree(built, ignore_errors=True)
    partial.rename(built)


def serving_spec(cfg: PipelineConfig, version: str) -> ServingSpec:
    return ServingSpec(
        model_version=version,
        key_prefix=cfg.serving.key_prefix,
        feast_project=FEAST_PROJECT,
        user_view=schema.USER_FEATURE_VIEW,
        user_join_key=schema.USER_KEY,
        user_features=schema.USER_ONLINE_FEATURES,
        user_dense_features=(schema.USER_DENSE,),
        retrieval_candidates=cfg.serving.retrieval_candidates,
        top_k=cfg.serving.top_k,
        max_per_category=cfg.serving.max_per_category,
        blocklist=cfg.serving.blocklist,
        scoring_mode=cfg.serving.scoring,
        hps_partitions=cfg.hps.num_partitions,
        hps_rocksdb_dir=cfg.hps.rocksdb_dir,
        hps_cache_rows=cfg.hps.cache_rows,
        hps_refresh_s=cfg.hps.cache_refresh_s,
        hps_redis_retry_s=cfg.hps.redis_retry_s,
    )


def build_catalog(item_features: pd.DataFrame) -> Catalog:
    table = item_features.sort_values(schema.ITEM_KEY)
    return Catalog(
        item_ids=table[schema.ITEM_KEY].to_numpy(np.int64),
        sparse=table[list(schema.ITEM_SPARSE)].to_numpy(np.int64),
        dense=table[[schema.ITEM_DENSE]].to_numpy(np.float32),
        category=table[schema.ITEM_CATEGORY].to_numpy(np.int64),
    )


def build_index(embeddings: np.ndarray) -> faiss.Index:
    """Inner-product index over L2-normalised item embeddings (= cosine similarity)."""
    vectors = np.ascontiguousarray(embeddings, dtype=np.float32)
    if len(vectors) <= _EXACT_INDEX_MAX_ITEMS:
        index = faiss.IndexFlatIP(vectors.shape[1])
    else:
        index = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.add(vectors)
    return index


def _write_shared_files(cfg: PipelineConfig, artifacts: Artifacts, out: Path) -> None:
    shutil.copy2(artifacts.user_tower, out / USER_TOWER_FILE)
    shutil.copy2(artifacts.ranker, out / RANKER_FILE)
    shutil.copy2(artifacts.dense_ranker, out / DENSE_RANKER_FILE)
    shutil.copy2(artifacts.item_ids, out / ITEM_IDS_FILE)
    shutil.copy2(artifacts.popular_items, out / POPULAR_ITEMS_FILE)
    shutil.copytree(artifacts.path / HUGECTR_DIRECTORY, out / HUGECTR_DIRECTORY)
    index = build_index(np.load(artifacts.item_embeddings))
    faiss.write_index(index, str(out / INDEX_FILE))
    item_features = pd.read_parquet(cfg.paths.data_dir / schema.ITEM_FEATURES_FILE)
    build_catalog(item_features).save(out)


def _write_stage(
    cfg: PipelineConfig, spec: ServingSpec, stage: graph.Stage, shared: Path, model_dir: Path
) -> None:
    version = model_dir / "1"
    version.mkdir(parents=True)
    (model_dir / "config.pbtxt").write_text(
        pbtxt.stage_config(stage, cfg.serving.instances_per_stage, cfg.serving.triton_python_env)
    )
    shutil.copy2(_MODEL_SOURCES / "model.py", version / "model.py")
    shutil.copy2(_MODEL_SOURCES / "common.py", version / "stage_common.py")
    for package, name in (
        (_SERVING_PACKAGE, "recstack_serving"),
        (_CONTRACT_PACKAGE, "recstack_contract"),
    ):
        shutil.copytree(package, version / name, ignore=shutil.ignore_patterns("__pycache__"))
    spec.write(version)
    for name in stage.variant(spec).files:
        # Hard links: the stages share the large files without copying them.
        if (shared / name).is_dir():
            shutil.copytree(shared / name, version / name, copy_function=os.link)
        else:
            os.link(shared / name, version / name)


@dataclass(frozen=True)
class Exported:
    """A complete export's marker: what it was built from and the model version."""

    fingerprint: str
    version: str

    @classmethod
    def read(cls, target: Path) -> Exported | None:
        """The marker of a repository (or one of its versions); None if it is not a
        complete export."""
        try:
            return cls(**json.loads((target / MARKER).read_text()))
        except (FileNotFoundError, TypeError, json.JSONDecodeError):
            return None


def _fingerprint_of(target: Path) -> str | None:
    marker = Exported.read(target)
    return marker.fingerprint if marker else None


def _point(link: Path, version: Path) -> None:
    """Make `link` point at `version` with one atomic rename."""
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)  # a repository written before versioned exports
    staged = link.with_name(f".{link.name}.link")
    staged.unlink(missing_ok=True)
    staged.symlink_to(version.relative_to(link.parent))
    os.replace(staged, link)


def _prune(versions: Path, keep: Path) -> None:
    """Keep the current version and the newest others, up to _KEPT_VERSIONS in all."""
    others = sorted(
        (p for p in versions.iterdir() if p != keep and p.is_dir()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in others[_KEPT_VERSIONS - 1 :]:
        shutil.rmtree(old)
