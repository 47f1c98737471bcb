"""HPS's persistent tier: one RocksDB on each serving host, one column family per table
named by its tag, keys and values as raw bytes (HugeCTR `rocksdb_backend.cpp`), so a GPU
host's HPS and the kit's CPU stage read the same database.

Each serving host loads it from the exported files in the scoring stage's version
directory before Triton starts, as HPS inserts every table at startup (load_exported:
the host's updater does, hps_rocksdb_updater.py, the database's only writer). A marker
file in the database records the model version loaded, so an unchanged model is not
rewritten. The stages read the database as secondary instances (RocksDbReader).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from rocksdict import AccessType, Options, Rdict, WriteBatch

from recstack_contract import hps

from .hps_layout import key_fields, vector_values
from .hugectr_files import ExportedTable, InferenceFiles, SparseTable
from .spec import HUGECTR_DIRECTORY, ServingSpec

# Rows per write batch (HPS's persistent_db max_batch_size default).
BATCH = 65_536
MARKER = "recstack-loaded.json"


def open_rocksdb(path: Path) -> Rdict:
    """The database at `path` with every column family it has, keys and values as raw
    bytes (rocksdict otherwise prefixes a type tag to each)."""
    families = Rdict.list_cf(str(path), raw_options()) if (path / "CURRENT").exists() else []
    return Rdict(
        str(path), raw_options(), column_families={name: raw_options() for name in families}
    )


class RocksDbWriter:
    """The database's writer (this host must have no other): rows into a table's column
    family, created on first use as HPS does."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self._db = open_rocksdb(path)
        self._families = set(Rdict.list_cf(str(path), raw_options()))

    def write(self, tag: str, keys: np.ndarray, vectors: np.ndarray) -> None:
        if tag not in self._families:
            self._db.create_column_family(tag, raw_options()).close()
            self._families.add(tag)
        family = self._db.get_column_family_handle(tag)
        fields, values = key_fields(keys), vector_values(vectors)
        for start in range(0, len(fields), BATCH):
            batch = WriteBatch(raw_mode=True)
            batch.set_default_column_family(family)
            for key, value in zip(
                fields[start : start + BATCH], values[start : start + BATCH], strict=True
            ):
                batch.put(key, value)
            self._db.write(batch)
        # In the log on disk: the secondary instances read it from there.
        self._db.flush_wal(True)

    def close(self) -> None:
        self._db.close()


def write_table(path: Path, tag: str, table: SparseTable) -> None:
    """Every row into the table's column family."""
    writer = RocksDbWriter(path)
    try:
        writer.write(tag, table.keys, table.vectors)
    finally:
        writer.close()


def _wanted(stage_dir: Path) -> tuple[Path, dict[str, str]]:
    """The host's database and what it must have loaded for the stage's model."""
    spec = ServingSpec.read(stage_dir)
    return Path(spec.hps_rocksdb_dir), {
        "model_version": spec.model_version,
        "table": hps.table_tag(),
    }


def is_loaded(stage_dir: Path) -> bool:
    path, loaded = _wanted(stage_dir)
    marker = path / MARKER
    return marker.exists() and json.loads(marker.read_text()) == loaded


def load_exported(stage_dir: Path) -> dict[str, object]:
    """The stage's exported table into the host's RocksDB, unless that version is there."""
    path, loaded = _wanted(stage_dir)
    if is_loaded(stage_dir):
        return {"changed": False, **loaded, "path": str(path)}
    files = InferenceFiles.under(stage_dir / HUGECTR_DIRECTORY, hps.MODEL)
    table = SparseTable.read(files.sparse[0], ExportedTable.read(files.network).vec_size)
    write_table(path, hps.table_tag(), table)
    (path / MARKER).write_text(json.dumps(loaded))
    return {"changed": True, **loaded, "rows": len(table.keys), "path": str(path)}


class RocksDbReader:
    """The host's RocksDB tier, opened as a secondary instance: whoever writes it stays
    its only writer, and `catch_up()` makes the newer writes visible."""

    def __init__(self, path: Path, tag: str, secondary_dir: Path) -> None:
        self._db = Rdict(
            str(path),
            raw_options(),
            column_families={tag: raw_options()},
            access_type=AccessType.secondary(str(secondary_dir)),
        )
        self._family = self._db.get_column_family(tag)

    def get(self, fields: list[bytes]) -> list[bytes | None]:
        return self._family.get(fields)

    def catch_up(self) -> None:
        self._db.try_catch_up_with_primary()

    def close(self) -> None:
        self._family.close()
        self._db.close()


def raw_options() -> Options:
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    return options
