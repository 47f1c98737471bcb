"""Ask the deployed ensemble for recommendations (what `recstack recommend` and the smoke
tests call), over gRPC or HTTP, and the headers the kit's tools send to Triton's
administrative APIs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from pipelines.serving.tensors import IS_DEGRADED, IS_FALLBACK, ORDERED_IDS, ORDERED_SCORES, USER_ID
from recstack_contract.triton import ADMIN_GRPC_HEADER, ADMIN_HEADER, ENSEMBLE


@dataclass(frozen=True)
class Recommendation:
    user_id: int
    item_ids: tuple[int, ...]
    scores: tuple[float, ...]
    fallback: bool
    # Redis could not be read: the answer was made without (some of) the user's data.
    degraded: bool


def admin_headers(token: str, protocol: str) -> dict[str, str]:
    """The headers (gRPC: metadata) that open Triton's restricted API groups
    (recstack_contract.triton.RESTRICTED_APIS) to the holder of the environment's admin
    token; pass them as `headers=` to each tritonclient call of those groups."""
    if protocol == "grpc":
        return {ADMIN_GRPC_HEADER: token}
    if protocol == "http":
        return {ADMIN_HEADER: token}
    raise ValueError(f"protocol must be grpc or http, got {protocol!r}")


class Recommender:
    """Requests over one connection (a gRPC channel, or an HTTP connection), kept for
    every call: for callers that ask again and again, such as a poll, which would
    otherwise open a connection (and make the server accept one) per request."""

    def __init__(self, url: str, protocol: str = "grpc", timeout_s: float = 10.0) -> None:
        """url is host:port of the protocol's endpoint."""
        if protocol == "grpc":
            self._client: Any = grpcclient.InferenceServerClient(url)
            self._module: Any = grpcclient
            self._infer_options: dict[str, Any] = {"client_timeout": timeout_s}
        elif protocol == "http":
            self._client = httpclient.InferenceServerClient(url, network_timeout=timeout_s)
            self._module = httpclient
            self._infer_options = {}
        else:
            raise ValueError(f"protocol must be grpc or http, got {protocol!r}")

    def infer(self, users: np.ndarray) -> Any:
        """The ensemble's raw result for int32 user ids shaped [n, 1]."""
        tensor = self._module.InferInput(USER_ID.name, list(users.shape), USER_ID.dtype)
        tensor.set_data_from_numpy(users)
        return self._client.infer(ENSEMBLE, [tensor], **self._infer_options)

    def recommend(self, user_ids: Sequence[int]) -> list[Recommendation]:
        """One request for all `user_ids`."""
        users = np.asarray(user_ids, dtype=np.int32).reshape(-1, 1)
        result = self.infer(users)
        ids = result.as_numpy(ORDERED_IDS.name)
        scores = result.as_numpy(ORDERED_SCORES.name)
        fallback = result.as_numpy(IS_FALLBACK.name).reshape(-1)
        degraded = result.as_numpy(IS_DEGRADED.name).reshape(-1)
        return [
            Recommendation(
                user_id=int(user),
                item_ids=tuple(int(i) for i in row_ids if i >= 0),
                scores=tuple(float(s) for s, i in zip(row_scores, row_ids, strict=True) if i >= 0),
                fallback=bool(is_fallback),
                degraded=bool(is_degraded),
            )
            for user, row_ids, row_scores, is_fallback, is_degraded in zip(
                users.reshape(-1), ids, scores, fallback, degraded, strict=True
            )
        ]


def recommend(
    url: str, user_ids: Sequence[int], protocol: str = "grpc", timeout_s: float = 10.0
) -> list[Recommendation]:
    """One request for all `user_ids` over a connection of its own."""
    return Recommender(url, protocol, timeout_s).recommend(user_ids)
