"""tools/procgroup.end_group: the one way servers are stopped (serve.py, torchserve.py, nginx_render.py)."""

from __future__ import annotations

import subprocess
import sys

from tools.procgroup import end_group, group_alive


def test_end_group_ends_leader_and_children_and_a_term_ignoring_member() -> None:
    # A leader with a child that ignores SIGTERM: TERM ends the leader, KILL has to end the child.
    # The child says when its SIGTERM handler is set, the leader passes that on: an event, not a sleep.
    code = ("import signal, subprocess, sys, time;"
            "child = subprocess.Popen([sys.executable, '-c', 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(1, flush=True); time.sleep(60)'], stdout=subprocess.PIPE);"
            "child.stdout.readline(); print('ready', flush=True);"
            "time.sleep(60)")
    leader = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdout=subprocess.PIPE, text=True)
    assert leader.stdout is not None and leader.stdout.readline().strip() == "ready"
    assert group_alive(leader.pid)
    assert end_group(leader.pid, grace_s=2, reap=leader.poll)
    assert not group_alive(leader.pid)
    assert leader.returncode is not None


def test_end_group_of_a_gone_group_is_quiet() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    proc.wait()
    assert end_group(proc.pid, grace_s=1)
