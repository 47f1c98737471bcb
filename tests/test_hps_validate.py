"""The HPS checks over what an environment would deploy: the function the pre-flight play
calls, and the play itself failing before any host is touched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.hugectr.validate import problems

ROOT = Path(__file__).resolve().parent.parent
LOCAL_REDIS = {"hosts": ["127.0.0.1"], "port": 6379, "cluster": False, "tls": False}
CLUSTER_TLS = {"hosts": ["10.0.2.11"], "port": 6380, "cluster": True, "tls": True}
LOCAL_KAFKA = {"bootstrap": "127.0.0.1:9092", "auth": "none"}


def test_the_default_configuration_passes() -> None:
    assert problems({}, LOCAL_REDIS, LOCAL_KAFKA, gpu_serving=False) == []
    assert problems({}, CLUSTER_TLS, LOCAL_KAFKA, gpu_serving=True) == []


def test_a_standalone_redis_fails_only_where_gpu_hosts_run_hps() -> None:
    (problem,) = problems({}, LOCAL_REDIS, LOCAL_KAFKA, gpu_serving=True)
    assert problem.startswith("ps.json: volatile_db.type:") and "cluster" in problem


def test_settings_reach_the_generated_files() -> None:
    found = problems(
        {"hps": {"backend": "hugectr", "hit_rate_threshold": 0.8}},
        CLUSTER_TLS,
        LOCAL_KAFKA,
        gpu_serving=True,
    )
    assert [p.split(":")[1].strip() for p in found] == [
        "models[0].hit_rate_threshold",
        "volatile_db.enable_tls",
    ]
    (invalid,) = problems({"hps": {"num_partitions": 2}}, LOCAL_REDIS, LOCAL_KAFKA, False)
    assert invalid.startswith("pipelines_config: hps.num_partitions must be >= 5")


def _preflight(overrides: dict[str, object]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            *("-i", "inventories/common", "-i", "inventories/local"),
            "playbooks/preflight.yml",
            *("-e", json.dumps({"recstack_hps": overrides})),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_preflight_play_passes_the_local_settings() -> None:
    run = _preflight({})
    assert run.returncode == 0, run.stdout[-2000:]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"hit_rate_threshold": 0.5}, "models[0].hit_rate_threshold"),
        ({"num_partitions": 3}, "hps.num_partitions"),
    ],
)
def test_the_preflight_play_fails_on_a_broken_setting(
    overrides: dict[str, object], expected: str
) -> None:
    run = _preflight(overrides)
    assert run.returncode != 0 and expected in run.stdout, run.stdout[-2000:]


def test_recstack_validate_runs_the_preflight_play_alone() -> None:
    recstack = str(Path(sys.executable).with_name("recstack"))
    local = subprocess.run(
        [recstack, "validate", "local"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert local.returncode == 0 and "passes every check" in local.stdout, local.stdout
    assert "Check the HPS configuration" in local.stdout
    if not (ROOT / ".recstack" / "staging" / "inventory").exists():
        staging = subprocess.run(
            [recstack, "validate", "staging"], cwd=ROOT, capture_output=True, text=True
        )
        assert staging.returncode == 2 and "has no inventory yet" in staging.stdout
