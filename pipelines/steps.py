"""What every pipeline step returns, so callers (Ansible, the CLI, tests) can tell work
done from work skipped.

Steps are idempotent: each fingerprints its inputs and returns `changed=False` without
rewriting anything when its outputs already match. Ansible reads the JSON line that
`python -m pipelines <step>` prints last and reports `changed` from it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StepResult:
    step: str
    changed: bool
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {"step": self.step, "changed": self.changed, "details": self.details},
            sort_keys=True,
            default=str,
        )


def fingerprint(*parts: Any, files: tuple[Path, ...] = ()) -> str:
    """A stable hex digest of JSON-serialisable parts and the bytes of files."""
    digest = hashlib.sha256()
    digest.update(json.dumps(parts, sort_keys=True, default=str).encode())
    for path in files:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
