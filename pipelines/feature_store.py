"""The feature-store step: `feast apply` the repository and materialize into Redis.

The Feast repository itself (feature_store.yaml and the definitions) is rendered by the
`feature_store` Ansible role from group_vars. This step only acts when something changed:
- apply when the repository's files changed since the last apply (or no registry yet);
- materialize when the feature tables changed since the last materialization, as
  recorded in Redis itself, so a flushed Redis is refilled.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import yaml

from recstack_contract.features import FEAST_PROJECT, USER_STREAM_FEATURES, VIEWS
from recstack_contract.redis import from_environment
from recstack_contract.secrets import REDIS_PASSWORD

from .config import PipelineConfig
from .online import redis_connection
from .serving import keys
from .steps import StepResult, fingerprint

APPLIED_MARKER = ".applied"


class FeatureStoreError(RuntimeError):
    """Feast refused the rendered repository."""


def sync(cfg: PipelineConfig, repo: Path) -> StepResult:
    # feature_store.yaml names ${RECSTACK_REDIS_PASSWORD}; Feast expands it from the
    # environment of this process (and of `feast apply`, which inherits it), so a
    # password given as a file is put there.
    os.environ[REDIS_PASSWORD.environment] = from_environment(os.environ)[1]
    applied = _apply(repo)
    materialized = _materialize(cfg, repo, force=applied)
    return StepResult(
        "feature-store",
        applied or materialized,
        {"applied": applied, "materialized": materialized, "repo": str(repo)},
    )


def _apply(repo: Path) -> bool:
    definitions = (*sorted(repo.glob("*.py")), repo / "feature_store.yaml")
    digest = fingerprint("apply", files=definitions)
    marker = repo / APPLIED_MARKER
    if marker.exists() and marker.read_text() == digest and _registry_exists(repo):
        return False
    feast = Path(sys.executable).with_name("feast")
    run = subprocess.run(
        [str(feast), "--chdir", str(repo), "apply"], capture_output=True, text=True, check=False
    )
    if run.returncode != 0:
        raise FeatureStoreError(
            f"feast apply failed in {repo} (exit {run.returncode}):\n{run.stderr[-2000:]}"
        )
    marker.write_text(digest)
    return True


def _registry_exists(repo: Path) -> bool:
    """False only when a local registry file is missing (remote registries are trusted)."""
    registry = yaml.safe_load((repo / "feature_store.yaml").read_text())["registry"]
    path = registry["path"] if isinstance(registry, dict) else registry
    if "://" in path:
        return True
    return (repo / path).exists()


# The streaming view's online rows are written from the activity state the stream
# processor continues (the publish step seeds both from the log): materializing them too
# would read the whole point-in-time table only to be overwritten.
MATERIALIZED = tuple(view for view in VIEWS if view is not USER_STREAM_FEATURES)


def _materialize(cfg: PipelineConfig, repo: Path, force: bool) -> bool:
    tables = tuple(cfg.paths.data_dir / view.file for view in MATERIALIZED)
    digest = fingerprint("materialize", FEAST_PROJECT, files=tables)
    client = redis_connection()
    marker = keys.materialized_marker(cfg.serving.key_prefix)
    if not force and client.get(marker) == digest.encode():
        return False
    from feast import FeatureStore  # the SDK is slow to import; only load it to write

    newest = max(
        pd.read_parquet(t, columns=["event_timestamp"])["event_timestamp"].max() for t in tables
    )
    end = max(newest.to_pydatetime(), datetime.now(UTC)) + timedelta(seconds=1)
    FeatureStore(repo_path=str(repo)).materialize(
        start_date=end - timedelta(days=3650),
        end_date=end,
        feature_views=[view.name for view in MATERIALIZED],
    )
    client.set(marker, digest)
    return True
