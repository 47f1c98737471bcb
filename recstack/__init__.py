"""recstack: deploy and verify a multi-stage recommender system (the `recstack` CLI)."""

from pathlib import Path

# The checkout the CLI runs from: playbooks, roles and inventories live beside the package.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
