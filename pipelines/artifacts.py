"""The published model artifacts: one immutable directory per version, and a pointer.

Layout under `paths.artifacts_dir`:

    <version>/user_tower.onnx      user_sparse INT64 [B, U] -> user_embedding FP32 [B, D]
    <version>/ranker.onnx          sparse INT64 [B, S], dense FP32 [B, F] -> score FP32 [B]
                                   (the columns: pipelines/schema.py)
    <version>/ranker_dense.onnx    embedded FP32 [B, S, D], dense FP32 [B, F] -> score FP32 [B]:
                                   the ranker after its embedding lookup
    <version>/hugectr/             the ranker in HugeCTR's inference format: ranker.json,
                                   ranker_dense_0.model, ranker0_sparse_0.model/
                                   (pipelines/hugectr/)
    <version>/item_ids.npy         int64 [n_items]
    <version>/item_embeddings.npy  float32 [n_items, D]; row i belongs to item_ids[i]
    <version>/popular_items.npy    int64 item ids, most train clicks first, every item
    <version>/metrics.json         holdout metrics of the models and of the baselines
    <version>/manifest.json        version, data fingerprint, config, cardinalities, columns
    latest.json                    {"version": ..., "path": ...}: what serving deploys

A version directory appears whole (it is renamed into place) and is never modified;
latest.json moves only after a model passed the quality gate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.data.files import read_json, write_json

# The files serving loads keep the names they have in the model repository.
from pipelines.serving.spec import (
    DENSE_RANKER_FILE,
    ITEM_IDS_FILE,
    POPULAR_ITEMS_FILE,
    RANKER_FILE,
    USER_TOWER_FILE,
)

LATEST_FILE = "latest.json"
MANIFEST_FILE = "manifest.json"
METRICS_FILE = "metrics.json"
ITEM_EMBEDDINGS_FILE = "item_embeddings.npy"


class ArtifactsError(FileNotFoundError):
    """No usable published model in the artifacts directory."""


@dataclass(frozen=True)
class Artifacts:
    version: str
    path: Path
    manifest: dict[str, Any]

    @property
    def user_tower(self) -> Path:
        return self.path / USER_TOWER_FILE

    @property
    def ranker(self) -> Path:
        return self.path / RANKER_FILE

    @property
    def dense_ranker(self) -> Path:
        return self.path / DENSE_RANKER_FILE

    @property
    def item_ids(self) -> Path:
        return self.path / ITEM_IDS_FILE

    @property
    def item_embeddings(self) -> Path:
        return self.path / ITEM_EMBEDDINGS_FILE

    @property
    def popular_items(self) -> Path:
        return self.path / POPULAR_ITEMS_FILE

    @property
    def metrics(self) -> Path:
        return self.path / METRICS_FILE


def load_latest(artifacts_dir: Path) -> Artifacts:
    """The version latest.json points to; ArtifactsError if nothing was published."""
    pointer = read_json(artifacts_dir / LATEST_FILE)
    if not isinstance(pointer, dict) or "version" not in pointer:
        raise ArtifactsError(
            f"{artifacts_dir / LATEST_FILE}: no published model; run the train step first"
        )
    return load_version(artifacts_dir, str(pointer["version"]))


def load_version(artifacts_dir: Path, version: str) -> Artifacts:
    # Resolved against artifacts_dir rather than latest.json's "path", so a copied or
    # re-mounted artifacts directory stays usable.
    path = artifacts_dir / version
    try:
        manifest = json.loads((path / MANIFEST_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        raise ArtifactsError(
            f"{path}: model version {version} is missing or incomplete; run the train step again"
        ) from exc
    return Artifacts(version=version, path=path, manifest=manifest)


def point_latest(artifacts_dir: Path, version: str) -> bool:
    """Make latest.json name `version`; True when it changed."""
    pointer = {"version": version, "path": str((artifacts_dir / version).resolve())}
    if read_json(artifacts_dir / LATEST_FILE) == pointer:
        return False
    write_json(pointer, artifacts_dir / LATEST_FILE)
    return True
