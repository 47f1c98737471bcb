"""Embeddings for several categorical columns in one table."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class SparseEmbedding(nn.Module):
    """[B, C] raw codes -> [B, C, dim]: one vector per column.

    Each column owns a slice of a single table (one lookup per batch instead of C), and
    codes are folded into their slice by modulo the column's cardinality, so an unseen
    or out-of-range code at serving time still maps to a valid row instead of failing.
    """

    def __init__(self, cardinalities: Sequence[int], dim: int) -> None:
        super().__init__()
        sizes = torch.tensor(list(cardinalities), dtype=torch.int64)
        self.register_buffer("cardinality", sizes)
        self.register_buffer("offset", torch.cumsum(sizes, 0) - sizes)
        self.table = nn.Embedding(int(sizes.sum()), dim)
        # Small initial vectors keep early dot products (towers, DLRM interactions) near
        # zero, so training starts from uninformative rather than random-but-confident scores.
        nn.init.normal_(self.table.weight, std=0.05)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.table(torch.remainder(codes, self.cardinality) + self.offset)
