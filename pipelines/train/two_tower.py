"""The two-tower retrieval model and its training with in-batch sampled softmax."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from pipelines import schema
from pipelines.config import TrainConfig
from pipelines.train.embedding import SparseEmbedding
from pipelines.train.inputs import TrainingData

# Softmax temperature of the cosine logits: cosines live in [-1, 1], so they need a
# sharp temperature to express confident preferences.
TEMPERATURE = 0.05
HIDDEN = 128


class Tower(nn.Module):
    """[B, C] raw codes -> [B, dim] L2-normalised embedding."""

    def __init__(self, cardinalities: Sequence[int], dim: int) -> None:
        super().__init__()
        self.embed = SparseEmbedding(cardinalities, dim)
        self.mlp = nn.Sequential(
            nn.Linear(len(cardinalities) * dim, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, dim)
        )

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return functional.normalize(self.mlp(self.embed(codes).flatten(1)), dim=-1)


class TwoTower(nn.Module):
    def __init__(self, cardinalities: dict[str, int], dim: int) -> None:
        super().__init__()
        self.user = Tower([cardinalities[c] for c in schema.USER_MODEL_SPARSE], dim)
        self.item = Tower([cardinalities[c] for c in schema.ITEM_SPARSE], dim)


def fit_two_tower(data: TrainingData, cfg: TrainConfig) -> TwoTower:
    """Train on the train split's clicks, each with its user as of that impression (the
    session so far included); every other item in a batch is a negative."""
    torch.manual_seed(cfg.seed)
    model = TwoTower(data.cardinalities, cfg.embedding_dim)
    clicks = data.train.clicked()
    users = torch.from_numpy(data.user_columns(clicks))
    items = torch.from_numpy(data.item_sparse[clicks.item])
    item_rows = torch.from_numpy(clicks.item)
    # In-batch negatives are drawn in proportion to click frequency, which would teach
    # the model to demote popular items; subtracting log-frequency from the logits
    # (logQ correction) removes that sampling bias.
    frequency = np.bincount(clicks.item, minlength=len(data.item_ids)) / len(clicks.item)
    log_q = torch.from_numpy(np.log(np.maximum(frequency, 1e-12))).float()
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    generator = torch.Generator().manual_seed(cfg.seed)
    model.train()
    for _ in range(cfg.retrieval_epochs):
        for batch in torch.randperm(len(users), generator=generator).split(cfg.batch_size):
            logits = model.user(users[batch]) @ model.item(items[batch]).T / TEMPERATURE
            logits = logits - log_q[item_rows[batch]]
            # The same item twice in a batch is a positive for both rows, not a negative.
            rows = item_rows[batch]
            duplicate = (rows[:, None] == rows[None, :]) & ~torch.eye(len(rows), dtype=torch.bool)
            logits = logits.masked_fill(duplicate, float("-inf"))
            loss = functional.cross_entropy(logits, torch.arange(len(rows)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


@torch.no_grad()
def embed(tower: Tower, codes: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Embeddings for every row of `codes`, float32, computed in bounded-memory chunks."""
    parts = [tower(torch.from_numpy(codes[i : i + chunk])) for i in range(0, len(codes), chunk)]
    return torch.cat(parts).numpy()
