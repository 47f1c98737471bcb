"""The values every layer of recstack must agree on, defined once.

The Pulumi program (security groups, load balancer listeners, the `inventory` output),
the Ansible inventories and role defaults (through the vars plugin in
`plugins/vars/contract_vars.py`), the pipelines, the Triton stages and the CLI all
read this package. It imports nothing but the standard library, so every one of them can:
the Pulumi environment, the Ansible controller and the Triton Python backend (the export
step copies it into the model repository beside the stage code).

Change a value here and every layer follows; `tests/test_contract.py` proves it by
changing a port in a copy of the tree.
"""

from __future__ import annotations

from typing import Any

from . import features, hps, kafka, ports, redis, secrets, triton


def variables() -> dict[str, Any]:
    """The contract as one plain mapping: the Ansible variable `recstack_contract`."""
    return {
        "ports": ports.PORTS.as_dict(),
        "kafka": kafka.as_dict(),
        "redis": redis.as_dict(),
        "secrets": secrets.as_dict(),
        "features": features.as_dict(),
        "triton": triton.as_dict(),
        "hps": hps.as_dict(),
    }
