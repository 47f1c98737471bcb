"""The item catalog the scoring and ordering stages need, loaded once per model instance.

`items.npz` (written by the export step) holds, sorted by item id: item_id, sparse
(int64 [items, len(ITEM_SPARSE)], item id first), dense (float32 [items, 1]) and
category (int64 [items]).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

CATALOG_FILE = "items.npz"


@dataclass(frozen=True)
class Catalog:
    item_ids: np.ndarray
    sparse: np.ndarray
    dense: np.ndarray
    category: np.ndarray

    @classmethod
    def load(cls, directory: Path) -> Catalog:
        with np.load(directory / CATALOG_FILE) as data:
            return cls(
                item_ids=data["item_id"],
                sparse=data["sparse"],
                dense=data["dense"],
                category=data["category"],
            )

    def save(self, directory: Path) -> None:
        np.savez(
            directory / CATALOG_FILE,
            item_id=self.item_ids,
            sparse=self.sparse,
            dense=self.dense,
            category=self.category,
        )

    def rows(self, item_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row index of each id and a mask of ids the catalog knows."""
        index = np.searchsorted(self.item_ids, item_ids)
        index = np.clip(index, 0, len(self.item_ids) - 1)
        return index, self.item_ids[index] == item_ids
