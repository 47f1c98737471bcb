"""Triton model `filtering`: drop seen, blocked and out-of-stock candidates."""

from __future__ import annotations

from recstack_serving import redis_client, resilience
from recstack_serving.filtering import Exclusions, filter_candidates
from recstack_serving.spec import ServingSpec
from stage_common import Arrays, input_names, run_batched, version_dir


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        self.inputs = input_names(args)
        spec = ServingSpec.read(version_dir(args))
        self.exclusions = Exclusions(
            redis_client.client_from_env(),
            spec.key_prefix,
            resilience.retry_budget_s(),
            known_blocked=spec.blocklist,
        )
        # Read the live exclusions now, so that an outage right after a (re)start still
        # finds operators' latest blocklist in memory.
        self.exclusions.fetch([])

    def execute(self, requests: list) -> list:
        return run_batched(requests, "filtering", self.inputs, self._handle)

    def _handle(self, inputs: Arrays) -> Arrays:
        user_ids = inputs["user_id_raw"].reshape(-1)
        seen, excluded, degraded = self.exclusions.fetch(user_ids)
        return {
            "filtered_ids": filter_candidates(inputs["candidate_ids"], seen, excluded),
            # Degraded when this stage or retrieval had to answer without Redis.
            "is_degraded": inputs["retrieval_degraded"] | degraded,
        }
