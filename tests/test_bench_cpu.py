"""The benchmark's CPU accounting reads real processes' times from /proc."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

# benchmarks/ is not part of the installed package: load the module from its file.
_SPEC = importlib.util.spec_from_file_location(
    "benchmark_cpu", Path(__file__).resolve().parents[1] / "benchmarks" / "cpu.py"
)
cpu = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(cpu)

# Busy for about half a second, then idle until stopped (a zombie has no command line to
# match); "tansu" in its command line makes it count as the broker.
BURN = (
    "import time\nend = time.process_time() + 0.5  # tansu\n"
    "while time.process_time() < end: pass\ntime.sleep(60)"
)


def test_a_busy_process_is_counted_by_pid_and_by_its_part() -> None:
    child = subprocess.Popen([sys.executable, "-c", BURN])
    try:
        # Until the child has exec'd, /proc shows the parent's command line, without the mark.
        command = Path(f"/proc/{child.pid}/cmdline")
        while b"tansu" not in command.read_bytes():
            time.sleep(0.01)
        before, started = cpu.snapshot({"child": child.pid}), time.monotonic()
        while cpu.seconds(child.pid) < 0.45:
            time.sleep(0.02)
        used = cpu.shares(before, cpu.snapshot({"child": child.pid}), time.monotonic() - started)
    finally:
        child.kill()
        child.wait(timeout=10)
    assert used["child"] > 20.0
    assert used["broker"] >= used["child"] - 1.0
    assert cpu.seconds(child.pid) is None  # reaped: gone from /proc
