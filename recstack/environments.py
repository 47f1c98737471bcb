"""Where recstack can deploy.

`local` is static: every group on this machine (inventories/local). `testbed` is a set
of SSH hosts in namespaces on this machine (`recstack testbed up` writes its hosts.yml
into inventories/testbed). Every committed
Pulumi stack file (Pulumi.<stack>.yaml) is a cloud environment: `recstack up <stack>`
provisions it with Pulumi, then writes its inventory from the stack's outputs into the
environment's state directory. `rehearsal-<stack>` is that stack's inventory output,
made under Pulumi mocks and bound to the testbed's hosts (recstack/rehearsal), its
inventory written to the same place. All of them run the same playbooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import PROJECT_ROOT

COMMON_INVENTORY = PROJECT_ROOT / "inventories" / "common"


class UnknownEnvironment(LookupError):
    pass


@dataclass(frozen=True)
class Environment:
    name: str
    description: str
    cloud: bool = False
    # A cloud stack's variables on the testbed's hosts (`recstack up rehearsal-<stack>`).
    rehearsal: bool = False
    # An inventory directory given by path (`recstack smoke path/to/inventory`).
    inventory_dir: Path | None = None

    @property
    def state_dir(self) -> Path:
        """Controller-side files about this environment (endpoints, bundles, inventory)."""
        return PROJECT_ROOT / ".recstack" / self.name

    @property
    def inventory(self) -> Path:
        """The environment's own inventory: its hosts and its settings."""
        if self.inventory_dir is not None:
            return self.inventory_dir
        if self.cloud or self.rehearsal:
            return self.state_dir / "inventory"
        return PROJECT_ROOT / "inventories" / self.name

    @property
    def inventories(self) -> tuple[Path, ...]:
        """What Ansible reads, in order: the shared settings, then the environment's own
        (later sources win, so an environment overrides any shared value)."""
        return (COMMON_INVENTORY, self.inventory)

    @property
    def endpoints_file(self) -> Path:
        return self.state_dir / "endpoints.json"

    @property
    def secrets_file(self) -> Path:
        return self.state_dir / "secrets.json"


LOCAL = {
    env.name: env
    for env in (
        Environment("local", "every tier on this machine, bound to 127.0.0.1"),
        Environment("testbed", "ten SSH hosts in namespaces on this machine (recstack testbed up)"),
    )
}


def cloud_stacks() -> list[str]:
    return sorted(
        p.name.removeprefix("Pulumi.").removesuffix(".yaml")
        for p in PROJECT_ROOT.glob("Pulumi.*.yaml")
    )


REHEARSAL_PREFIX = "rehearsal-"


def rehearsal(stack: str) -> Environment:
    return Environment(
        f"{REHEARSAL_PREFIX}{stack}",
        f"the {stack} stack's variables on the testbed's hosts",
        rehearsal=True,
    )


def get(name: str) -> Environment:
    if name in LOCAL:
        return LOCAL[name]
    if name in cloud_stacks():
        return Environment(name, f"AWS stack from Pulumi.{name}.yaml", cloud=True)
    stack = name.removeprefix(REHEARSAL_PREFIX)
    if name.startswith(REHEARSAL_PREFIX) and stack in cloud_stacks():
        return rehearsal(stack)
    path = Path(name).resolve()
    if (path / "hosts.yml").is_file():
        return Environment(path.name, f"the inventory in {path}", inventory_dir=path)
    known = ", ".join(
        [*sorted(LOCAL), *cloud_stacks(), *(REHEARSAL_PREFIX + s for s in cloud_stacks())]
    )
    raise UnknownEnvironment(
        f"unknown environment {name!r}; known: {known}, or a path to an inventory directory "
        "with a hosts.yml"
    )
