"""A request's first call: a question answered at once (capabilities, plan, delete), a job refused with
the field to fix, or a job taken on (parsed, sized for admission, given its place in the result store)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stylize import plan
from stylize.errors import FieldError

from . import forms, request, responses, speed
from .admission import Admission
from .held import Held
from .request import Limits
from .responses import Chunk
from .results import Results

FORGET_AFTER = 256  # dropped requests remembered, in case TorchServe calls with them again


@dataclass
class Incoming:
    """One request of a call. ``fields`` is empty on every call after a request's first."""

    request_id: str
    fields: dict[str, Any]
    accept: str | None = None
    repeated: frozenset[str] = frozenset()
    fault_at: int | None = None  # test hook: raise once the run reaches this iteration
    delete_token: str | None = None  # X-Delete-Token of a response=delete request


class Dispatch:
    def __init__(self, limits: Limits, network: str | None, admission: Admission, results: Results,
                 capabilities: Callable[[], dict[str, Any]], report: Callable[[str, Held | None, str | None], None],
                 clock: Callable[[], float]) -> None:
        self.limits, self.network, self.admission, self.results = limits, network, admission, results
        self.capabilities, self.report, self.clock = capabilities, report, clock
        self.forgotten: OrderedDict[str, str] = OrderedDict()  # dropped while TorchServe may still hold them: id -> form

    def arrive(self, item: Incoming) -> Chunk | Held:
        """What a request not held yet gets: its answer now, or a held job."""
        if not item.fields and item.request_id in self.forgotten:
            form = self.forgotten.pop(item.request_id)
            return forms.answer_for(form).fail("the server dropped this job; submit it again", 500, first=False)
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
                planned = request.parse_plan(item.fields, self.limits, self.network)
                stages = plan(planned.params, planned.content_wh)
                seconds = speed.estimate_seconds(stages, self.capabilities().get("speed"), planned.params.style_loss)
                return responses.plan(stages, planned.params.as_dict(), planned.max_iterations, seconds)
            job_request = request.parse(item.fields, item.accept, self.limits, item.repeated, network=self.network)
            need = self.admission.need(job_request)
        except FieldError as err:
            self.report("rejected", None, err.field)
            return responses.refusal(err)
        answer = forms.answer_for(job_request.response)
        job = job_request.job
        answer.planned(plan(job.params, job.content_wh))
        return Held(item.request_id, job_request, need, arrived=started, answer=answer, fault_at=item.fault_at,
                    decode_s=self.clock() - started, keeping=self.results.reserve(job_request.store))

    def forget(self, held: Held) -> None:
        """Remember a dropped job's form: TorchServe may call once more with it, and gets a proper ending."""
        self.forgotten[held.request_id] = held.request.response
        while len(self.forgotten) > FORGET_AFTER:
            self.forgotten.popitem(last=False)
