"""CPU time per part of the system during a run, from /proc: what the event load costs
each process that shares the machine's cores.

Only processes visible in this machine's /proc are counted, so on `local` every part is;
on an environment whose hosts are elsewhere a part may be missing (reported as absent).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

# A part of the system, and what its processes' command lines contain.
PARTS: Mapping[str, tuple[str, ...]] = {
    "broker": ("tansu",),
    "stream_processor": ("pipelines.streaming.processor",),
    "redis": ("redis-server",),
    # The server and its Python-backend stubs (their path holds "tritonserver" too).
    "triton": ("tritonserver",),
}
_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def seconds(pid: int | str) -> float | None:
    """User plus system CPU seconds a process has used; None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # Fields after the command name, which is in parentheses and may hold spaces.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_S


def snapshot(pids: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds so far of each part in PARTS (summed over its processes) and of each
    named pid in `pids`."""
    totals: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        part = next((p for p, marks in PARTS.items() if any(m in command for m in marks)), None)
        used = None if part is None else seconds(entry.name)
        if used is not None:
            totals[part] = totals.get(part, 0.0) + used
    for name, pid in pids.items():
        used = seconds(pid)
        if used is not None:
            totals[name] = used
    return totals


def shares(before: Mapping[str, float], after: Mapping[str, float], wall_s: float) -> dict:
    """Percent of one core each part used between two snapshots (parts in both)."""
    return {
        name: round(100.0 * (after[name] - before[name]) / wall_s, 1)
        for name in sorted(before)
        if name in after
    }
