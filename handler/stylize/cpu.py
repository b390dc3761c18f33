"""Process settings that make the optimisation loop cheaper on CPU."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

logger = logging.getLogger(__name__)

# glibc mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
KEEP_BYTES = 1 << 30

_applied: bool | None = None  # None until the first call decides


def keep_freed_memory() -> bool:
    """Keep freed tensor memory in the process instead of handing it back to the kernel.

    By default glibc serves every allocation above 128 KiB-32 MiB with a fresh mmap and unmaps it on
    free, so each iteration page-faults (and the kernel zeroes) new pages for every activation and
    gradient: ~15 % of an iteration at 512 px on a 2-core CPU (docs/benchmarks.md, "Targets"). With these
    thresholds the heap keeps up to the job's peak and iterations reuse it. Resident memory then
    stays at the largest job's peak; it does not grow from job to job. All threads share one heap. Returns whether it applied
    (glibc on Linux only); idempotent.
    """
    global _applied
    if _applied is None:
        _applied = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                _applied = bool(libc.mallopt(M_MMAP_THRESHOLD, KEEP_BYTES)) and bool(libc.mallopt(M_TRIM_THRESHOLD, KEEP_BYTES))
                # one heap for every thread: a kept heap per thread (the stage set-up thread, stylize.run) would hold
                # the set-up's peak beside the steps' own, where the memory model counts the larger of the two
                libc.mallopt(M_ARENA_MAX, 1)
            except (OSError, AttributeError):  # musl or no mallopt: keep the defaults
                _applied = False
        logger.debug("keep freed memory: %s", _applied)
    return _applied


def keep_allocator_defaults() -> None:
    """Make later keep_freed_memory() calls change nothing (benchmarks compare both settings)."""
    global _applied
    if _applied is None:
        _applied = False
