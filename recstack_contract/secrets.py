"""The names of an environment's secrets: one name per secret in every layer.

A secret `name` is the key in the controller's `.recstack/<env>/secrets.json`, the
Ansible extra variable `recstack_<name>`, and the environment variable
`RECSTACK_<NAME>` of the processes that use it. Values never live in this repository,
an inventory or a model repository.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Secret:
    name: str
    purpose: str

    @property
    def variable(self) -> str:
        """The Ansible (extra) variable that carries it."""
        return f"recstack_{self.name}"

    @property
    def environment(self) -> str:
        """The process environment variable that carries it."""
        return f"RECSTACK_{self.name.upper()}"

    @property
    def environment_file(self) -> str:
        """The variable naming a 0600 file that holds it instead (for commands Ansible
        runs, whose environment a verbose log would show)."""
        return f"{self.environment}_FILE"


REDIS_PASSWORD = Secret("redis_password", "Redis AUTH / ACL password of every client")
# The value of Triton's administrative header (triton.py): whoever holds it may use the
# restricted API groups (model repository, shared memory, logging, trace, statistics).
TRITON_ADMIN_TOKEN = Secret("triton_admin_token", "Triton's restricted-API header value")
SECRETS: tuple[Secret, ...] = (REDIS_PASSWORD, TRITON_ADMIN_TOKEN)


def as_dict() -> dict[str, dict[str, str]]:
    return {
        s.name: {
            "variable": s.variable,
            "environment": s.environment,
            "environment_file": s.environment_file,
        }
        for s in SECRETS
    }
