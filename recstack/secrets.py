"""An environment's secrets on the controller: `.recstack/<env>/secrets.json`, mode 0600.

Every secret of `recstack_contract.secrets.SECRETS` is generated here on first use (the
testbed's Redis password, every environment's Triton admin token) and passed to each
playbook run as an extra variable, which ansible-runner keeps only in a private
directory deleted after the run. Never committed (.recstack/ is ignored) and never in an
inventory; on the hosts only in what the services themselves read, readable by root and
the service alone (Redis's configuration, the Triton program's definition, the trainer's
password file).
"""

from __future__ import annotations

import json
import os
import secrets as random_tokens

from recstack_contract.secrets import REDIS_PASSWORD, SECRETS, TRITON_ADMIN_TOKEN, Secret

from .environments import Environment


def load(environment: Environment) -> dict[str, str]:
    """The stored secrets by name."""
    path = environment.secrets_file
    if not path.exists():
        return {}
    stored = json.loads(path.read_text())
    return {s.name: stored[s.name] for s in SECRETS if stored.get(s.name)}


def playbook_variables(environment: Environment) -> dict[str, str]:
    """The extra variables of every playbook run: where the environment keeps its state,
    and its secrets."""
    stored = load(environment)
    return {
        "recstack_state_dir": str(environment.state_dir),
        **{s.variable: stored[s.name] for s in SECRETS if s.name in stored},
    }


def ensure(environment: Environment, secret: Secret) -> str:
    """The environment's value of `secret`, generated and stored on first use."""
    stored = load(environment).get(secret.name)
    return stored or store(environment, secret, random_tokens.token_urlsafe(32))


def store(environment: Environment, secret: Secret, text: str) -> str:
    """Keep `text` as the environment's `secret` (a cloud stack's Redis password, say,
    which the tools need after the deployment too)."""
    values = load(environment)
    if values.get(secret.name) != text:
        values[secret.name] = text
        path = environment.secrets_file
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        # The mode above applies only to a new file.
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(values, handle)
    return text


def value(environment: Environment, secret: Secret) -> str:
    """What the kit's tools use: the process environment's RECSTACK_<NAME> if set (an
    on-call engineer pointing the tools at an environment deployed elsewhere), else the
    environment's secrets file; empty when neither has it."""
    return os.environ.get(secret.environment) or load(environment).get(secret.name, "")


def redis_password(environment: Environment) -> str:
    return value(environment, REDIS_PASSWORD)


def triton_admin_token(environment: Environment) -> str:
    """The value of Triton's admin header (recstack_contract.triton.ADMIN_HEADER)."""
    return value(environment, TRITON_ADMIN_TOKEN)
