"""Where the testbed keeps its files, and the record `up` leaves for `down` (state.json).

Everything lives under ``PROJECT_ROOT/.recstack/testbed-hosts/`` (gitignored), except
the generated inventory, which sits with the other inventories so that playbooks find
it. ``down`` deletes that directory; what belongs to the *environment* — its secrets,
endpoints and test reports in ``.recstack/testbed/`` — outlives the hosts.
The record is written *before* anything is changed, so a teardown after a crash knows
what ``ip_forward`` was before and whether ``up`` made the shared directory. It holds
nothing the plan already says: the kernel objects are found by their names
(:mod:`recstack.testbed.plan`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import PROJECT_ROOT

STATE_DIR = PROJECT_ROOT / ".recstack" / "testbed-hosts"
STATE_FILE = STATE_DIR / "state.json"
# The client key Ansible and the probes log in with, and the hosts' public keys.
KEY_FILE = STATE_DIR / "id_ed25519"
KNOWN_HOSTS = STATE_DIR / "known_hosts"
HOSTS_DIR = STATE_DIR / "hosts"
INVENTORY_FILE = PROJECT_ROOT / "inventories" / "testbed" / "hosts.yml"
# Not overlaid: every host (and this machine) sees the same directory, the testbed's
# stand-in for a shared artifact store such as S3.
SHARED_DIR = Path("/srv/recstack")


def host_dir(name: str) -> Path:
    return HOSTS_DIR / name


def boot_log(name: str) -> Path:
    return host_dir(name) / "boot.log"


@dataclass
class State:
    # /proc/sys/net/ipv4/ip_forward as found before `up`, restored by `down`.
    ip_forward_before: str
    shared_dir_created: bool = False

    def save(self) -> None:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        # Write-then-rename: a crash mid-write must not leave a record teardown cannot read.
        tmp = STATE_FILE.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, STATE_FILE)


def load() -> State | None:
    """The record of the last `up`, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(STATE_FILE.read_text())
        return State(**data)
    except (OSError, ValueError, TypeError):
        return None
