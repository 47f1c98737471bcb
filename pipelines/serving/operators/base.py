"""What every stage operator shares: the Context it is built with and its base class."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .. import redis_client, resilience

Arrays = dict[str, np.ndarray]


class UserFeatures(Protocol):
    def read(self, user_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        """[users, the spec's user_features then USER_STREAM_FEATURES] (NaN where
        missing), whether each user has features, and whether Redis could not be read."""
        ...


@dataclass(frozen=True)
class Context:
    """What the stages read beyond their files. Triton's stages: `serving()`. The batch
    job gives its own connection, the users' features from its data, and no RocksDB
    (the trainer hosts have none)."""

    # Makes a new Redis client; the stage that asks for one owns it and closes it.
    connect: Callable[[], object]
    # How long a stage retries a failed Redis read before it answers degraded.
    retry_budget_s: float
    # Where retrieval reads the users' features; None: the online store (Feast's rows).
    user_features: UserFeatures | None = None
    # Whether this host has the RocksDB tier (hps scoring falls back to it).
    rocksdb: bool = True

    @classmethod
    def serving(cls) -> Context:
        return cls(redis_client.client_from_env, resilience.retry_budget_s())


class Operator:
    """A stage: built as `(files, spec, context)` (its version directory, its spec and a
    Context; graph.Variant.build), it answers
    `transform(arrays) -> arrays` for a batch of users until `close()`, which closes the
    Redis clients it made with `redis()`. A stage holding more releases it in close()."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self._clients: list = []

    def redis(self):
        """A Redis client of this stage's own, closed with it."""
        client = self._context.connect()
        self._clients.append(client)
        return client

    def transform(self, inputs: Arrays) -> Arrays:
        raise NotImplementedError

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
