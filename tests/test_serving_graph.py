"""The serving graph run offline over exported repositories, with the stage package the
export copied (the code Triton runs): both scoring variants recommend the same items
with the same scores while HPS's Redis tier holds the exported rows, the answers leave
out what each user has seen and what is blocked, and without a RocksDB tier the HPS
variant fails a batch whose Redis read failed instead of scoring with default vectors."""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from tiny import tiny_config

from pipelines import schema
from pipelines.batch import DataUserFeatures
from pipelines.config import PipelineConfig, ServingConfig
from pipelines.data.synthetic import generate
from pipelines.export.repository import export
from pipelines.features import build
from pipelines.hugectr.volatile_tier import load_volatile_tier
from pipelines.publish import publish
from pipelines.serving import keys
from pipelines.train.run import train
from recstack_contract.redis import RedisConnection

PREFIX = "g"
USERS = 60


@pytest.fixture(scope="module")
def client(redis_server: tuple[str, int]) -> Iterator[redis.Redis]:
    host, port = redis_server
    with pytest.MonkeyPatch.context() as patch:
        # The steps find Redis in their environment, as every recstack process does.
        for name, value in RedisConnection((host,), port).environment().items():
            patch.setenv(name, value)
        yield redis.Redis(host=host, port=port)


@pytest.fixture(scope="module")
def repositories(
    tmp_path_factory: pytest.TempPathFactory, client: redis.Redis
) -> dict[str, PipelineConfig]:
    """The same published model exported in each scoring mode."""
    root = tmp_path_factory.mktemp("graph")
    cfg = tiny_config(
        root,
        serving=ServingConfig(
            key_prefix=PREFIX, retrieval_candidates=60, top_k=10, blocklist=(1, 2)
        ),
    )
    generate(cfg)
    build(cfg)
    train(cfg)
    publish(cfg)
    load_volatile_tier(cfg)
    configs = {}
    for mode in ("hps", "onnx"):
        configs[mode] = dataclasses.replace(
            cfg,
            serving=dataclasses.replace(cfg.serving, scoring=mode),
            paths=dataclasses.replace(cfg.paths, model_repository=root / f"models-{mode}"),
        )
        assert export(configs[mode]).changed
    return configs


@pytest.fixture
def stage_package(repositories: dict[str, PipelineConfig], monkeypatch: pytest.MonkeyPatch):
    """The graph module of the exported stage package, imported as Triton imports it."""
    version = repositories["hps"].paths.model_repository / "scoring" / "1"
    monkeypatch.syspath_prepend(str(version))
    for name in [m for m in sys.modules if m.startswith("recstack_serving")]:
        monkeypatch.delitem(sys.modules, name)
    from recstack_serving import graph
    from recstack_serving.operators import base

    return graph, base


def _users(cfg: PipelineConfig) -> pd.DataFrame:
    return pd.read_parquet(cfg.paths.data_dir / schema.USER_FEATURES_FILE)


class _OwnedClient(redis.Redis):
    """A client that remembers whether the stage that asked for it closed it."""

    closed = False

    def close(self) -> None:
        super().close()
        self.closed = True


def test_both_scoring_variants_recommend_the_same_unseen_items(
    repositories: dict[str, PipelineConfig],
    client: redis.Redis,
    redis_server: tuple[str, int],
    stage_package,
) -> None:
    graph, operators = stage_package
    users = _users(repositories["hps"])
    user_ids = users[schema.USER_KEY].to_numpy(np.int64)[:USERS]
    made: list[_OwnedClient] = []

    def connect() -> _OwnedClient:
        made.append(_OwnedClient(*redis_server))
        return made[-1]

    context = operators.Context(
        connect=connect,
        retry_budget_s=1.0,
        user_features=DataUserFeatures(client, users),
        rocksdb=False,
    )
    answers = {}
    for mode, cfg in repositories.items():
        with graph.loaded(cfg.paths.model_repository, context) as stages:
            answers[mode] = graph.run(stages, {"user_id_raw": user_ids.reshape(-1, 1)})
    # Filtering's and the HPS lookup's clients, each closed with its stage.
    assert len(made) == 3 and all(c.closed for c in made)
    hps, onnx = answers["hps"], answers["onnx"]
    np.testing.assert_array_equal(hps["ordered_ids"], onnx["ordered_ids"])
    np.testing.assert_allclose(hps["ordered_scores"], onnx["ordered_scores"], atol=1e-5)
    assert not hps["is_degraded"].any() and not hps["is_fallback"].any()

    ids = hps["ordered_ids"]
    assert ids.shape == (USERS, 10) and (ids >= 0).all()
    blocked = {int(i) for i in client.smembers(keys.blocked(PREFIX))}
    for user_id, row in zip(user_ids, ids.tolist(), strict=True):
        seen = {int(i) for i in client.smembers(keys.seen(PREFIX, int(user_id)))}
        assert len(set(row)) == 10 and not set(row) & (seen | blocked)
    assert np.all(np.diff(hps["ordered_scores"], axis=1) <= 0)
    # Personalised: users do not all get the same list.
    assert len({tuple(r) for r in ids.tolist()}) > 10


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_without_rocksdb_a_failed_redis_read_fails_the_hps_stage(
    repositories: dict[str, PipelineConfig], client: redis.Redis, stage_package
) -> None:
    graph, operators = stage_package
    repository: Path = repositories["hps"].paths.model_repository
    users = _users(repositories["hps"])
    live = operators.Context(lambda: client, 1.0, DataUserFeatures(client, users), rocksdb=False)
    retrieval = graph.build("retrieval", repository / "retrieval" / "1", live)
    arrays = retrieval.transform({"user_id_raw": np.array([[0], [1]], np.int32)})
    inputs = {
        "user_sparse": arrays["user_sparse"],
        "user_dense": arrays["user_dense"],
        "filtered_ids": arrays["candidate_ids"],
        "is_fallback": arrays["is_fallback"],
    }
    down = redis.Redis(port=_closed_port(), socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    away = dataclasses.replace(live, connect=lambda: down)
    scoring = graph.build("scoring", repository / "scoring" / "1", away)
    try:
        with pytest.raises(operators.resilience.RedisUnavailable):
            scoring.transform(inputs)
    finally:
        scoring.close()
    # A stage that reaches Redis answers the same inputs.
    scoring = graph.build("scoring", repository / "scoring" / "1", live)
    try:
        assert np.isfinite(scoring.transform(inputs)["candidate_scores"]).any()
    finally:
        scoring.close()


# The libraries too large to load in a stage that does not use them.
_HEAVY = ("faiss", "onnxruntime", "rocksdict")


@pytest.mark.parametrize(
    ("stage", "variant", "loads"),
    [
        ("retrieval", "two_tower", ["faiss", "onnxruntime"]),
        ("filtering", "exclusions", []),
        ("scoring", "onnx", ["onnxruntime"]),
        ("scoring", "hps", ["onnxruntime", "rocksdict"]),
        ("ordering", "diverse_top_k", []),
    ],
)
def test_a_stage_loads_only_the_libraries_its_variant_uses(
    stage: str, variant: str, loads: list[str]
) -> None:
    code = (
        "import json, sys\n"
        "from pipelines.serving import graph\n"
        f"graph.stage({stage!r}).variants[{variant!r}].operator_class()\n"
        f"print(json.dumps([m for m in {_HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == loads
