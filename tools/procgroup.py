"""Ending a server started with start_new_session=True: its whole process group, TERM then KILL.

One helper for tools/serve.py, tools/torchserve.py and deploy/nginx_render.py, so "stop" means the
same everywhere (TorchServe's Python workers and nginx's workers share their master's group).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, but not ours
    return True


def end_group(pgid: int, grace_s: float = 10.0, reap: Callable[[], object] | None = None) -> bool:
    """SIGTERM the group, SIGKILL it when it outlives ``grace_s``; True once no member is left.

    ``reap`` (e.g. ``Popen.poll``) collects the leader when it is this process's child: an
    unreaped zombie still counts as a member of its group."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            return not _alive(pgid, reap)
        deadline = time.monotonic() + grace_s
        while _alive(pgid, reap) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _alive(pgid, reap):
            return True
    return not _alive(pgid, reap)


def _alive(pgid: int, reap: Callable[[], object] | None) -> bool:
    if reap is not None:
        reap()
    return group_alive(pgid)
