"""File helpers shared by the steps: atomic writes and reading a step's stamp.

Readers (Feast, Triton, a step running concurrently, an operator's `cat`) must see either
the old file or the new one, never a half-written one, so every output is written to a
temporary sibling and renamed over the target: a rename within a directory is atomic.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def write_parquet(table: pa.Table, path: Path) -> None:
    _replace(path, lambda tmp: pq.write_table(table, tmp))


def write_json(obj: Any, path: Path) -> None:
    text = json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"
    _replace(path, lambda tmp: tmp.write_text(text))


def read_json(path: Path) -> Any:
    """The JSON document at `path`, or None when it is missing or unreadable (a stamp
    that cannot be read vouches for nothing, so the step simply redoes its work)."""
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _replace(path: Path, write: Callable[[Path], object]) -> None:
    # The pid keeps two processes writing the same target from sharing a temp file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
