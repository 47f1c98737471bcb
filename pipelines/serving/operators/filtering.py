"""The filtering stage: drops seen, blocked and out-of-stock candidates."""

from __future__ import annotations

from pathlib import Path

from ..filtering import Exclusions, filter_candidates
from ..spec import ServingSpec
from ..tensors import CANDIDATES, FILTERED, IS_DEGRADED, RETRIEVAL_DEGRADED, USER_ID
from .base import Arrays, Context, Operator


class FilteringStage(Operator):
    """Loads no files: the exclusions are read from Redis per batch."""

    def __init__(self, files: Path, spec: ServingSpec, context: Context) -> None:
        super().__init__(context)
        self._exclusions = Exclusions(
            self.redis(), spec.key_prefix, context.retry_budget_s, spec.blocklist
        )
        # The live exclusions now, so that an outage right after a (re)start still
        # finds operators' latest blocklist in memory.
        self._exclusions.fetch([])

    def transform(self, inputs: Arrays) -> Arrays:
        seen, excluded, degraded = self._exclusions.fetch(inputs[USER_ID.name].reshape(-1))
        return {
            FILTERED.name: filter_candidates(inputs[CANDIDATES.name], seen, excluded),
            # Degraded when this stage or retrieval had to answer without Redis.
            IS_DEGRADED.name: inputs[RETRIEVAL_DEGRADED.name] | degraded,
        }
