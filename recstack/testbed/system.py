"""Running the system tools the testbed drives (ip, nft, ssh-keygen, apt-get)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence


class TestbedError(RuntimeError):
    """The testbed could not be built or torn down; the message says why and what to check."""

    __test__ = False  # not a pytest test class, despite the name


def run(
    argv: Sequence[str], *, check: bool = True, input_text: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise TestbedError with the command and its stderr."""
    try:
        result = subprocess.run(
            list(argv),
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise TestbedError(f"{argv[0]} is not installed (needed by the testbed)") from None
    except subprocess.TimeoutExpired:
        raise TestbedError(f"{' '.join(argv)} did not finish within {timeout:.0f} s") from None
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        raise TestbedError(f"{' '.join(argv)} failed (exit {result.returncode}): {detail}")
    return result


def require_root() -> None:
    # Namespaces, bridges, mounts and nftables all need CAP_SYS_ADMIN / CAP_NET_ADMIN.
    if os.geteuid() != 0:
        raise TestbedError("the testbed needs root (namespaces, bridge, mounts, nftables)")
