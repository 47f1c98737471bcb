"""A cloud stack's outputs as the Pulumi program computes them under mocks.

The program runs in its own environment (.venv-pulumi, `make cloud-test` creates it), so
it is run as a command (stacks/mock_outputs.py), never imported here. No AWS account is
involved; the mocks answer the few look-ups the program makes.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from recstack import PROJECT_ROOT

PULUMI_PYTHON = PROJECT_ROOT / ".venv-pulumi" / "bin" / "python"
SCRIPT = PROJECT_ROOT / "stacks" / "mock_outputs.py"


class OutputsError(RuntimeError):
    pass


def stack_outputs(stack: str) -> dict[str, Any]:
    """`inventory`, `buckets` and `redis_password` of Pulumi.<stack>.yaml, under mocks."""
    if not PULUMI_PYTHON.exists():
        raise OutputsError(
            f"{PULUMI_PYTHON} is missing: create the Pulumi environment with `make cloud-test`"
        )
    result = subprocess.run(
        [str(PULUMI_PYTHON), str(SCRIPT), stack],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise OutputsError(f"the {stack} program failed under mocks:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout)
