"""A request's first call: a question answered at once (capabilities, plan, delete, a kept job's status or
cancel), a job refused with the field to fix (or over a kept-job cap: 429), or a job taken on (parsed, sized
for admission, given its place in the result store; a kept job's status written there)."""

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
from .kept import TooMany
from .request import Limits
from .responses import Chunk
from .results import Results

_NO_KEPT = {"code": 404, "type": "NotFound", "message": "result: this server keeps no jobs"}
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
    cancel_token: str | None = None  # X-Cancel-Token of a response=cancel request
    client: str | None = None  # the sender's address as the front saw it (X-Real-IP): kept-job caps


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
            if question == request.DOWNLOAD:
                return self._download(request.parse_download(item.fields))
            if question in (request.STATUS, request.CANCEL):
                return self._kept_question(question, item)
            if question == request.PLAN:
                planned = request.parse_plan(item.fields, self.limits, self.network)
                stages = plan(planned.params, planned.content_wh)
                seconds = speed.estimate_seconds(stages, self.capabilities().get("speed"), planned.params.style_loss, self.admission.tiling)
                return responses.plan(stages, planned.params.as_dict(), planned.max_iterations, seconds)
            job_request = request.parse(item.fields, item.accept, self.limits, item.repeated, network=self.network)
            need = self.admission.need(job_request)
            if job_request.keep:
                if self.results.kept is None:
                    raise FieldError("keep", "this server keeps no results, so it cannot keep jobs (handler.results or handler.kept is off)")
                self.results.kept.check_caps(item.client or "direct")
        except FieldError as err:
            self.report("rejected", None, err.field)
            return responses.refusal(err)
        except TooMany as over:
            self.report("rejected", None, "keep")
            return responses.too_many(str(over), over.retry_after_s)
        answer = forms.answer_for(job_request.response)
        job = job_request.job
        stages = plan(job.params, job.content_wh)
        keeping = self.results.reserve(job_request.store, keep=job_request.keep)
        if keeping is not None and keeping.kept:
            assert self.results.kept is not None and keeping.cancel_token is not None
            self.results.kept.begin(keeping.reserved.id, keeping.cancel_token, item.client or "direct", stages)
        answer.planned(stages, keeping.kept_record() if keeping is not None and keeping.kept else None)
        return Held(item.request_id, job_request, need, arrived=started, answer=answer, fault_at=item.fault_at,
                    decode_s=self.clock() - started, keeping=keeping, stages=stages)

    def _kept_question(self, question: str, item: Incoming) -> Chunk:
        """A kept job's status or cancel: answered from the shared store, whichever worker holds the job."""
        kept = self.results.kept
        if question == request.STATUS:
            result_id = request.parse_status(item.fields)
            status, body = kept.status_answer(result_id) if kept is not None else (404, _NO_KEPT)
        else:
            asked = request.parse_delete(item.fields, item.cancel_token, request.CANCEL)
            status, body = kept.cancel(asked.result_id, asked.token) if kept is not None else (404, _NO_KEPT)
        return responses.document(body, status)

    def _download(self, asked: request.DownloadQuestion) -> Chunk:
        """A stored result's picture, PNG or JPEG of a chosen quality, as an attachment."""
        status, body, media = self.results.download(asked.result_id, asked.format, asked.quality)
        if isinstance(body, dict):
            return responses.document(body, status)
        extension = "png" if asked.format == "png" else "jpg"
        return Chunk(body, first=True, last=True, status=status, content_type=media,
                     headers={"Content-Disposition": f'attachment; filename="stylized-{asked.result_id}.{extension}"'})

    def forget(self, held: Held) -> None:
        """Remember a dropped job's form: TorchServe may call once more with it, and gets a proper ending."""
        self.forgotten[held.request_id] = held.request.response
        while len(self.forgotten) > FORGET_AFTER:
            self.forgotten.popitem(last=False)
