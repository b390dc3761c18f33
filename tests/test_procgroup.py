"""tools/procgroup.end_group: the one way servers are stopped (serve.py, torchserve.py, nginx_render.py)."""

from __future__ import annotations

import subprocess
import sys
import time

from tools.procgroup import end_group, group_alive


def test_end_group_ends_leader_and_children_and_a_term_ignoring_member() -> None:
    # A leader with a child that ignores SIGTERM: TERM ends the leader, KILL has to end the child.
    code = ("import signal, subprocess, sys, time;"
            "subprocess.Popen([sys.executable, '-c', 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)']);"
            "time.sleep(60)")
    leader = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    time.sleep(1.0)
    assert group_alive(leader.pid)
    started = time.monotonic()
    assert end_group(leader.pid, grace_s=2, reap=leader.poll)
    assert not group_alive(leader.pid)
    assert leader.returncode is not None
    assert time.monotonic() - started < 10


def test_end_group_of_a_gone_group_is_quiet() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    proc.wait()
    assert end_group(proc.pid, grace_s=1)
