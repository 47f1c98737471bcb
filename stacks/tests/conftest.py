"""The stacks' tests run the Pulumi program under mocks (stacks/mocks.py)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

STACKS = Path(__file__).resolve().parent.parent
PROJECT_ROOT = STACKS.parent
sys.path.insert(0, str(STACKS))
sys.path.insert(1, str(PROJECT_ROOT))  # the policy pack, for policy.check
# pulumi-aws announces deprecations of resources the program does not use.
warnings.filterwarnings("ignore", category=DeprecationWarning)

from mocks import ZONES, Declared, ProgramRun, Recorded, RecordingMocks, run_program, stack_file  # noqa: E402

__all__ = [
    "PROJECT_ROOT",
    "STACKS",
    "ZONES",
    "Declared",
    "ProgramRun",
    "Recorded",
    "RecordingMocks",
    "run_program",
    "stack_file",
]
