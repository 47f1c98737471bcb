"""Triton model `filtering`: drop seen, blocked and out-of-stock candidates."""

from __future__ import annotations

from recstack_serving import redis_client
from recstack_serving.filtering import fetch_exclusions, filter_candidates
from recstack_serving.spec import ServingSpec
from stage_common import Arrays, input_names, run_batched, version_dir


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        self.inputs = input_names(args)
        self.spec = ServingSpec.read(version_dir(args))
        self.redis = redis_client.client_from_env()

    def execute(self, requests: list) -> list:
        return run_batched(requests, "filtering", self.inputs, self._handle)

    def _handle(self, inputs: Arrays) -> Arrays:
        user_ids = inputs["user_id_raw"].reshape(-1)
        candidates = inputs["candidate_ids"]
        seen, excluded = fetch_exclusions(self.redis, self.spec.key_prefix, user_ids)
        return {"filtered_ids": filter_candidates(candidates, seen, excluded)}
