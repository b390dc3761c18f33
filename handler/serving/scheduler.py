"""The scheduler: many style-transfer jobs held by one worker and advanced a slice at a time.

TorchServe's continuous batching calls the handler again and again with the requests it holds for a
worker; every call must answer every request with one chunk. :class:`Board` is that loop's state,
without any TorchServe import: :meth:`Board.step` takes the requests of one call and returns one
:class:`~serving.responses.Chunk` each. A request missing from a call is a client that has gone: its job
is dropped at once and its memory freed.

The parts, each its own module: :mod:`~serving.dispatch` (a request's first call: questions, refusals,
new jobs), :mod:`~serving.admission` (which jobs may run, by memory), :mod:`~serving.slices` (which
running job advances next), :mod:`~serving.finishing` (the PNG, the done record, the result store), and
the answer forms (:mod:`serving.forms`). This module only wires them to the engine's runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from stylize import CANCELLED, Engine

from .admission import Admission, reserved_bytes
from .dispatch import Dispatch, Incoming
from .finishing import Finisher
from .held import Held
from .request import Limits
from .responses import Chunk
from .results import Results, ResultsSettings
from .slices import SlicePolicy

logger = logging.getLogger(__name__)

FAILED = "failed"
__all__ = ["FAILED", "Board", "Held", "Incoming", "SchedulerSettings"]


@dataclass(frozen=True)
class SchedulerSettings:
    """model-config.yaml ``handler.scheduler``, typed like :class:`~serving.request.Limits`."""

    slice_s: float = 0.5  # engine time per job per slice
    watchdog_s: float = 1.0  # no call for this long: the held jobs' clients have left
    call_budget_s: float | None = None  # engine time per TorchServe call; default 4 slices
    memory_budget_mb: Mapping[str, Any] = field(default_factory=dict)  # per device type: MiB or "auto"

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> SchedulerSettings:
        known = {f.name for f in fields(cls)}
        values = dict(values or {})
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown scheduler setting(s) in model-config.yaml: {', '.join(unknown)}")
        budget = values.pop("memory_budget_mb", None) or {}
        if not isinstance(budget, Mapping):
            raise ValueError(f"scheduler memory_budget_mb must map device types to MiB or auto, got {budget!r}")
        floats = {k: float(v) for k, v in values.items() if v is not None}
        for name, value in floats.items():
            if not value > 0:
                raise ValueError(f"scheduler {name} must be positive, got {value:g}")
        return cls(**floats, memory_budget_mb=dict(budget))

    @property
    def call_s(self) -> float:
        return self.call_budget_s if self.call_budget_s is not None else 4 * self.slice_s


class Board:
    """The jobs of one worker. Thread-safe: the watchdog calls :meth:`drop_idle` from its own thread."""

    def __init__(self, engine: Engine, limits: Limits, budget_bytes: int, *, slice_s: float = 0.5,
                 call_budget_s: float = 2.0, capabilities: Callable[[], dict[str, Any]] | None = None,
                 device_free: Callable[[], int | None] | None = None,
                 report: Callable[[str, Held | None, str | None], None] | None = None, clock: Callable[[], float] = time.monotonic,
                 results: Results | None = None) -> None:
        self.engine, self.slice_s, self.clock = engine, slice_s, clock
        self.report = report or (lambda outcome, held, rejected_field: None)
        results = results or Results(ResultsSettings(enabled=False))
        self.admission = Admission(budget_bytes, lambda: engine.auto, device_free, getattr(engine, "tiling", None))
        self.dispatch = Dispatch(limits, getattr(engine, "network", None), self.admission, results,
                                 capabilities or (lambda: {}), self.report, clock)
        self.slices = SlicePolicy(slice_s, call_budget_s, clock)
        self.finisher = Finisher(results, getattr(engine.info, "label", None), clock)
        self.held: OrderedDict[str, Held] = OrderedDict()  # arrival order
        self.lock = threading.Lock()
        self.last_return = clock()

    @property
    def budget(self) -> int:
        return self.admission.budget

    # -- the serving loop ------------------------------------------------------------------------

    def step(self, incoming: list[Incoming]) -> list[Chunk]:
        with self.lock:
            try:
                return self._step(incoming)
            finally:
                self.last_return = self.clock()

    def _step(self, incoming: list[Incoming]) -> list[Chunk]:
        present = {item.request_id for item in incoming}
        for rid in [rid for rid in self.held if rid not in present]:
            self._drop(rid, "its client left")
        answers: dict[str, Chunk] = {}
        for item in incoming:
            if item.request_id not in self.held:
                arrived = self.dispatch.arrive(item)
                if isinstance(arrived, Held):
                    self.held[item.request_id] = arrived
                else:
                    answers[item.request_id] = arrived
        self.admission.start_waiting(self.held.values(), self.clock())
        running = [h for h in self.held.values() if h.started is not None and not h.done]
        for held in self.slices.turns(running):
            self._advance(held)
        for item in incoming:
            if item.request_id not in answers:
                answers[item.request_id] = self._chunk(self.held[item.request_id])
        return [answers[item.request_id] for item in incoming]

    def drop_idle(self, idle_s: float) -> int:
        """TorchServe calls again at once while it holds a live request, and stops calling when its
        last client has left. So held jobs after ``idle_s`` without a call have nobody waiting."""
        with self.lock:
            if not self.held or self.clock() - self.last_return < idle_s:
                return 0
            ids = list(self.held)
            for rid in ids:
                self._drop(rid, f"no call for {idle_s:g} s: its client left")
            return len(ids)

    def counts(self) -> dict[str, int]:
        held = list(self.held.values())
        running = sum(h.started is not None for h in held)
        return {"running": running, "waiting": len(held) - running, "reserved_bytes": reserved_bytes(held)}

    # -- advancing -------------------------------------------------------------------------------

    def _advance(self, held: Held) -> None:
        """One slice of the engine's time for ``held``; its snapshots go to its answer (and the store)."""
        try:
            if held.run is None:
                held.run = self.engine.start(held.request.job)
            for snap in held.run.step(self.slice_s):
                if held.fault_at is not None and snap.iteration >= held.fault_at:
                    raise RuntimeError(f"injected fault at iteration {snap.iteration} (test hook)")
                held.iteration = snap.iteration
                if snap.final:
                    self.finisher.finish(held, snap)
                    self.report(snap.stopped or "completed", held, None)
                    return
                held.answer.snapshot(snap)
                if held.keeping is not None:
                    held.keeping.snapshot(snap)
            held.iteration = held.run.iteration
            if held.fault_at is not None and held.iteration >= held.fault_at:
                raise RuntimeError(f"injected fault at iteration {held.iteration} (test hook)")
        except MemoryError:
            self._fail(held, "out of memory while running this job; try a smaller size", 507)
        except Exception as exc:
            if "out of memory" in str(exc).lower():
                self._fail(held, "out of memory on the device while running this job; try a smaller size", 507)
            else:
                logger.exception("style transfer failed (request %s)", held.request_id)
                self._fail(held, "style transfer failed; see the server log", 500)

    def _fail(self, held: Held, message: str, status: int) -> None:
        self.finisher.fail(held, message, status)
        self.report(FAILED, held, None)

    # -- answers ---------------------------------------------------------------------------------

    def _chunk(self, held: Held) -> Chunk:
        first = not held.answered
        held.answered = True
        if held.error is not None:
            del self.held[held.request_id]
            return held.answer.fail(held.error, held.error_status, first)
        last = held.answer.result is not None
        if last:
            del self.held[held.request_id]
        # The link goes out with the first chunk (a png answer's headers leave before its job ends).
        headers = held.keeping.reserved.headers() if first and held.keeping is not None else {}
        return Chunk(held.answer.take(), first=first, last=last, content_type=held.answer.content_type, headers=headers)

    def _drop(self, rid: str, why: str) -> None:
        held = self.held.pop(rid)
        held.close()
        self.dispatch.forget(held)
        logger.info("dropped job %s (%s, iteration %d of %d): %s", rid, "running" if held.started else "waiting",
                    held.iteration, held.request.job.params.iterations, why)
        self.report(CANCELLED, held, None)
