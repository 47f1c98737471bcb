"""Where recstack can deploy. An environment names its inventory and how to prepare it.

`local` is static: every group on this machine. Later environments (the multi-host
testbed, AWS stacks) plug in here with a `prepare` step that creates hosts or provisions
cloud resources and produces their inventory before the same playbooks run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import PROJECT_ROOT


class UnknownEnvironment(LookupError):
    pass


@dataclass(frozen=True)
class Environment:
    name: str
    description: str

    @property
    def inventory(self) -> Path:
        return PROJECT_ROOT / "inventories" / self.name

    @property
    def state_dir(self) -> Path:
        """Controller-side files about this environment (endpoints, bundles)."""
        return PROJECT_ROOT / ".recstack" / self.name

    @property
    def endpoints_file(self) -> Path:
        return self.state_dir / "endpoints.json"


ENVIRONMENTS: dict[str, Environment] = {
    env.name: env
    for env in (Environment("local", "every tier on this machine, bound to 127.0.0.1"),)
}


def get(name: str) -> Environment:
    try:
        return ENVIRONMENTS[name]
    except KeyError:
        known = ", ".join(sorted(ENVIRONMENTS))
        raise UnknownEnvironment(f"unknown environment {name!r}; known: {known}") from None
