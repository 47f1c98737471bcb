"""Debian packages the hosts need, installed in the root namespace.

Hosts share this machine's /usr (only /etc, /var/lib, /var/log and /opt are overlaid), so
a package installed here is present on every host. Installing on a host instead would
write the shared /usr while recording the install only in that host's private dpkg
database, so everything the roles install anyway is installed here first: on the hosts
the roles' apt tasks then find the packages already installed and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from .system import TestbedError, run

# What the testbed itself runs, then what the roles install on the hosts anyway.
PACKAGES = (
    "openssh-server",
    "openssh-client",
    "tini",
    "nftables",
    "iproute2",
    "redis-server",
    "redis-tools",
    "supervisor",
    "python3-venv",
    "python3-pip",
    "unzip",
)


def missing(packages: tuple[str, ...] = PACKAGES) -> list[str]:
    result = run(
        ["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n", *packages], check=False
    )
    installed = {
        line.split()[0] for line in result.stdout.splitlines() if line.split()[1:2] == ["ii"]
    }
    return [name for name in packages if name not in installed]


def ensure(progress: Callable[[str], None]) -> list[str]:
    """Install whatever of PACKAGES is missing; returns what was installed."""
    needed = missing()
    if not needed:
        return []
    progress(f"installing {' '.join(needed)} (apt)")
    env_prefix = ["env", "DEBIAN_FRONTEND=noninteractive"]
    run([*env_prefix, "apt-get", "update", "-q"], timeout=600)
    run(
        [*env_prefix, "apt-get", "install", "-y", "-q", "--no-install-recommends", *needed],
        timeout=900,
    )
    still = missing()
    if still:
        raise TestbedError(f"apt-get did not install: {' '.join(still)}")
    return needed
