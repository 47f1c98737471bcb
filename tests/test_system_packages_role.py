"""roles/system_packages asks dpkg first and leaves apt alone when every package is
installed; a package dpkg lacks goes to apt, which installs it or fails naming it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from test_redis_role_harness import run_playbook

pytestmark = pytest.mark.skipif(not shutil.which("dpkg-query"), reason="needs Debian's dpkg")


def _install(workdir: Path, names: list[str]):
    task = {
        "name": "Install packages",
        "ansible.builtin.include_role": {"name": "system_packages"},
        "vars": {"system_packages_names": names},
    }
    return run_playbook(workdir, [task], {})


def test_installed_packages_never_reach_apt(tmp_path: Path) -> None:
    run = _install(tmp_path, ["coreutils", "dpkg"])
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(
        r"TASK \[system_packages : Install the missing packages\] \*+\nskipping", run.stdout
    )
    assert re.search(r"ok=\d+\s+changed=0", run.stdout)


def test_a_package_dpkg_lacks_goes_to_apt(tmp_path: Path) -> None:
    run = _install(tmp_path, ["coreutils", "recstack-no-such-package"])
    assert run.returncode != 0
    # apt was asked for the missing package alone, and its error names it.
    assert "No package matching 'recstack-no-such-package'" in run.stdout
    assert "coreutils" not in run.stdout.split("Install the missing packages", 1)[1]
