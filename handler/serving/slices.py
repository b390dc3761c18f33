"""Which running job advances next within one TorchServe call.

One slice per running job, least recently advanced first, until the call's time is used; the job with
the least work left gets a second slice (shortest remaining work first), so a preview beside a print
takes about two thirds of the device instead of half. The jobs not reached go first next call."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .held import Held


class SlicePolicy:
    def __init__(self, slice_s: float, call_budget_s: float, clock: Callable[[], float]) -> None:
        self.slice_s, self.call_budget_s, self.clock = slice_s, call_budget_s, clock

    def turns(self, running: list[Held]) -> Iterator[Held]:
        """The jobs to advance by one slice each, in order; ask again after each (the clock decides when
        the call's time is up)."""
        began = self.clock()
        order = sorted(running, key=lambda h: h.last_advanced)
        shortest = min(order, key=lambda h: h.work_left, default=None)
        for i, held in enumerate(order):
            if i and self.clock() - began >= self.call_budget_s:
                return
            yield held
            if held is shortest and len(order) > 1 and not held.done:
                yield held
            held.last_advanced = self.clock()
