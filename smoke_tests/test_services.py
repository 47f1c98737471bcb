"""Each tier answers on its endpoint."""

from __future__ import annotations

from pipelines.serving.graph import NAMES as STAGES
from recstack import health
from recstack.endpoints import Endpoints
from recstack_contract.triton import ENSEMBLE

EXPECTED_MODELS = {ENSEMBLE, *STAGES}


def test_redis_answers(where: Endpoints, redis_password: str) -> None:
    for host in where.redis_hosts:
        check = health.check_redis(where, host, redis_password)
        assert check.ok, f"redis {check.endpoint}: {check.detail} → {check.hint}"


def test_broker_has_expected_topics(where: Endpoints) -> None:
    check = health.check_kafka(where.kafka, where.kafka_topics)
    assert check.ok, f"kafka {check.endpoint}: {check.detail} → {check.hint}"


def test_triton_ready_with_every_model(where: Endpoints, triton_admin_token: str) -> None:
    for host in where.triton_hosts:
        url = where.http_url(host)
        check = health.check_triton(url, triton_admin_token)
        assert check.ok, f"triton {url}: {check.detail} → {check.hint}"
        missing = EXPECTED_MODELS - set(health.triton_model_states(url, triton_admin_token))
        assert not missing, (
            f"triton {url}: models {sorted(missing)} absent from the repository → "
            "check the export step of `recstack up` and the model repository directory"
        )
