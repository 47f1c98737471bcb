"""Print a committed stack's outputs, computed by the Pulumi program under mocks, as JSON.

    .venv-pulumi/bin/python stacks/mock_outputs.py staging

The rehearsal (`recstack up rehearsal-<stack>`) and the kit's own tests take a stack's
`inventory` output from here rather than from a hand-written copy, so they always see
what the program really exports. No AWS account is involved; the values the mocks make
up (instance ids, addresses, `redis_password`) are placeholders.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

# Run as a script: stacks/ is on sys.path already, as for the Pulumi program.
warnings.filterwarnings("ignore")

from mocks import run_program, stack_file  # noqa: E402


def main(stack: str) -> None:
    if not (Path(__file__).resolve().parent.parent / f"Pulumi.{stack}.yaml").exists():
        sys.exit(f"no Pulumi.{stack}.yaml")
    outputs = run_program(stack_file(stack)).outputs
    print(json.dumps(outputs, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
