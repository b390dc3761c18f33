"""The worker's own thread: frees the jobs of clients that left, and advances kept jobs nobody calls for.

TorchServe removes a request whose client went away and, when it was the worker's last, stops calling
the handler: the board would hold that job for ever. A thread checks how long ago the last call
returned and, after ``idle_s``, drops the interactive jobs held and detaches the kept ones. TorchServe
then has nothing to call the handler for, so the same thread advances the detached kept jobs itself
(``advance``: one call's slices under the board's lock, giving way to any call that arrives).

Why a thread is safe here: TorchServe 0.12's Python worker (ts/model_service_worker.py,
``handle_connection``) is one loop on the main thread that blocks in ``recv`` on the frontend's socket
between calls and runs ``service.predict`` (our ``handle``) synchronously; nothing else in the process
touches the model. Blocking ``recv`` releases the GIL, so this thread runs while the worker waits, and
the board's lock keeps it off the engine while a call runs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

GIVE_WAY_S = 0.005  # between unattended slices: a call that arrived takes the lock first


def start(drop_idle: Callable[[float], int], idle_s: float, after_drop: Callable[[], None],
          advance: Callable[[], bool] | None = None) -> threading.Thread:
    def watch() -> None:
        while True:
            try:
                if advance is not None and advance():
                    time.sleep(GIVE_WAY_S)
                    continue
            except Exception:
                logger.warning("advancing kept jobs failed", exc_info=True)
            time.sleep(min(0.25, idle_s / 4))
            try:
                if drop_idle(idle_s):
                    after_drop()
            except Exception:
                logger.warning("watchdog failed", exc_info=True)

    thread = threading.Thread(target=watch, name="abandoned-jobs-watchdog", daemon=True)
    thread.start()
    return thread
