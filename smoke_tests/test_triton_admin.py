"""Triton's administrative APIs answer only to the environment's admin header; inference,
health and metadata answer to anyone (recstack_contract.triton).

Every Triton host, over HTTP and gRPC: one harmless call per restricted group is refused
without the header and with a wrong value, and succeeds with the token; the open groups
work without any header.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from recstack import client
from recstack.endpoints import Endpoints
from recstack_contract.triton import ADMIN_HEADER, ENSEMBLE, OPEN_APIS, RESTRICTED_APIS

PROTOCOLS = ("http", "grpc")
# How Triton refuses a restricted call: HTTP 403; gRPC UNAVAILABLE, which a server that
# is down also returns, so the message must name the header as well.
REFUSED = {"http": "403", "grpc": "StatusCode.UNAVAILABLE"}
FLAGS = {"http": "--http-restricted-api", "grpc": "--grpc-restricted-protocol"}

Client = httpclient.InferenceServerClient | grpcclient.InferenceServerClient
Call = Callable[[Client, dict[str, str] | None], Any]

# One call per group that reads and changes nothing.
RESTRICTED_CALLS: dict[str, Call] = {
    "model-repository": lambda c, h: c.get_model_repository_index(headers=h),
    "model-config": lambda c, h: c.get_model_config(ENSEMBLE, headers=h),
    "shared-memory": lambda c, h: c.get_system_shared_memory_status(headers=h),
    "logging": lambda c, h: c.get_log_settings(headers=h),
    "trace": lambda c, h: c.get_trace_settings(headers=h),
    "statistics": lambda c, h: c.get_inference_statistics(model_name=ENSEMBLE, headers=h),
}


def _health(c: Client, headers: dict[str, str] | None) -> bool:
    return all(
        (
            c.is_server_live(headers=headers),
            c.is_server_ready(headers=headers),
            c.is_model_ready(ENSEMBLE, headers=headers),
        )
    )


def _metadata(c: Client, headers: dict[str, str] | None) -> bool:
    server = c.get_server_metadata(headers=headers)
    model = c.get_model_metadata(ENSEMBLE, headers=headers)
    # HTTP answers JSON, gRPC a protobuf message.
    if isinstance(model, dict):
        return bool(server["version"]) and model["name"] == ENSEMBLE
    return bool(server.version) and model.name == ENSEMBLE


# Inference is checked through the kit's own client (test_inference_is_open).
OPEN_CALLS: dict[str, Call] = {"health": _health, "metadata": _metadata}


def _client(where: Endpoints, host: str, protocol: str) -> Client:
    if protocol == "grpc":
        return grpcclient.InferenceServerClient(where.grpc_url(host))
    return httpclient.InferenceServerClient(where.http_url(host), network_timeout=10.0)


def _url(where: Endpoints, host: str, protocol: str) -> str:
    return where.grpc_url(host) if protocol == "grpc" else where.http_url(host)


def test_every_group_has_a_probe() -> None:
    assert set(RESTRICTED_CALLS) == set(RESTRICTED_APIS)
    assert set(OPEN_CALLS) | {"inference"} == set(OPEN_APIS)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("group", RESTRICTED_APIS)
def test_a_restricted_group_is_refused_without_the_admin_header(
    where: Endpoints, triton_admin_token: str, group: str, protocol: str
) -> None:
    call = RESTRICTED_CALLS[group]
    wrong = client.admin_headers(f"not-{triton_admin_token}", protocol)
    for host in where.triton_hosts:
        url = _url(where, host, protocol)
        for headers, label in ((None, "without the header"), (wrong, "with a wrong token")):
            try:
                call(_client(where, host, protocol), headers)
                status, message = "success", ""
            except InferenceServerException as exc:
                status, message = exc.status(), exc.message() or ""
            assert status == REFUSED[protocol] and ADMIN_HEADER in message, (
                f"triton {url}: {group} over {protocol} {label} answered {status} {message!r}, "
                f"not a refusal ({REFUSED[protocol]}) → is {FLAGS[protocol]} with {group} on "
                "the tritonserver command line? see the recstack-triton program (roles/triton)"
            )


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("group", RESTRICTED_APIS)
def test_a_restricted_group_answers_to_the_admin_header(
    where: Endpoints, triton_admin_token: str, group: str, protocol: str
) -> None:
    headers = client.admin_headers(triton_admin_token, protocol)
    for host in where.triton_hosts:
        try:
            RESTRICTED_CALLS[group](_client(where, host, protocol), headers)
        except InferenceServerException as exc:
            pytest.fail(
                f"triton {_url(where, host, protocol)}: {group} over {protocol} with the admin "
                f"token failed: {exc.status()} {exc.message()} → does the token "
                "(RECSTACK_TRITON_ADMIN_TOKEN or .recstack/<env>/secrets.json) match the one "
                "the environment was deployed with? rerun `recstack up`"
            )


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("group", sorted(OPEN_CALLS))
def test_health_and_metadata_are_open(where: Endpoints, group: str, protocol: str) -> None:
    for host in where.triton_hosts:
        url = _url(where, host, protocol)
        try:
            answer = OPEN_CALLS[group](_client(where, host, protocol), None)
        except InferenceServerException as exc:
            pytest.fail(
                f"triton {url}: {group} over {protocol} without a header failed: "
                f"{exc.status()} {exc.message()} → clients need it: {group} must not be in "
                "recstack_contract.triton.RESTRICTED_APIS"
            )
        assert answer, f"triton {url}: {group} over {protocol} answered, not for a ready {ENSEMBLE}"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_inference_is_open(where: Endpoints, protocol: str) -> None:
    for host in where.triton_hosts:
        url = _url(where, host, protocol)
        try:
            (answer,) = client.recommend(url, [1], protocol=protocol)
        except InferenceServerException as exc:
            pytest.fail(
                f"triton {url}: inference over {protocol} without a header failed: "
                f"{exc.status()} {exc.message()} → clients need it: inference must not be in "
                "recstack_contract.triton.RESTRICTED_APIS"
            )
        assert answer.item_ids, f"triton {url}: {ENSEMBLE} returned no items for user 1"
