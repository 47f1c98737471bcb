"""Run playbooks through ansible-runner and turn its event stream into progress.

Each run gets a fresh private data directory that is deleted afterwards: ansible-runner
writes the environment, extra variables and every event there, and some of those can
hold secrets.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner

from . import PROJECT_ROOT
from .environments import Environment


@dataclass
class TaskOutcome:
    host: str
    task: str
    status: str  # ok | changed | skipped | failed | unreachable
    message: str = ""


@dataclass
class PlaybookResult:
    playbook: str
    status: str
    duration_s: float
    outcomes: list[TaskOutcome] = field(default_factory=list)

    @property
    def changed(self) -> list[TaskOutcome]:
        return [o for o in self.outcomes if o.status == "changed"]

    @property
    def failed(self) -> list[TaskOutcome]:
        return [o for o in self.outcomes if o.status in ("failed", "unreachable")]

    @property
    def ok(self) -> bool:
        return self.status == "successful" and not self.failed


Progress = Callable[[str, TaskOutcome | None], None]

_STATUS_BY_EVENT = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}
# Loop items are reported as progress only; the task's own event counts once.
_ITEM_STATUS_BY_EVENT = {"runner_item_on_ok": "ok", "runner_item_on_failed": "failed"}


def run_playbook(
    env: Environment,
    playbook: str,
    progress: Progress,
    extravars: dict[str, Any] | None = None,
) -> PlaybookResult:
    """Run playbooks/<playbook> against the environment's inventory.

    progress(kind, outcome) is called with ("play:<play name>", None) when a play starts,
    ("task", outcome) when a task finished on a host, and ("item", outcome) when one item
    of a looping task finished (the task name then ends with the item in brackets).
    """
    outcomes: list[TaskOutcome] = []

    def on_event(event: dict[str, Any]) -> bool:
        data = event.get("event_data", {})
        kind = event.get("event", "")
        if kind == "playbook_on_play_start":
            progress(f"play:{data.get('play', '')}", None)
        is_item = kind in _ITEM_STATUS_BY_EVENT
        status = _ITEM_STATUS_BY_EVENT.get(kind) or _STATUS_BY_EVENT.get(kind)
        if status is None or (_is_include(data) and status != "failed"):
            return True
        res = data.get("res", {})
        if status == "ok" and res.get("changed"):
            status = "changed"
        if status == "failed" and data.get("ignore_errors"):
            status = "ok"
        task = data.get("task", "?")
        if is_item:
            task = f"{task} [{res.get('_ansible_item_label', res.get('item', '?'))}]"
        outcome = TaskOutcome(
            host=data.get("host", "?"),
            task=task,
            status=status,
            message=_failure_message(res) if status in ("failed", "unreachable") else "",
        )
        if not is_item:
            outcomes.append(outcome)
        progress("item" if is_item else "task", outcome)
        return True

    private_dir = Path(tempfile.mkdtemp(prefix="recstack-run-"))
    started = time.monotonic()
    try:
        runner = ansible_runner.run(
            private_data_dir=str(private_dir),
            playbook=str(PROJECT_ROOT / "playbooks" / playbook),
            inventory=[str(path) for path in env.inventories],
            extravars=extravars or {},
            envvars={
                # The ansible-playbook of this interpreter's environment runs the play.
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                "ANSIBLE_CONFIG": str(PROJECT_ROOT / "ansible.cfg"),
                "ANSIBLE_NOCOLOR": "1",
            },
            event_handler=on_event,
            quiet=True,
        )
        status = runner.status
    finally:
        shutil.rmtree(private_dir, ignore_errors=True)
    return PlaybookResult(playbook, status, time.monotonic() - started, outcomes)


def _is_include(data: dict[str, Any]) -> bool:
    """Including tasks or a role is bookkeeping; the included tasks report themselves."""
    action = str(data.get("task_action", ""))
    return action.rsplit(".", 1)[-1] in ("include_tasks", "include_role")


def _failure_message(res: dict[str, Any]) -> str:
    parts = [str(res.get("msg", "")).strip()]
    for stream in ("stderr", "module_stderr"):
        text = str(res.get(stream, "")).strip()
        if text:
            parts.append(text[-1500:])
    return "\n".join(p for p in parts if p)
