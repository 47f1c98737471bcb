"""The live ensemble: the reference calling convention, fallbacks, bad input, and that
operators' edits to the blocklist and fresh interactions take effect immediately."""

from __future__ import annotations

import stat
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import redis
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from pipelines.serving import keys
from recstack import client
from recstack.endpoints import Endpoints
from recstack_contract.secrets import REDIS_PASSWORD

pytestmark = pytest.mark.deployed


def test_reference_grpc_call_for_user_23(local: Endpoints) -> None:
    triton = grpcclient.InferenceServerClient(local.grpc_url())
    users = grpcclient.InferInput("user_id_raw", [1, 1], "INT32")
    users.set_data_from_numpy(np.array([[23]], dtype=np.int32))
    result = triton.infer("ensemble-model", [users])
    ids = result.as_numpy("ordered_ids")
    assert ids.dtype == np.int32
    assert ids.shape[0] == 1 and ids.shape[1] >= 10
    assert len(set(ids[0].tolist())) == ids.shape[1]
    assert result.as_numpy("ordered_scores").shape == ids.shape


def test_32_users_over_http(local: Endpoints, known_users: list[int]) -> None:
    users = known_users[:32]
    recs = client.recommend(local.http_url(), users, protocol="http")
    assert [r.user_id for r in recs] == users
    assert all(len(r.item_ids) >= 10 for r in recs)
    # Different users get different lists: the answer is personalised.
    assert len({r.item_ids for r in recs}) > len(users) // 2


def test_unknown_user_gets_popular_items_labelled_as_fallback(
    local: Endpoints, known_users: list[int]
) -> None:
    unknown = 2_000_000_000
    known, fallback = client.recommend(local.grpc_url(), [known_users[0], unknown])
    assert not known.fallback
    assert fallback.fallback
    assert len(fallback.item_ids) >= 10
    # The fallback is the same for every unknown user.
    (again,) = client.recommend(local.grpc_url(), [unknown - 1])
    assert again.item_ids == fallback.item_ids


def test_wrong_input_type_is_an_error_not_a_crash(local: Endpoints) -> None:
    triton = httpclient.InferenceServerClient(local.http_url())
    bad = httpclient.InferInput("user_id_raw", [1, 1], "FP32")
    bad.set_data_from_numpy(np.array([[1.5]], dtype=np.float32))
    with pytest.raises(InferenceServerException, match=r"(?i)data.?type|expected"):
        triton.infer("ensemble-model", [bad])
    assert triton.is_server_ready()
    assert len(client.recommend(local.grpc_url(), [1])[0].item_ids) >= 10


def test_the_ensemble_advertises_the_reference_shapes(local: Endpoints) -> None:
    metadata = grpcclient.InferenceServerClient(local.grpc_url()).get_model_metadata(
        "ensemble-model", as_json=True
    )
    inputs = {t["name"]: (t["datatype"], t["shape"]) for t in metadata["inputs"]}
    outputs = {t["name"]: (t["datatype"], t["shape"]) for t in metadata["outputs"]}
    assert inputs == {"user_id_raw": ("INT32", ["-1", "1"])}
    assert outputs["ordered_ids"] == ("INT32", ["-1", "-1"])
    assert outputs["ordered_scores"] == ("FP32", ["-1", "-1"])


def test_too_many_users_in_one_request_is_refused_with_the_limit(local: Endpoints) -> None:
    with pytest.raises(InferenceServerException, match="1024"):
        client.recommend(local.grpc_url(), list(range(1025)))
    assert len(client.recommend(local.grpc_url(), [1])[0].item_ids) >= 10


@pytest.mark.parametrize("exclusion", [keys.blocked, keys.out_of_stock])
def test_excluding_an_item_removes_it_at_once(
    local: Endpoints, live_redis: redis.Redis, known_users: list[int], exclusion
) -> None:
    user = known_users[0]
    (before,) = client.recommend(local.grpc_url(), [user])
    top = before.item_ids[0]
    excluded = exclusion(local.key_prefix)
    added = live_redis.sadd(excluded, top)
    try:
        (after,) = client.recommend(local.grpc_url(), [user])
        assert top not in after.item_ids
        assert len(after.item_ids) == len(before.item_ids)
    finally:
        if added:
            live_redis.srem(excluded, top)


def test_a_new_interaction_is_filtered_at_once(
    local: Endpoints, live_redis: redis.Redis, known_users: list[int]
) -> None:
    user = known_users[1]
    (before,) = client.recommend(local.grpc_url(), [user])
    top = before.item_ids[0]
    seen = keys.seen(local.key_prefix, user)
    live_redis.sadd(seen, top)
    try:
        (after,) = client.recommend(local.grpc_url(), [user])
        assert top not in after.item_ids
    finally:
        live_redis.srem(seen, top)


def test_an_unreachable_redis_gives_a_labelled_degraded_answer(
    local: Endpoints, live_redis: redis.Redis, known_users: list[int]
) -> None:
    """Stop Redis (the local environment runs it under supervisor): the ensemble still
    answers, with popular items labelled degraded, and recovers once Redis is back."""
    user = known_users[0]
    subprocess.run(["supervisorctl", "stop", "recstack-redis"], check=True, capture_output=True)
    try:
        (rec,) = client.recommend(local.grpc_url(), [user])
        assert rec.degraded and rec.fallback
        assert len(rec.item_ids) >= 10
    finally:
        subprocess.run(
            ["supervisorctl", "start", "recstack-redis"], check=True, capture_output=True
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if live_redis.ping():
                    break
            except redis.ConnectionError:
                time.sleep(0.2)
    (again,) = client.recommend(local.grpc_url(), [user])
    assert not again.degraded and not again.fallback


def test_the_servers_environment_names_the_password_file_not_the_password() -> None:
    """The service manager shows a program's environment to local users: the stages
    get their Redis password from a file only the server's user reads."""
    (pid,) = subprocess.run(
        ["pgrep", "-x", "tritonserver"], check=True, capture_output=True, text=True
    ).stdout.split()
    entries = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    environment = dict(e.decode().split("=", 1) for e in entries if b"=" in e)
    assert REDIS_PASSWORD.environment not in environment
    secret = Path(environment[REDIS_PASSWORD.environment_file]).stat()
    assert stat.S_IMODE(secret.st_mode) == 0o600
    assert secret.st_uid == Path(f"/proc/{pid}").stat().st_uid != 0
