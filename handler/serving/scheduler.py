"""The scheduler: many style-transfer runs held by one worker and advanced a slice at a time.

TorchServe's continuous batching calls the handler again and again with the requests it holds
for a worker; every call must answer every request with one chunk. :class:`Board` is that loop's
state, without any TorchServe import: :meth:`Board.step` takes the requests of one call and
returns one :class:`Chunk` each. A request missing from a call is a client that has gone: its
run is dropped at once and its memory freed. Runs start in arrival order while their estimated
peak memory fits the worker's budget; the others wait inside the worker and, when streamed, say
so with ``{"event": "queued", "position": N}`` lines. What each answer form sends lives in
:mod:`serving.responses`; this module only decides which run advances when.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from stylize import images
from stylize import precision as arithmetic
from stylize.engine import CANCELLED, Engine, Pause, Snapshot, plan
from stylize.errors import FieldError

from . import memory, records, request, responses
from .request import Limits
from .responses import Chunk
from .results import Keeping, Results, ResultsSettings

logger = logging.getLogger(__name__)

FAILED = "failed"


@dataclass(frozen=True)
class SchedulerSettings:
    """model-config.yaml ``handler.scheduler``, typed like :class:`~serving.request.Limits`."""

    slice_s: float = 0.5  # engine time per run per slice
    watchdog_s: float = 1.0  # no call for this long: the held runs' clients have left
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


@dataclass
class Incoming:
    """One request of a call. ``fields`` is empty on every call after a request's first."""

    request_id: str
    fields: dict[str, Any]
    accept: str | None = None
    repeated: frozenset[str] = frozenset()
    fault_at: int | None = None  # test hook: raise once the run reaches this iteration
    delete_token: str | None = None  # X-Delete-Token of a response=delete request


@dataclass(eq=False)
class Run:
    request_id: str
    job: request.Job
    need_bytes: int
    arrived: float
    answer: responses.Answer
    fault_at: int | None = None
    started: float | None = None
    records: Iterator[Snapshot | Pause] | None = None
    answered: bool = False
    position_sent: int | None = None
    iteration: int = 0
    error: str | None = None
    error_status: int = 500
    last_advanced: float = 0.0
    decode_s: float = 0.0
    keeping: Keeping | None = None  # its place in the result store, drawn on arrival

    @property
    def done(self) -> bool:
        return self.answer.result is not None or self.error is not None


class Board:
    """The runs of one worker. Thread-safe: the watchdog calls :meth:`drop_idle` from its own thread."""

    def __init__(self, engine: Engine, limits: Limits, budget_bytes: int, *, slice_s: float = 0.5,
                 call_budget_s: float = 2.0, capabilities: Callable[[], dict[str, Any]] | None = None,
                 device_free: Callable[[], int | None] | None = None,
                 report: Callable[[str, Run | None, str | None], None] | None = None, clock: Callable[[], float] = time.monotonic,
                 results: Results | None = None) -> None:
        self.engine, self.limits, self.budget = engine, limits, budget_bytes
        self.results = results or Results(ResultsSettings(enabled=False))
        self.slice_s, self.call_budget_s = slice_s, call_budget_s
        self.capabilities = capabilities or (lambda: {})
        self.device_free = device_free or (lambda: None)
        self.report = report or (lambda outcome, run, rejected_field: None)
        self.clock = clock
        self.runs: OrderedDict[str, Run] = OrderedDict()  # arrival order
        self.forgotten: OrderedDict[str, str] = OrderedDict()  # dropped while TorchServe may still hold them: id -> response form
        self.lock = threading.Lock()
        self.last_return = clock()

    # -- the serving loop ------------------------------------------------------------------------

    def step(self, incoming: list[Incoming]) -> list[Chunk]:
        with self.lock:
            try:
                return self._step(incoming)
            finally:
                self.last_return = self.clock()

    def _step(self, incoming: list[Incoming]) -> list[Chunk]:
        present = {item.request_id for item in incoming}
        for rid in [rid for rid in self.runs if rid not in present]:
            self._drop(rid, "its client left")
        answers: dict[str, Chunk] = {}
        for item in incoming:
            if item.request_id not in self.runs:
                answer = self._arrive(item)
                if answer is not None:
                    answers[item.request_id] = answer
        self._start_waiting()
        self._advance_running()
        for item in incoming:
            if item.request_id not in answers:
                answers[item.request_id] = self._chunk(self.runs[item.request_id])
        return [answers[item.request_id] for item in incoming]

    def drop_idle(self, idle_s: float) -> int:
        """TorchServe calls again at once while it holds a live request, and stops calling when its
        last client has left. So held runs after ``idle_s`` without a call have nobody waiting."""
        with self.lock:
            if not self.runs or self.clock() - self.last_return < idle_s:
                return 0
            ids = list(self.runs)
            for rid in ids:
                self._drop(rid, f"no call for {idle_s:g} s: its client left")
            return len(ids)

    def counts(self) -> dict[str, int]:
        running = [r for r in self.runs.values() if r.started is not None]
        return {"running": len(running), "waiting": len(self.runs) - len(running),
                "reserved_bytes": sum(r.need_bytes for r in running)}

    # -- arrival ---------------------------------------------------------------------------------

    def _arrive(self, item: Incoming) -> Chunk | None:
        if not item.fields and item.request_id in self.forgotten:
            form = self.forgotten.pop(item.request_id)
            return responses.for_form(form).fail("the server dropped this job; submit it again", 500, first=False)
        started = self.clock()
        try:
            question = request.asks(item.fields)
            if question == request.CAPABILITIES:
                return responses.capabilities(self.capabilities())
            if question == request.DELETE:
                asked = request.parse_delete(item.fields, item.delete_token)
                status, body = self.results.delete(asked.result_id, asked.token)
                return responses.document(body, status)
            if question == request.PLAN:
                asked = request.parse_plan(item.fields, self.limits)
                return responses.plan(plan(asked.params, asked.content_wh))
            job = request.parse(item.fields, item.accept, self.limits, item.repeated,
                                network=getattr(self.engine, "network", None))
            # auto -> this worker's mode, so admission sizes the job by the bytes it will really use
            job = replace(job, params=replace(job.params, precision=arithmetic.resolve(job.params.precision, self.engine.auto)))
            need = memory.estimate_bytes(job.params, job.content.size, [s.size for s in job.styles])
            if need > self.budget:
                most = memory.largest_size_within(self.budget, job.params, job.content.size, [s.size for s in job.styles])
                raise FieldError("size", f"a {job.params.size} px job needs about {need / memory.MIB:.0f} MiB, more than this "
                                           f"worker's memory budget of {self.budget / memory.MIB:.0f} MiB; at most {most} px here")
        except FieldError as err:
            self.report("rejected", None, err.field)
            return responses.refusal(err)
        answer = responses.for_form(job.response)
        answer.planned(plan(job.params, job.content.size))
        run = Run(item.request_id, job, need, arrived=started, answer=answer, fault_at=item.fault_at,
                  decode_s=self.clock() - started, keeping=self.results.reserve(job.store))
        self.runs[item.request_id] = run
        return None

    def _start_waiting(self) -> None:
        """Strict arrival order: a big run at the head is not overtaken for ever by small ones."""
        reserved = self.counts()["reserved_bytes"]
        position = 0
        for run in self.runs.values():
            if run.started is not None:
                continue
            if position == 0 and self._fits(run, reserved):
                run.started = self.clock()
                reserved += run.need_bytes
                continue
            position += 1
            if run.position_sent != position:
                run.answer.queued(position)
            run.position_sent = position

    def _fits(self, run: Run, reserved: int) -> bool:
        if reserved == 0:
            return True  # alone it fits: it was refused on arrival otherwise
        if reserved + run.need_bytes > self.budget:
            return False
        free = self.device_free()
        return free is None or run.need_bytes <= free

    # -- advancing -------------------------------------------------------------------------------

    def _advance_running(self) -> None:
        """One slice per running run, least recently advanced first, until the call's time is used;
        the run with the least work left gets a second slice (shortest remaining work first), so a
        preview beside a print takes about two thirds of the device instead of half."""
        began = self.clock()
        running = sorted((r for r in self.runs.values() if r.started is not None and not r.done), key=lambda r: r.last_advanced)
        shortest = min(running, key=_work_left, default=None)
        for i, run in enumerate(running):
            if i and self.clock() - began >= self.call_budget_s:
                break  # the rest go first next call
            self._advance(run)
            if run is shortest and len(running) > 1 and not run.done:
                self._advance(run)
            run.last_advanced = self.clock()

    def _advance(self, run: Run) -> None:
        job = run.job
        try:
            if run.records is None:
                run.records = self.engine.run(job.content, job.styles, job.params, pause_every_s=self.slice_s, **job.engine_kwargs())
            for record in run.records:
                if run.fault_at is not None and record.iteration >= run.fault_at:
                    raise RuntimeError(f"injected fault at iteration {record.iteration} (test hook)")
                run.iteration = record.iteration
                if isinstance(record, Pause):
                    return
                if record.final:
                    self._finish(run, record)
                    return
                run.answer.snapshot(record)
                if run.keeping is not None:
                    run.keeping.snapshot(record)
                return
        except MemoryError:
            self._fail(run, "out of memory while running this job; try a smaller size", 507)
        except Exception as exc:
            if "out of memory" in str(exc).lower():
                self._fail(run, "out of memory on the device while running this job; try a smaller size", 507)
            else:
                logger.exception("style transfer failed (request %s)", run.request_id)
                self._fail(run, "style transfer failed; see the server log", 500)

    def _finish(self, run: Run, final: Snapshot) -> None:
        png = images.encode(final.image, records.FINAL_FORMAT)
        self._close(run)
        now = self.clock()
        timings = {"decode_s": run.decode_s, "queued_s": (run.started or now) - run.arrived, "optimise_s": final.elapsed_s,
                   "total_s": now - run.arrived,
                   "iterations_per_s": final.iteration / final.elapsed_s if final.elapsed_s > 0 else 0.0}
        done = records.done_record(final, png, run.job.params, timings)
        if run.keeping is not None:  # completed or stopped by its time budget: a result worth keeping
            job = run.job
            done.update(self.results.keep(run.keeping, done, png, content=job.content if job.store_inputs else None,
                                          styles=job.styles if job.store_inputs else (), regions=bool(job.engine_kwargs()),
                                          weights_label=getattr(self.engine.info, "label", None)))
        run.answer.finish(done, png)
        self.report(final.stopped or "completed", run, None)

    def _fail(self, run: Run, message: str, status: int) -> None:
        run.error, run.error_status = message, status
        self._close(run)
        self.report(FAILED, run, None)

    # -- answers ---------------------------------------------------------------------------------

    def _chunk(self, run: Run) -> Chunk:
        first = not run.answered
        run.answered = True
        if run.error is not None:
            del self.runs[run.request_id]
            return run.answer.fail(run.error, run.error_status, first)
        last = run.answer.result is not None
        if last:
            del self.runs[run.request_id]
        # The link goes out with the first chunk (a png answer's headers leave before its job ends).
        headers = run.keeping.reserved.headers() if first and run.keeping is not None else {}
        return Chunk(run.answer.take(), first=first, last=last, content_type=run.answer.content_type, headers=headers)

    # -- ending ----------------------------------------------------------------------------------

    def _drop(self, rid: str, why: str) -> None:
        run = self.runs.pop(rid)
        self._close(run)
        self.forgotten[rid] = run.job.response
        while len(self.forgotten) > 256:
            self.forgotten.popitem(last=False)
        logger.info("dropped job %s (%s, iteration %d of %d): %s", rid, "running" if run.started else "waiting",
                    run.iteration, run.job.params.iterations, why)
        self.report(CANCELLED, run, None)

    @staticmethod
    def _close(run: Run) -> None:
        """Free the run's tensors now (its generator's frame holds the image and L-BFGS history)."""
        if run.records is not None:
            run.records.close()  # type: ignore[attr-defined]
            run.records = None


def _work_left(run: Run) -> int:
    """Output pixels x iterations still to go: what a run will cost from here on."""
    w, h = memory.output_size(run.job.content.size, run.job.params.size)
    return w * h * (run.job.params.iterations - run.iteration)
