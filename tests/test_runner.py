"""Playbook runs through ansible-runner: outcomes and progress come from real events, and
the private data directory (which holds extra vars) does not outlive the run."""

from __future__ import annotations

import tempfile
from pathlib import Path

from recstack.environments import get
from recstack.runner import TaskOutcome, run_playbook

PLAYBOOK = """
- name: Probe play
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Something that changes
      ansible.builtin.command: "true"
      changed_when: true
    - name: Something that does not
      ansible.builtin.command: "true"
      changed_when: false
    - name: A loop
      ansible.builtin.debug:
        msg: "{{ item }}"
      loop: [first, second]
    - name: A skipped task
      ansible.builtin.debug:
        msg: never
      when: false
    - name: Use an extra var
      ansible.builtin.command: "echo {{ token }}"
      changed_when: false
"""


def test_outcomes_and_progress_follow_the_events(tmp_path: Path) -> None:
    playbook = tmp_path / "probe.yml"
    playbook.write_text(PLAYBOOK)
    seen: list[tuple[str, TaskOutcome | None]] = []
    before = set(Path(tempfile.gettempdir()).glob("recstack-run-*"))
    result = run_playbook(
        get("local"), str(playbook), lambda k, o: seen.append((k, o)), {"token": "s3cret"}
    )

    assert result.ok
    by_task = {o.task: o.status for o in result.outcomes}
    assert by_task == {
        "Something that changes": "changed",
        "Something that does not": "ok",
        "A loop": "ok",
        "A skipped task": "skipped",
        "Use an extra var": "ok",
    }
    assert [o.task for o in result.changed] == ["Something that changes"]
    assert ("play:Probe play", None) in seen
    items = [o.task for kind, o in seen if kind == "item"]
    assert items == ["A loop [first]", "A loop [second]"]
    assert set(Path(tempfile.gettempdir()).glob("recstack-run-*")) == before


def test_a_failing_task_is_reported_with_its_message(tmp_path: Path) -> None:
    playbook = tmp_path / "fail.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: Fail clearly\n      ansible.builtin.fail:\n        msg: the broker is gone\n"
    )
    result = run_playbook(get("local"), str(playbook), lambda k, o: None)
    assert not result.ok
    assert [(o.task, o.message) for o in result.failed] == [("Fail clearly", "the broker is gone")]


def test_includes_are_not_reported_but_their_tasks_are(tmp_path: Path) -> None:
    (tmp_path / "inner.yml").write_text(
        "- name: Inner {{ item }}\n  ansible.builtin.command: 'true'\n  changed_when: false\n"
    )
    playbook = tmp_path / "outer.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: Include inner\n      ansible.builtin.include_tasks: inner.yml\n"
        "      loop: [a, b]\n"
    )
    result = run_playbook(get("local"), str(playbook), lambda k, o: None)
    assert result.ok
    assert [o.task for o in result.outcomes] == ["Inner a", "Inner b"]
