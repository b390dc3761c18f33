"""A finished job becomes its answer: the PNG, the done record with its timings, and its place in the
result store when the sender wanted it kept; a failed job its error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stylize import Snapshot, images

from . import records
from .held import Held
from .results import Results


class Finisher:
    def __init__(self, results: Results, weights_label: str | None, clock: Callable[[], float]) -> None:
        self.results, self.weights_label, self.clock = results, weights_label, clock

    def finish(self, held: Held, final: Snapshot) -> dict[str, Any]:
        """Returns the done record (with ``result`` when stored, ``warning`` when not; a stored big picture by its
        link, ``image_link``, not as base64)."""
        png = images.encode(final.image, records.FINAL_FORMAT)
        held.close()
        now = self.clock()
        timings = {"decode_s": held.decode_s, "queued_s": (held.started or now) - held.arrived, "optimise_s": final.elapsed_s,
                   "total_s": now - held.arrived,
                   "iterations_per_s": final.iteration / final.elapsed_s if final.elapsed_s > 0 else 0.0}
        request = held.request
        done = records.done_record(final, png, request.job.params, timings)
        if held.keeping is not None:  # completed or stopped by its time budget: a result worth keeping
            job = request.job
            done.update(self.results.keep(held.keeping, done, png, content=job.content if request.store_inputs else None,
                                          styles=job.styles if request.store_inputs else (), regions=job.regions is not None,
                                          weights_label=self.weights_label))
            done = records.linked(done)  # stored and big: the stream's done line links it
        held.answer.finish(done, png)
        return done

    @staticmethod
    def fail(held: Held, message: str, status: int) -> None:
        held.error, held.error_status = message, status
        held.close()
