"""After `recstack down local`: no recstack service runs or listens, and data is kept."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from recstack_contract.ports import PORTS as contract_ports

pytestmark = pytest.mark.after_down

# Every port a local service listens on (the contract's).
PORTS = [
    contract_ports.redis,
    contract_ports.kafka,
    contract_ports.triton_http,
    contract_ports.triton_grpc,
    contract_ports.triton_metrics,
]
# Triton's Python-backend stubs show up as "triton_python_b" (names are cut at 15).
PROCESSES = {"redis-server", "tansu", "tritonserver", "triton_python_b"}


def _local_process_names() -> set[str]:
    """Names of processes in this machine's own network namespace (a testbed's hosts run
    the same services in namespaces of their own)."""
    own = os.readlink("/proc/self/ns/net")
    names = set()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and os.readlink(proc / "ns" / "net") == own:
                names.add((proc / "comm").read_text().strip())
        except OSError:  # the process ended meanwhile
            continue
    return names


def test_no_service_process_is_left() -> None:
    left = PROCESSES & _local_process_names()
    assert not left, f"still running after down: {sorted(left)}"


STREAMING_MODULES = (
    b"pipelines.streaming.processor",
    b"pipelines.hugectr.updater",
    b"pipelines.hugectr.trainer",
    b"recstack_serving.hps_rocksdb_updater",
)


def test_no_streaming_service_is_left() -> None:
    # Each is a Python interpreter: known by its module, not its name.
    own = os.readlink("/proc/self/ns/net")
    left = []
    for proc in Path("/proc").iterdir():
        try:
            if (
                proc.name.isdigit()
                and os.readlink(proc / "ns" / "net") == own
                and any(m in (proc / "cmdline").read_bytes() for m in STREAMING_MODULES)
            ):
                left.append(proc.name)
        except OSError:
            continue
    assert not left, f"streaming services still running after down: pids {left}"


@pytest.mark.parametrize("port", PORTS)
def test_nothing_listens_on_the_service_ports(port: int) -> None:
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still accepts connections"


def test_supervisor_programs_are_removed() -> None:
    assert not list(Path("/etc/supervisor/conf.d").glob("recstack-*.conf"))


def test_data_is_kept_for_the_next_up() -> None:
    assert Path("/var/lib/recstack/model_repository/ensemble-model/config.pbtxt").exists()
    assert Path("/var/lib/recstack/redis").is_dir()
