"""Frees the jobs of clients that left while nothing else was running.

TorchServe removes a request whose client went away and, when it was the worker's last, stops calling
the handler: the board would hold that job for ever. A thread checks how long ago the last call
returned and drops what is held after ``idle_s``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


def start(drop_idle: Callable[[float], int], idle_s: float, after_drop: Callable[[], None]) -> threading.Thread:
    def watch() -> None:
        while True:
            time.sleep(min(0.25, idle_s / 4))
            try:
                if drop_idle(idle_s):
                    after_drop()
            except Exception:
                logger.warning("watchdog failed", exc_info=True)

    thread = threading.Thread(target=watch, name="abandoned-jobs-watchdog", daemon=True)
    thread.start()
    return thread
