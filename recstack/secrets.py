"""An environment's secrets on the controller: `.recstack/<env>/secrets.json`, mode 0600.

Generated where the kit creates the environment (the testbed's Redis password, say) and
passed to each playbook run as extra variables, which ansible-runner keeps only in a
private directory deleted after the run. Never committed (.recstack/ is ignored) and
never in an inventory; on the hosts only in what the services themselves read, readable
by root and the service alone (Redis's configuration, the Triton program's environment,
the trainer's password file).
"""

from __future__ import annotations

import json
import os
import secrets as random_tokens

from .environments import Environment

REDIS_PASSWORD = "recstack_redis_password"


def load(environment: Environment) -> dict[str, str]:
    path = environment.secrets_file
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def playbook_variables(environment: Environment) -> dict[str, str]:
    """The extra variables of every playbook run: where the environment keeps its state,
    and its secrets."""
    return {"recstack_state_dir": str(environment.state_dir), **load(environment)}


def redis_password(environment: Environment) -> str:
    """The password clients use: RECSTACK_REDIS_PASSWORD if set (an on-call engineer
    pointing the tools at an environment), else the environment's secrets file."""
    return os.environ.get("RECSTACK_REDIS_PASSWORD") or load(environment).get(REDIS_PASSWORD, "")


def ensure_redis_password(environment: Environment) -> str:
    """The environment's Redis password, generated on first use."""
    values = load(environment)
    if REDIS_PASSWORD not in values:
        values[REDIS_PASSWORD] = random_tokens.token_urlsafe(32)
        path = environment.secrets_file
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(values, handle)
    return values[REDIS_PASSWORD]
