"""Reading and writing HugeCTR's model files: sparse table folders and the dense file.

A sparse table folder holds `key`, int64 keys in native (little-endian) order, and
`emb_vector`, float32 rows, row i for key i, no header (HugeCTR `dump_parameters`, read
by HPS's `RawModelLoader`). The dense file is every trainable weight as raw fp32, layer
after layer in graph order, no header or padding.

HPS checks only that the files are non-empty and whole numbers of keys and floats; a
vector file of the wrong length silently misaligns every row and a short dense file
leaves garbage weights. The readers here refuse both, naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .hps_layout import KEY_DTYPE
from .hps_layout import VALUE_DTYPE as FLOAT_DTYPE

# Iteration number in the file names HugeCTR's save_params_to_files writes; one export
# per model version, so always 0.
ITERATION = 0
KEY_FILE = "key"
VECTOR_FILE = "emb_vector"


class ModelFileError(ValueError):
    """A HugeCTR model file that HPS would load wrongly or not at all."""


@dataclass(frozen=True)
class InferenceFiles:
    """Where a model's files are, named as HugeCTR names them for a prefix:
    <prefix>.json, <prefix>_dense_<iter>.model, <prefix><i>_sparse_<iter>.model/."""

    network: Path
    dense: Path
    sparse: tuple[Path, ...]

    @classmethod
    def under(cls, directory: Path, prefix: str, tables: int = 1) -> InferenceFiles:
        return cls(
            network=directory / f"{prefix}.json",
            dense=directory / f"{prefix}_dense_{ITERATION}.model",
            sparse=tuple(
                directory / f"{prefix}{i}_sparse_{ITERATION}.model" for i in range(tables)
            ),
        )


@dataclass(frozen=True)
class SparseTable:
    keys: np.ndarray  # int64 [n]
    vectors: np.ndarray  # float32 [n, vec_size]

    def write(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.ascontiguousarray(self.keys, KEY_DTYPE).tofile(folder / KEY_FILE)
        np.ascontiguousarray(self.vectors, FLOAT_DTYPE).tofile(folder / VECTOR_FILE)

    @classmethod
    def read(cls, folder: Path, vec_size: int) -> SparseTable:
        keys = _read_array(folder / KEY_FILE, KEY_DTYPE)
        vectors = _read_array(folder / VECTOR_FILE, FLOAT_DTYPE)
        if vectors.size != keys.size * vec_size:
            raise ModelFileError(
                f"{folder / VECTOR_FILE}: {vectors.size} floats for {keys.size} keys of "
                f"embedding_vec_size {vec_size} (expected {keys.size * vec_size}); the "
                "network's embedding_vec_size and the table were written by different models"
            )
        if np.unique(keys).size != keys.size:
            raise ModelFileError(f"{folder / KEY_FILE}: a key appears more than once")
        return cls(keys, vectors.reshape(keys.size, vec_size))


def write_dense(path: Path, weights: list[np.ndarray]) -> None:
    np.concatenate([np.ravel(w).astype(FLOAT_DTYPE) for w in weights]).tofile(path)


def read_dense(path: Path, expected_floats: int) -> np.ndarray:
    """The dense file as one flat float32 array, refused unless its size fits the network."""
    weights = _read_array(path, FLOAT_DTYPE)
    if weights.size != expected_floats:
        raise ModelFileError(
            f"{path}: {weights.size * FLOAT_DTYPE.itemsize} bytes, but the network's layers "
            f"hold {expected_floats} floats ({expected_floats * FLOAT_DTYPE.itemsize} bytes); "
            "export the dense file and the network JSON from the same model"
        )
    return weights


def _read_array(path: Path, dtype: np.dtype) -> np.ndarray:
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise ModelFileError(f"{path}: missing") from exc
    if size == 0 or size % dtype.itemsize:
        raise ModelFileError(
            f"{path}: {size} bytes is not a whole, non-zero number of {dtype.itemsize}-byte values"
        )
    return np.fromfile(path, dtype=dtype)


@dataclass(frozen=True)
class ExportedTable:
    """What the serving side needs of the exported network's embedding table."""

    slot_sizes: tuple[int, ...]  # each slot's share of the table
    vec_size: int
    default_value: float  # the vector of a key no tier holds

    @classmethod
    def read(cls, network_file: Path) -> ExportedTable:
        return cls.of(json.loads(network_file.read_text()))

    @classmethod
    def of(cls, network: dict) -> ExportedTable:
        (hparam,) = (
            layer["sparse_embedding_hparam"]
            for layer in network["layers"]
            if "sparse_embedding_hparam" in layer
        )
        return cls(
            slot_sizes=tuple(int(size) for size in hparam["slot_size_array"]),
            vec_size=int(hparam["embedding_vec_size"]),
            default_value=float(hparam.get("default_emb_vec_value", 0.0)),
        )
