"""Shared by the test_redis_role_* files (no tests of its own): runs pieces of roles/redis
with ansible-playbook on localhost (the kit's ansible.cfg, so `recstack_contract` comes
from the vars plugin), makes a throwaway CA and node certificates, and starts throwaway
redis-server processes from the role's rendered configuration."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from recstack.rehearsal import tls

ROOT = Path(__file__).resolve().parent.parent
ROLE = ROOT / "roles" / "redis"
REDIS_SERVER = Path("/usr/bin/redis-server")
# Shaped like the passwords `recstack up` generates (URL-safe characters).
PASSWORD = "t3st-Pass_word.Redis"
WRONG_PASSWORD = "not-the-Pass_word"

needs_redis_server = pytest.mark.skipif(
    not REDIS_SERVER.exists(), reason="needs Debian's redis-server"
)


def free_port(hosts: Sequence[str] = ("127.0.0.1",)) -> int:
    """A TCP port that nothing listens on at any of these addresses (and neither on the
    port 10000 above it, which Redis would pick for a cluster bus by default)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((hosts[0], 0))
            port = probe.getsockname()[1]
        if port > 55000:
            continue
        try:
            for host in hosts:
                for candidate in (port, port + 10000):
                    with socket.socket() as check:
                        check.bind((host, candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port")


# --- certificates ------------------------------------------------------------------


@dataclass(frozen=True)
class Ca:
    """A throwaway CA, made by the same code as the rehearsal's (recstack/rehearsal/tls.py)."""

    directory: Path
    cert_file: Path

    def issue(self, name: str, addresses: Sequence[str]) -> tuple[Path, Path]:
        """A node certificate (server and client use, as the cluster bus needs) for these
        IP addresses, and its key (mode 0600): (certificate file, key file)."""
        files = tls.ensure_server(self.directory, name, addresses)
        return files.certificate, files.key


def make_ca(directory: Path, name: str) -> Ca:
    home = directory / name
    return Ca(home, tls.ensure_authority(home))


# --- ansible-playbook --------------------------------------------------------------


def run_playbook(
    workdir: Path,
    tasks: list[dict[str, Any]],
    variables: dict[str, Any],
    hosts: dict[str, dict[str, Any]] | None = None,
) -> subprocess.CompletedProcess[str]:
    """One play over `hosts` (default: localhost), all with a local connection, with
    `variables` as extra variables (from a file, as the CLI passes secrets)."""
    workdir.mkdir(parents=True, exist_ok=True)
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = {
        "all": {
            "hosts": {
                name: {**local, **values} for name, values in (hosts or {"localhost": {}}).items()
            }
        }
    }
    (workdir / "hosts.yml").write_text(yaml.safe_dump(inventory))
    play = {"name": "Exercise the redis role", "hosts": "all", "gather_facts": False}
    play.update(any_errors_fatal=True, tasks=tasks)
    (workdir / "play.yml").write_text(yaml.safe_dump([play]))
    extra = workdir / "extra.json"
    extra.write_text(json.dumps(variables))
    extra.chmod(0o600)
    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            str(workdir / "hosts.yml"),
            str(workdir / "play.yml"),
            "-e",
            f"@{extra}",
        ],
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    # Kept beside the play, for a failing test's post-mortem.
    (workdir / "ansible.log").write_text(run.stdout + run.stderr)
    return run


def role_tasks(tasks_from: str) -> dict[str, Any]:
    """A task running one of the role's task files, with the role's defaults and vars."""
    return {
        "name": f"Run the role's {tasks_from}",
        "ansible.builtin.include_role": {"name": "redis", "tasks_from": tasks_from},
    }


def _role_vars_files() -> list[str]:
    return [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")]


def render(
    workdir: Path,
    variables: dict[str, Any],
    hosts: dict[str, dict[str, Any]] | None = None,
    values: Sequence[str] = (),
) -> dict[str, dict[str, Any]]:
    """For each host: its redis.conf rendered from the role's template with the role's
    defaults and vars plus `variables`, and the role's variables named in `values`
    (rendered by Ansible): {host: {"config": text, name: value, ...}}."""
    out = workdir / "rendered"
    tasks = [
        {
            "name": "Render redis.conf",
            "ansible.builtin.template": {
                "src": str(ROLE / "templates" / "redis.conf.j2"),
                "dest": f"{out}/{{{{ inventory_hostname }}}}.conf",
                "mode": "0600",
            },
        },
        {
            "name": "Write the role's variables",
            "ansible.builtin.copy": {
                "content": "{{ redis__values | to_json }}",
                "dest": f"{out}/{{{{ inventory_hostname }}}}.json",
                "mode": "0600",
            },
            "vars": {"redis__values": {name: f"{{{{ {name} }}}}" for name in values}},
        },
    ]
    out.mkdir(parents=True, exist_ok=True)
    (workdir / "render").mkdir(parents=True, exist_ok=True)
    run = _run_with_role_vars(workdir / "render", tasks, variables, hosts)
    assert run.returncode == 0, run.stdout + run.stderr
    return {
        host: {
            "config": (out / f"{host}.conf").read_text(),
            **json.loads((out / f"{host}.json").read_text()),
        }
        for host in (hosts or {"localhost": {}})
    }


def _run_with_role_vars(
    workdir: Path,
    tasks: list[dict[str, Any]],
    variables: dict[str, Any],
    hosts: dict[str, dict[str, Any]] | None,
) -> subprocess.CompletedProcess[str]:
    # The role's defaults and vars, loaded as variables: the template sees what it sees in
    # the role without running any of the role's tasks. They outrank inventory host
    # variables, so per-host inputs go in as (templated) extra variables.
    wrapped = [
        {
            "name": "Load the role's defaults and vars",
            "ansible.builtin.include_vars": {"file": path},
        }
        for path in _role_vars_files()
    ]
    return run_playbook(workdir, wrapped + tasks, variables, hosts)


# --- throwaway redis-server ------------------------------------------------------------


@dataclass
class Node:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


def wait_listening(host: str, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(200):
        if process.poll() is not None:
            pytest.fail(f"redis-server exited: {log.read_text()}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"redis-server did not listen on {host}:{port}: {log.read_text()}")


class Nodes:
    """Throwaway redis-server processes, each started on a config file; stop() ends
    every one of them."""

    def __init__(self) -> None:
        self.started: list[Node] = []

    def start(self, config: Path, host: str, port: int) -> Node:
        log = config.with_suffix(".log")
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [str(REDIS_SERVER), str(config)],
                stdout=sink,
                stderr=subprocess.STDOUT,
                cwd=config.parent,
            )
        node = Node(host, port, process, log)
        self.started.append(node)
        wait_listening(host, port, process, log)
        return node

    def stop(self) -> None:
        for node in self.started:
            node.process.terminate()
        for node in self.started:
            try:
                node.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait(timeout=5)


@pytest.fixture
def start_node() -> Iterator[Callable[[Path, str, int], Node]]:
    """Starts redis-server on a config file and waits until it listens; every node
    started is stopped at the end of the test, whatever its outcome."""
    nodes = Nodes()
    try:
        yield nodes.start
    finally:
        nodes.stop()


def write_config(directory: Path, name: str, text: str, extra: Sequence[str] = ()) -> Path:
    """The rendered configuration, plus test-only lines, as directory/name.conf."""
    path = directory / f"{name}.conf"
    path.write_text(text + "".join(f"{line}\n" for line in extra))
    return path


def start_on_loopback(
    nodes: Nodes,
    workdir: Path,
    rendered: dict[str, dict[str, Any]],
    addresses: dict[str, str],
    port: int,
    extra: Sequence[str] = (),
) -> dict[str, str]:
    """One node per host from its rendered configuration, each on its loopback address;
    {host: config file}. All nodes share one machine here, whose cluster-bus connections
    would otherwise leave from 127.0.0.1 and so announce that address (tests only)."""
    configs = {}
    for name, address in addresses.items():
        (workdir / name).mkdir(exist_ok=True)
        config = write_config(
            workdir / name, name, rendered[name]["config"], [*extra, f"bind-source-addr {address}"]
        )
        configs[name] = str(config)
        nodes.start(config, address, port)
    return configs


def changed_per_host(output: str) -> dict[str, int]:
    """Changed tasks per host, from ansible-playbook's play recap."""
    return {
        host: int(changed)
        for host, changed in re.findall(r"^(\w+)\s+: ok=\d+\s+changed=(\d+)", output, re.M)
    }
