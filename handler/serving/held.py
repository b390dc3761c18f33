"""A job held by one worker, from its arrival to its last chunk: what the scheduler's parts share."""

from __future__ import annotations

from dataclasses import dataclass

from stylize import Run, Stage

from .forms import Answer
from .memory import output_size
from .request import JobRequest
from .results import Keeping


@dataclass(frozen=True)
class Ran:
    """What a run did, kept when its tensors are freed: the server's speed figure learns from it."""
    stages: tuple[Stage, ...]
    busy_s: float  # its own compute time (Run.busy_s)
    tiled: bool  # a stage went tile by tile


@dataclass(eq=False)
class Held:
    request_id: str
    request: JobRequest
    need_bytes: int  # its estimated peak memory (admission reserves this while it runs)
    arrived: float
    answer: Answer
    fault_at: int | None = None  # test hook: fail once the run reaches this iteration
    started: float | None = None  # admitted to run (None: waiting for memory)
    run: Run | None = None  # the engine's run, from its first slice
    answered: bool = False  # its first chunk went out
    position_sent: int | None = None  # the queue position last told to its client
    iteration: int = 0
    error: str | None = None
    error_status: int = 500
    last_advanced: float = 0.0
    # seconds of slices it may still take: a slice's length is added each call, what its slices took is taken off;
    # a job that overran (one tile of a big stage can take seconds) sits out calls until the others caught up
    credit: float = 0.0
    decode_s: float = 0.0
    keeping: Keeping | None = None  # its place in the result store, drawn on arrival
    stages: list[Stage] | None = None  # its plan (a kept job's progress is weighted by it)
    detached: bool = False  # a kept job whose client left: it runs on, answering nobody
    status_position: int | None = None  # the queue position last written to a kept job's status
    has_preview: bool = False  # a kept job's latest snapshot is in the store
    ran: Ran | None = None  # set when its run is freed

    @property
    def kept(self) -> bool:
        return self.keeping is not None and self.keeping.kept

    @property
    def result_id(self) -> str | None:
        return self.keeping.reserved.id if self.keeping is not None else None

    @property
    def done(self) -> bool:
        return self.answer.result is not None or self.error is not None

    @property
    def work_left(self) -> int:
        """Output pixels x iterations still to go: what it will cost from here on."""
        params = self.request.job.params
        w, h = output_size(self.request.job.content_wh, params.size)
        return w * h * (params.iterations - self.iteration)

    def close(self) -> None:
        """Free the run's tensors now (its stage holds the image, targets and L-BFGS history)."""
        if self.run is not None:
            self.ran = Ran(tuple(self.run.stages), self.run.busy_s, self.run.tiled)
            self.run.close()
            self.run = None
