"""Triton model `filtering`: drop seen, blocked and out-of-stock candidates."""

from __future__ import annotations

import numpy as np
from recstack_serving import redis_client
from recstack_serving.filtering import fetch_exclusions, filter_candidates
from recstack_serving.spec import ServingSpec
from stage_common import run_each, tensor, version_dir


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        self.spec = ServingSpec.read(version_dir(args))
        self.redis = redis_client.client_from_env()

    def execute(self, requests: list) -> list:
        return run_each(requests, "filtering", self._handle)

    def _handle(self, request) -> dict[str, np.ndarray]:
        user_ids = tensor(request, "user_id_raw").reshape(-1)
        candidates = tensor(request, "candidate_ids")
        seen, excluded = fetch_exclusions(self.redis, self.spec.key_prefix, user_ids)
        return {"filtered_ids": filter_candidates(candidates, seen, excluded)}
