"""The scheduler: many style-transfer jobs held by one worker and advanced a slice at a time.

TorchServe's continuous batching calls the handler again and again with the requests it holds for a
worker; every call must answer every request with one chunk. :class:`Board` is that loop's state,
without any TorchServe import: :meth:`Board.step` takes the requests of one call and returns one
:class:`~serving.responses.Chunk` each. A request missing from a call is a client that has gone: its job
is dropped at once and its memory freed, unless it is a kept job (``keep=true``): that one is detached
and runs on, answering nobody, its progress written to the shared store (:mod:`~serving.kept`).

TorchServe calls the handler only while it holds requests, so a kept job alone would never advance:
:meth:`Board.advance_unattended`, called from the worker's own thread (:mod:`~serving.watchdog`) when no
call is under way, gives the detached jobs the same slices a call would. One lock orders both: the
engine is only ever stepped by one thread at a time.

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

from stylize import CANCELLED, Engine, Snapshot

from .admission import Admission, reserved_bytes
from .dispatch import Dispatch, Incoming
from .finishing import Finisher
from .held import Held
from .kept import percent_done
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
        self.results = results
        self.held: OrderedDict[str, Held] = OrderedDict()  # arrival order
        self.lock = threading.Lock()
        self.last_return = clock()
        self.calls_waiting = 0  # TorchServe calls waiting for the lock: the unattended thread gives way
        self.kept_ids: tuple[str, ...] = ()  # result ids of the kept jobs held (read lock-free by the heartbeat)

    @property
    def budget(self) -> int:
        return self.admission.budget

    # -- the serving loop ------------------------------------------------------------------------

    def step(self, incoming: list[Incoming]) -> list[Chunk]:
        self.calls_waiting += 1
        with self.lock:
            self.calls_waiting -= 1
            try:
                return self._step(incoming)
            finally:
                self.last_return = self.clock()
                self._note_kept()

    def _step(self, incoming: list[Incoming]) -> list[Chunk]:
        present = {item.request_id for item in incoming}
        for rid in [rid for rid, h in self.held.items() if rid not in present and not h.detached]:
            self._leave(rid, "its client left")
        answers: dict[str, Chunk] = {}
        for item in incoming:
            held = self.held.get(item.request_id)
            if held is None:
                arrived = self.dispatch.arrive(item)
                if isinstance(arrived, Held):
                    self.held[item.request_id] = arrived
                else:
                    answers[item.request_id] = arrived
            elif held.detached:  # TorchServe still held it after all (a call came late): answer it again
                held.detached = False
        self._advance_all()
        for item in incoming:
            if item.request_id not in answers:
                answers[item.request_id] = self._chunk(self.held[item.request_id])
        return [answers[item.request_id] for item in incoming]

    def _advance_all(self) -> None:
        """One call's work: cancel what its owner cancelled, start what fits, one slice per running job
        in the slice policy's order; then let go of detached jobs that ended."""
        self._cancel_marked()
        self.admission.start_waiting([h for h in self.held.values() if not h.done], self.clock())
        self._note_positions()
        running = [h for h in self.held.values() if h.started is not None and not h.done]
        for held in self.slices.turns(running):
            self._advance(held)
        for rid in [rid for rid, h in self.held.items() if h.detached and h.done]:
            ended = self.held.pop(rid)
            ended.close()
            self.dispatch.forget(ended)  # should TorchServe still call with it, it gets a proper ending

    def advance_unattended(self) -> bool:
        """Advance the detached kept jobs by one call's slices when TorchServe is not calling (it holds
        none of their requests any more). Gives way to any call that is waiting. True if it worked."""
        if self.calls_waiting or not self.held:
            return False
        with self.lock:
            if self.calls_waiting or not self.held or not all(h.detached for h in self.held.values()):
                return False
            try:
                self._advance_all()
            finally:
                self._note_kept()
            return True

    def drop_idle(self, idle_s: float) -> int:
        """TorchServe calls again at once while it holds a live request, and stops calling when its
        last client has left. So held jobs after ``idle_s`` without a call have nobody waiting: an
        interactive job is dropped, a kept one detached (it runs on). Returns how many were dropped."""
        if self.calls_waiting:
            return 0
        with self.lock:
            if self.calls_waiting or self.clock() - self.last_return < idle_s:
                return 0
            ids = [rid for rid, h in self.held.items() if not h.detached]
            dropped = 0
            for rid in ids:
                dropped += self._leave(rid, f"no call for {idle_s:g} s: its client left")
            self._note_kept()
            return dropped

    def counts(self) -> dict[str, int]:
        held = list(self.held.values())
        running = sum(h.started is not None for h in held)
        return {"running": running, "waiting": len(held) - running, "reserved_bytes": reserved_bytes(held),
                "kept": sum(h.kept for h in held), "detached": sum(h.detached for h in held)}

    # -- advancing -------------------------------------------------------------------------------

    def _advance(self, held: Held) -> None:
        """One slice of the engine's time for ``held``; its snapshots go to its answer (and the store)."""
        try:
            if held.run is None:
                held.run = self.engine.start(held.request.job)
            latest: Snapshot | None = None
            for snap in held.run.step(self.slice_s):
                if held.fault_at is not None and snap.iteration >= held.fault_at:
                    raise RuntimeError(f"injected fault at iteration {snap.iteration} (test hook)")
                held.iteration = snap.iteration
                if snap.final:
                    done = self.finisher.finish(held, snap)
                    self.report(snap.stopped or "completed", held, None)
                    self._kept_ended(held, done)
                    return
                if not held.detached:
                    held.answer.snapshot(snap)
                if held.keeping is not None:
                    held.keeping.snapshot(snap)
                latest = snap
            held.iteration = held.run.iteration
            if held.fault_at is not None and held.iteration >= held.fault_at:
                raise RuntimeError(f"injected fault at iteration {held.iteration} (test hook)")
            self._kept_progress(held, latest)
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
        self._kept_status(held, "failed", message=message)

    # -- kept jobs: their status in the shared store ---------------------------------------------

    def _kept_status(self, held: Held, state: str, **fields: Any) -> None:
        kept = self.results.kept
        if held.kept and kept is not None and held.result_id is not None:
            params = held.request.job.params
            kept.write_status(held.result_id, {"state": state, "iterations": params.iterations,
                                               "plan": [{"size": list(st.size), "iterations": st.iterations} for st in held.stages or []],
                                               **fields})

    def _kept_progress(self, held: Held, snap: Snapshot | None) -> None:
        """Stage, %, ETA (and the latest snapshot as the preview) after a slice of a kept job."""
        kept = self.results.kept
        if not held.kept or kept is None or held.result_id is None or held.done:
            return
        if snap is not None:
            kept.preview(held.result_id, snap)
            held.has_preview = True
        percent = percent_done(held.stages or [], held.iteration)
        running_s = self.clock() - (held.started or held.arrived)
        eta = running_s * (100.0 - percent) / percent if percent > 0 else None
        run = held.run
        self._kept_status(held, "running", iteration=held.iteration, stage=run.stage if run is not None else 1,
                          stages=len(held.stages or []), percent=round(percent, 1), elapsed_s=round(running_s, 2),
                          eta_s=round(eta, 1) if eta is not None else None,
                          preview=f"/results/{held.result_id}/preview.jpg" if held.has_preview else None,
                          attached=not held.detached)

    def _kept_ended(self, held: Held, done: dict[str, Any]) -> None:
        if "result" in done:
            self._kept_status(held, "done", iteration=done.get("iteration"), percent=100.0, stopped=done.get("stopped"),
                              result=done["result"], elapsed_s=done.get("timings", {}).get("total_s"))
        else:
            self._kept_status(held, "failed", message=done.get("warning", "the result could not be stored"))

    def _note_positions(self) -> None:
        for held in self.held.values():
            if held.kept and held.started is None and held.position_sent != held.status_position:
                held.status_position = held.position_sent
                self._kept_status(held, "waiting", position=held.position_sent, percent=0.0)

    def _cancel_marked(self) -> None:
        """Kept jobs whose owner cancelled them (a marker any worker may have written) end now."""
        kept = self.results.kept
        if kept is None:
            return
        for held in self.held.values():
            if held.kept and not held.done and held.result_id is not None and kept.cancel_requested(held.result_id):
                self.finisher.fail(held, "cancelled with its cancel token", 409)
                self.report(CANCELLED, held, None)
                self._kept_status(held, "cancelled", iteration=held.iteration)
                kept.forget_marker(held.result_id)
                logger.info("kept job %s (result %s) cancelled by its owner at iteration %d", held.request_id,
                            held.result_id, held.iteration)

    def _note_kept(self) -> None:
        self.kept_ids = tuple(h.result_id for h in self.held.values() if h.kept and not h.done and h.result_id)

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
        headers = held.keeping.headers() if first and held.keeping is not None else {}
        return Chunk(held.answer.take(), first=first, last=last, content_type=held.answer.content_type, headers=headers)

    def _leave(self, rid: str, why: str) -> int:
        """A held job's client left: a kept job is detached (1 if dropped, 0 if detached)."""
        held = self.held[rid]
        if held.kept and not held.done:
            held.detached = True
            held.answer.take()  # what a stream had not yet sent goes nowhere now
            logger.info("kept job %s (result %s) runs on without its client (%s)", rid, held.result_id, why)
            return 0
        if held.kept:  # ended, its status written: nothing more to do
            self.held.pop(rid).close()
            return 0
        self._drop(rid, why)
        return 1

    def _drop(self, rid: str, why: str) -> None:
        held = self.held.pop(rid)
        held.close()
        self.dispatch.forget(held)
        logger.info("dropped job %s (%s, iteration %d of %d): %s", rid, "running" if held.started else "waiting",
                    held.iteration, held.request.job.params.iterations, why)
        self.report(CANCELLED, held, None)
