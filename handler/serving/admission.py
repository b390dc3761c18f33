"""Admission by memory: a job starts when its estimated peak fits the worker's budget beside the running
ones, in strict arrival order; the others wait and are told their place. A job bigger than the whole
budget is refused on arrival, naming the size that would fit."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from stylize import precision as arithmetic
from stylize import tiles
from stylize.errors import FieldError

from . import memory
from .held import Held
from .request import JobRequest


class Admission:
    def __init__(self, budget_bytes: int, auto: Callable[[], arithmetic.Resolution],
                 device_free: Callable[[], int | None] | None = None, tiling: tiles.TileSettings | None = None) -> None:
        self.budget = budget_bytes
        self.tiling = tiling  # the engine's: a tiled job's estimate follows its tile size
        self.auto = auto  # what precision=auto runs as on this worker
        self.device_free = device_free or (lambda: None)

    def need(self, request: JobRequest) -> int:
        """The job's estimated peak, in the arithmetic it will run in. The job itself keeps precision=auto,
        so the engine can still fall back to fp32 on its own."""
        job = request.job
        mode = arithmetic.resolve(job.params.precision, self.auto())
        need = memory.estimate_bytes(job.params, job.content_wh, job.style_whs, mode, self.tiling)
        if need > self.budget:
            most = memory.largest_size_within(self.budget, job.params, job.content_wh, job.style_whs, mode, self.tiling)
            raise FieldError("size", f"a {job.params.size} px job needs about {need / memory.MIB:.0f} MiB, more than this "
                                     f"worker's memory budget of {self.budget / memory.MIB:.0f} MiB; at most {most} px here")
        return need

    def start_waiting(self, held: Iterable[Held], now: float) -> None:
        """Start what fits, in arrival order: a big job at the head is not overtaken for ever by small ones.
        Waiting jobs whose place changed are told it."""
        held = list(held)
        reserved = reserved_bytes(held)
        position = 0
        for h in held:
            if h.started is not None:
                continue
            if position == 0 and self._fits(h, reserved):
                h.started = now
                reserved += h.need_bytes
                continue
            position += 1
            if h.position_sent != position:
                h.answer.queued(position)
            h.position_sent = position

    def _fits(self, held: Held, reserved: int) -> bool:
        if reserved == 0:
            return True  # alone it fits: it was refused on arrival otherwise
        if reserved + held.need_bytes > self.budget:
            return False
        free = self.device_free()
        return free is None or held.need_bytes <= free


def reserved_bytes(held: Iterable[Held]) -> int:
    return sum(h.need_bytes for h in held if h.started is not None)
