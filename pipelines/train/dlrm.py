"""The DLRM ranker: embeddings and a bottom MLP, pairwise dot-product interactions, a
top MLP and a sigmoid, trained with binary cross-entropy on impressions."""

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

HIDDEN = 128


class DLRM(nn.Module):
    def __init__(self, cardinalities: Sequence[int], n_dense: int, dim: int) -> None:
        super().__init__()
        self.embed = SparseEmbedding(cardinalities, dim)
        # The bottom MLP lifts the dense features into the embedding space so they take
        # part in the interactions like one more categorical column.
        self.bottom = nn.Sequential(
            nn.Linear(n_dense, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, dim), nn.ReLU()
        )
        vectors = len(cardinalities) + 1
        first, second = torch.triu_indices(vectors, vectors, offset=1)
        # Flat positions of the distinct pairs (i < j) in the vectors x vectors matrix.
        self.register_buffer("pairs", first * vectors + second)
        self.top = nn.Sequential(
            nn.Linear(dim + len(first), HIDDEN),
            nn.ReLU(),
            nn.Linear(HIDDEN, HIDDEN // 2),
            nn.ReLU(),
            nn.Linear(HIDDEN // 2, 1),
        )

    def logit(self, sparse: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        return self.dense_logit(self.embed(sparse), dense)

    def dense_logit(self, embedded: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        """Everything after the embedding lookup: what serves beside HPS, which does only
        the lookup. embedded [B, slots, dim], dense [B, n_dense]."""
        bottom = self.bottom(dense)
        vectors = torch.cat([bottom.unsqueeze(1), embedded], dim=1)
        dots = torch.bmm(vectors, vectors.transpose(1, 2)).flatten(1)
        interactions = torch.index_select(dots, 1, self.pairs)
        return self.top(torch.cat([bottom, interactions], dim=1)).squeeze(-1)

    def forward(self, sparse: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logit(sparse, dense))


class DenseRanker(nn.Module):
    """The ranker without its embedding table: (embedded, dense) -> click probability."""

    def __init__(self, model: DLRM) -> None:
        super().__init__()
        self.model = model

    def forward(self, embedded: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.model.dense_logit(embedded, dense))


def fit_dlrm(data: TrainingData, cfg: TrainConfig) -> DLRM:
    """Train on every impression of the train split (clicks and non-clicks)."""
    torch.manual_seed(cfg.seed)
    model = DLRM(
        [data.cardinalities[c] for c in schema.RANKER_SPARSE],
        len(schema.RANKER_DENSE),
        cfg.embedding_dim,
    )
    sparse, dense = (torch.from_numpy(a) for a in data.ranker_inputs(data.train))
    labels = torch.from_numpy(data.train.click)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    generator = torch.Generator().manual_seed(cfg.seed)
    model.train()
    for _ in range(cfg.ranker_epochs):
        for batch in torch.randperm(len(labels), generator=generator).split(cfg.batch_size):
            # BCE on logits is the numerically stable form of BCE on the sigmoid output.
            loss = functional.binary_cross_entropy_with_logits(
                model.logit(sparse[batch], dense[batch]), labels[batch]
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


@torch.no_grad()
def predict(model: DLRM, sparse: np.ndarray, dense: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Click probabilities, float32, computed in bounded-memory chunks."""
    parts = [
        model(torch.from_numpy(sparse[i : i + chunk]), torch.from_numpy(dense[i : i + chunk]))
        for i in range(0, len(sparse), chunk)
    ]
    return torch.cat(parts).numpy()
