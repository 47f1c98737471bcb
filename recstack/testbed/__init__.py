"""The multi-host testbed: ten SSH hosts on this machine, each in its own namespaces.

Public API (all need root):

- ``up(progress=print) -> UpResult``: build the testbed, or confirm it is already up;
  waits until every host answers SSH and writes ``INVENTORY_FILE``.
- ``down(progress=print) -> DownResult``: remove everything; safe when nothing is up.
- ``is_up() -> bool``: recorded and every host answers SSH.
- ``leftovers() -> list[str]``: any trace of a testbed on this machine, in words.
- ``run_on(host, command)``: a shell command on a host over SSH (``HOSTS``, ``get``).
- Paths: ``KEY_FILE`` (private key; ``.pub`` beside it), ``KNOWN_HOSTS``,
  ``INVENTORY_FILE``, ``STATE_DIR``, ``SHARED_DIR`` (shared by all hosts).

The hosts, addresses and names are fixed in :mod:`recstack.testbed.plan`.
"""

from .lifecycle import DownResult, UpResult, down, is_up, leftovers, up
from .plan import GATEWAY, HOSTS, SUBNET, Host, by_group, get
from .ssh import run_on
from .state import INVENTORY_FILE, KEY_FILE, KNOWN_HOSTS, SHARED_DIR, STATE_DIR
from .system import TestbedError

__all__ = [
    "GATEWAY",
    "HOSTS",
    "INVENTORY_FILE",
    "KEY_FILE",
    "KNOWN_HOSTS",
    "SHARED_DIR",
    "STATE_DIR",
    "SUBNET",
    "DownResult",
    "Host",
    "TestbedError",
    "UpResult",
    "by_group",
    "down",
    "get",
    "is_up",
    "leftovers",
    "run_on",
    "up",
]
