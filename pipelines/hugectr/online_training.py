"""Online training of the ranker's embedding rows (Monolith-style, as HPS expects): each
interaction event is one labelled sample, and a batch of events takes one SGD step on
the rows its samples touch. The dense weights stay those of the published model, as
they do between HPS's model versions; a new version starts again from its own table.

A sample is built as the serving path builds the scoring stage's input for that user
and item (serving/scoring.ranker_inputs): the user's published static features, their
streaming features as Redis holds them when the batch is trained (the stream processor
may already have applied the event itself), the item's catalog row. Its label is 1 for
a click or a purchase and 0 for an impression, the labels of the batch training.

The trainer keeps the rows it changed in memory (at most `rows_in_memory`, least
recently touched out first) and reads any other row from the Redis tier: its own
updates reach Redis only through Kafka and the updater, so a row it just published may
not be there yet. The batch's changed rows come back as one Update, to publish.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from recstack_contract.events import Event

from .. import schema
from ..artifacts import load_latest
from ..export.repository import build_catalog
from ..serving.catalog import Catalog
from ..serving.hps_layout import VALUE_DTYPE, slot_keys
from ..serving.hps_lookup import EmbeddingCache
from ..serving.hps_messages import Update
from ..serving.hugectr_files import ExportedTable
from ..serving.retrieval import user_inputs
from ..serving.scoring import ranker_inputs
from .evaluator import DenseNetwork
from .export import files_in

LABELS = {"impression": 0.0, "click": 1.0, "purchase": 1.0}
# Reads the streaming feature rows of users (feast_layout.read_rows' rows).
StreamRows = Callable[[np.ndarray], np.ndarray]
# Reads stored rows of the table: each key's value bytes, None where absent.
StoredRows = Callable[[np.ndarray], list[bytes | None]]


@dataclass(frozen=True)
class PublishedModel:
    """What training needs of the published model: its dense part, its table's shape and
    the data it was trained on."""

    version: str
    network: DenseNetwork
    slot_sizes: tuple[int, ...]
    vec_size: int
    default_value: float
    catalog: Catalog
    user_ids: np.ndarray  # int64, sorted
    user_features: np.ndarray  # float64 [users, USER_ONLINE_FEATURES]

    @classmethod
    def load(cls, artifacts_dir: Path, data_dir: Path) -> PublishedModel:
        artifacts = load_latest(artifacts_dir)
        files = files_in(artifacts.path)
        table = ExportedTable.read(files.network)
        users = pd.read_parquet(data_dir / schema.USER_FEATURES_FILE).sort_values(schema.USER_KEY)
        return cls(
            version=artifacts.version,
            network=DenseNetwork(files.network, files.dense),
            slot_sizes=table.slot_sizes,
            vec_size=table.vec_size,
            default_value=table.default_value,
            catalog=build_catalog(pd.read_parquet(data_dir / schema.ITEM_FEATURES_FILE)),
            user_ids=users[schema.USER_KEY].to_numpy(np.int64),
            user_features=users[list(schema.USER_ONLINE_FEATURES)].to_numpy(np.float64),
        )

    def samples(
        self, events: list[Event], stream_rows: StreamRows, skipped: Counter[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Table keys int64 [B, slots], dense float32 [B, n_dense] and labels float32 [B]
        of the events the model knows; the others are counted in `skipped`."""
        user_ids = np.array([e.user_id for e in events], np.int64)
        item_ids = np.array([e.item_id for e in events], np.int64)
        user_rows = np.searchsorted(self.user_ids, user_ids).clip(max=len(self.user_ids) - 1)
        known_user = self.user_ids[user_rows] == user_ids
        item_rows, known_item = self.catalog.rows(item_ids)
        for reason, refused in (
            ("unknown_user", ~known_user),
            ("unknown_item", known_user & ~known_item),
        ):
            if refused.any():
                skipped[reason] += int(refused.sum())
        keep = known_user & known_item
        user = user_inputs(
            user_ids[keep],
            self.user_features[user_rows[keep]],
            len(schema.USER_CATEGORICALS),
            stream_rows(user_ids[keep]),
        )
        sparse, dense = ranker_inputs(self.catalog, user.sparse, user.dense, item_rows[keep])
        labels = np.array([LABELS[e.type] for e, k in zip(events, keep, strict=True) if k])
        return slot_keys(sparse, self.slot_sizes), dense, labels.astype(np.float32)


class TouchedRows:
    """The rows the trainer changed, at most `capacity`: the least recently touched go
    first (the stage's cache structure, whose entries never expire here)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._rows = EmbeddingCache(capacity, refresh_s=math.inf)

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, keys: np.ndarray, stored: StoredRows, default: np.ndarray) -> np.ndarray:
        """The unique keys' current vectors: the trainer's own, else the stored ones, else
        the table's default vector (a key no tier holds)."""
        vectors = np.empty((len(keys), len(default)), VALUE_DTYPE)
        hit, own = self._rows.find(keys, time.monotonic())
        if hit.any():
            vectors[hit] = own
        missing = np.flatnonzero(~hit)
        if len(missing):
            for position, value in zip(missing.tolist(), stored(keys[missing]), strict=True):
                vectors[position] = default if value is None else np.frombuffer(value, VALUE_DTYPE)
        return vectors

    def put(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """The unique keys' new vectors."""
        self._rows.store(keys, vectors, time.monotonic())


@dataclass
class TrainingCounts:
    events: int = 0
    trained: int = 0
    rows: int = 0  # rows changed, summed over batches
    skipped: Counter[str] = field(default_factory=Counter)
    loss: float = 0.0  # the last batch's mean binary cross-entropy, before its step


class OnlineTrainer:
    def __init__(
        self,
        model: PublishedModel,
        stored: StoredRows,
        stream_rows: StreamRows,
        learning_rate: float,
        rows_in_memory: int,
    ) -> None:
        self.model = model
        self._stored = stored
        self._stream_rows = stream_rows
        self._learning_rate = learning_rate
        self.rows = TouchedRows(rows_in_memory)
        self._default = np.full(model.vec_size, model.default_value, VALUE_DTYPE)
        self.counts = TrainingCounts()

    def step(self, events: list[Event]) -> Update:
        """One SGD step on the batch's samples; the rows it changed. Nothing changes
        unless it completes (a Redis read that fails can be retried)."""
        skipped: Counter[str] = Counter()
        keys, dense, labels = self.model.samples(events, self._stream_rows, skipped)
        vec_size = self.model.vec_size
        unique, inverse = np.unique(keys, return_inverse=True)
        vectors = self.rows.get(unique, self._stored, self._default)
        if len(labels):
            embedded = vectors[inverse.reshape(keys.shape)]
            probabilities, gradient = self.model.network.embedding_gradient(dense, embedded, labels)
            summed = np.zeros_like(vectors)
            np.add.at(summed, inverse.reshape(-1), gradient.reshape(-1, vec_size))
            vectors -= self._learning_rate * summed
            self.rows.put(unique, vectors)
            self.counts.loss = _mean_cross_entropy(probabilities, labels)
        self.counts.events += len(events)
        self.counts.trained += len(labels)
        self.counts.rows += len(unique)
        self.counts.skipped.update(skipped)
        return Update(unique, vectors)


def _mean_cross_entropy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(probabilities.astype(np.float64), 1e-7, 1 - 1e-7)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))
