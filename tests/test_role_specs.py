"""Every role input is declared in meta/argument_specs.yml with the default the role uses."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES = sorted(
    p for p in (Path(__file__).resolve().parent.parent / "roles").iterdir() if p.is_dir()
)


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {} if path.exists() else {}


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_defaults_and_argument_specs_agree(role: Path) -> None:
    defaults = _load(role / "defaults" / "main.yml")
    specs = _load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert set(defaults) <= set(specs), f"undeclared inputs: {sorted(set(defaults) - set(specs))}"
    for name, spec in specs.items():
        assert name.startswith(f"{role.name}_"), f"{name} lacks the role prefix"
        assert spec.get("description"), f"{name} has no description"
        if spec.get("required"):
            assert name not in defaults, f"{name} is required but has a default"
            continue
        assert name in defaults, f"{name} is declared but has no default in defaults/main.yml"
        assert spec.get("default") == defaults[name], f"{name}: spec and defaults disagree"
