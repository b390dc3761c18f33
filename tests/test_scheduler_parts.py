"""The scheduler's parts, each alone: admission by memory, the slice policy, dispatch of a request's first
call, and finishing a job. No engine run and no TorchServe: requests are parsed for real, runs are faked."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from images_util import content_image, style_image, to_bytes
from serving import forms, memory, speed
from serving.admission import Admission
from serving.dispatch import Dispatch, Incoming
from serving.finishing import Finisher
from serving.held import Held
from serving.request import Limits, parse
from serving.responses import Chunk
from serving.results import Results, ResultsSettings
from serving.slices import SlicePolicy
from stylize import Snapshot, StyleParams, fields, plan
from stylize import precision as arithmetic
from stylize.errors import FieldError

CONTENT, STYLE = to_bytes(content_image(64, 48)), to_bytes(style_image(40))
FP32 = arithmetic.Resolution("fp32", "test")
BF16 = arithmetic.Resolution("bf16", "test")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def held(rid: str, need: int = 10, started: float | None = None, iterations: int = 10, size: int = 32, **fields: str) -> Held:
    request = parse({"content": CONTENT, "style": STYLE, "size": str(size), "iterations": str(iterations), "response": "stream", **fields})
    return Held(rid, request, need, arrived=0.0, answer=forms.answer_for("stream"), started=started)


def lines(h: Held) -> list[dict]:
    return [json.loads(line) for line in str(h.answer.take()).splitlines()]


# -- admission ------------------------------------------------------------------------------------------

def test_admission_starts_in_arrival_order_and_tells_the_waiting_their_place() -> None:
    admission = Admission(100, lambda: FP32)
    a, b, c, d = held("a", 60), held("b", 60), held("c", 10), held("d", 40)
    admission.start_waiting([a, b, c, d], now=1.0)
    assert a.started == 1.0 and b.started is None
    assert c.started is None, "a small job must not overtake the big one at the head of the queue"
    assert [lines(h) for h in (b, c, d)] == [[{"event": "queued", "position": n}] for n in (1, 2, 3)]
    admission.start_waiting([a, b, c, d], now=2.0)
    assert [lines(h) for h in (b, c, d)] == [[], [], []]  # told again only when the place changes
    a.started = None  # a finished: its memory is free
    admission.start_waiting([b, c, d], now=3.0)
    assert b.started == 3.0 and c.started == 3.0 and d.started is None  # 60 + 10 fit, 40 more would not
    assert lines(d) == [{"event": "queued", "position": 1}]


def test_admission_sizes_a_job_in_its_own_arithmetic_and_refuses_what_never_fits() -> None:
    request = held("x").request
    fp32 = Admission(10**12, lambda: FP32).need(request)
    bf16 = Admission(10**12, lambda: BF16).need(request)
    assert bf16 < fp32  # precision=auto is sized as what this worker's auto runs as …
    assert request.job.params.precision == "auto"  # … while the job keeps auto for the engine's own fallback
    with pytest.raises(FieldError) as err:
        Admission(20 * memory.MIB, lambda: FP32).need(held("big", size=256).request)
    assert err.value.field == "size" and "at most" in err.value.message


def test_admission_waits_for_device_memory_beside_running_jobs() -> None:
    free = {"bytes": 5}
    admission = Admission(100, lambda: FP32, device_free=lambda: free["bytes"])
    a, b = held("a", 10, started=0.0), held("b", 10)
    admission.start_waiting([a, b], now=1.0)
    assert b.started is None
    free["bytes"] = 50
    admission.start_waiting([a, b], now=2.0)
    assert b.started == 2.0


# -- slices ---------------------------------------------------------------------------------------------

def test_slices_least_recently_advanced_first_and_a_second_to_the_least_work_left() -> None:
    clock = Clock()
    policy = SlicePolicy(0.5, call_budget_s=10.0, clock=clock)
    big, small, other = held("big", iterations=300, size=64), held("small", iterations=5), held("other", iterations=200)
    big.last_advanced, small.last_advanced, other.last_advanced = 3.0, 2.0, 1.0
    order = []
    for h in policy.turns([big, small, other]):
        order.append(h.request_id)
        clock.now += 0.5
    assert order == ["other", "small", "small", "big"]


def test_slices_stop_when_the_calls_time_is_used_and_the_rest_go_first_next_call() -> None:
    clock = Clock()
    policy = SlicePolicy(0.5, call_budget_s=1.0, clock=clock)
    jobs = [held(f"j{i}", iterations=100 + i) for i in range(4)]
    first = []
    for h in policy.turns(jobs):
        first.append(h.request_id)
        clock.now += 0.6
    assert first == ["j0", "j0"]  # j0 has the least work left: two slices, and the call's second is spent
    second = [h.request_id for h in policy.turns(jobs)]
    assert list(dict.fromkeys(second))[:3] == ["j1", "j2", "j3"]  # those not reached go first


# -- dispatch -------------------------------------------------------------------------------------------

@pytest.fixture
def dispatch(tmp_path: Path) -> Dispatch:
    results = Results(ResultsSettings(dir=str(tmp_path)))
    reported: list = []
    d = Dispatch(Limits(max_size=128), "vgg19", Admission(10**12, lambda: FP32), results,
                 capabilities=lambda: {"service": "style_transfer"}, report=lambda *a: reported.append(a), clock=Clock())
    d.reported = reported  # type: ignore[attr-defined]
    return d


def test_dispatch_answers_questions_at_once(dispatch: Dispatch) -> None:
    caps = dispatch.arrive(Incoming("1", {"response": b"capabilities"}))
    assert isinstance(caps, Chunk) and json.loads(caps.body) == {"service": "style_transfer"} and caps.first and caps.last
    planned = dispatch.arrive(Incoming("2", {"response": "plan", "size": "64", "width": "80", "height": "40", "multiscale": "false"}))
    assert isinstance(planned, Chunk)
    answer = json.loads(planned.body)
    assert answer["stages"] == [{"size": [64, 32], "iterations": 300}] and answer["event"] == "plan"
    assert answer["params"]["multiscale"] is False and answer["max_iterations"] == 2000
    assert answer["estimate_s"] is None  # this fake server reports no speed
    gone = dispatch.arrive(Incoming("3", {"response": "delete", "result": "A" * 22}, delete_token="t"))
    assert isinstance(gone, Chunk) and gone.status == 404


def test_a_plan_beyond_the_work_budget_is_refused_naming_iterations(tmp_path: Path) -> None:
    d = Dispatch(Limits(max_size=128, max_work=64 * 32 * 100), "vgg19", Admission(10**12, lambda: FP32),
                 Results(ResultsSettings(dir=str(tmp_path))), capabilities=lambda: {"speed": {"pixel_iterations_per_s": 2048}},
                 report=lambda *a: None, clock=Clock())
    ask = {"response": "plan", "size": "64", "width": "80", "height": "40", "multiscale": "false"}
    fits = json.loads(d.arrive(Incoming("1", {**ask, "iterations": "100"})).body)
    assert fits["max_iterations"] == 100 and fits["estimate_s"] == 100.0  # 64 x 32 px x 100 / 2048 px/s
    refused = d.arrive(Incoming("2", {**ask, "iterations": "101"}))
    assert isinstance(refused, Chunk) and refused.status == 400
    assert json.loads(refused.body)["message"] == ("iterations: size 64 x 101 iterations exceeds this server's work budget; "
                                                   "at this size at most 100 iterations")


def test_dispatch_refuses_by_field_and_reports_it(dispatch: Dispatch) -> None:
    refused = dispatch.arrive(Incoming("1", {"content": CONTENT, "style": STYLE, "size": "999"}))
    assert isinstance(refused, Chunk) and refused.status == 400
    assert json.loads(refused.body)["message"] == "size: must be between 16 and 128, got 999"
    assert dispatch.reported == [("rejected", None, "size")]  # type: ignore[attr-defined]


def test_dispatch_takes_a_job_on_with_its_plan_line_and_result_place(dispatch: Dispatch) -> None:
    taken = dispatch.arrive(Incoming("1", {"content": CONTENT, "style": STYLE, "size": "32", "iterations": "4", "response": "stream"}))
    assert isinstance(taken, Held) and taken.started is None and taken.need_bytes > 0
    assert lines(taken) == [{"event": "plan", "stages": [{"size": [32, 24], "iterations": 4}]}]
    assert taken.keeping is not None and len(taken.keeping.reserved.id) == 22


def test_a_forgotten_request_called_again_ends_in_its_own_form(dispatch: Dispatch) -> None:
    h = held("gone")
    dispatch.forget(h)
    again = dispatch.arrive(Incoming("gone", {}))
    assert isinstance(again, Chunk) and again.last and "submit it again" in str(again.body)


# -- finishing ------------------------------------------------------------------------------------------

def final_snapshot() -> Snapshot:
    return Snapshot(iteration=10, iterations=10, stage=1, stages=1, size=(32, 24), losses={"total": 1.0}, elapsed_s=2.0,
                    image=torch.rand(3, 24, 32), weights="vgg19/random-init", final=True, stopped="completed", precision="fp32")


def test_finishing_writes_the_done_record_and_keeps_the_result(tmp_path: Path) -> None:
    results = Results(ResultsSettings(dir=str(tmp_path)))
    clock = Clock()
    h = held("done")
    h.started, h.keeping = 1.0, results.reserve(True)
    Finisher(results, "RANDOM-INIT VGG19", clock).finish(h, final_snapshot())
    done = lines(h)[-1]
    assert done["event"] == "done" and done["stopped"] == "completed" and done["size"] == [32, 24]
    assert done["params"]["precision"] == "fp32" and done["timings"]["queued_s"] == 1.0
    assert done["result"]["url"] == f"/r/{h.keeping.reserved.id}" and (tmp_path / h.keeping.reserved.id / "final.png").is_file()
    assert h.done and h.run is None


def test_failing_marks_the_job_and_frees_its_run() -> None:
    h = held("bad")
    Finisher.fail(h, "out of memory", 507)
    assert h.done and (h.error, h.error_status) == ("out of memory", 507)
    chunk = h.answer.fail(h.error, h.error_status, first=False)
    assert json.loads(str(chunk.body).splitlines()[-1]) == {"event": "error", "message": "out of memory"}


# -- capabilities' derived entries ------------------------------------------------------------------

def test_a_server_taking_fewer_styles_lists_fewer_upload_fields() -> None:
    four = fields.as_dict(4)
    assert four["style"] == ["style", "style_2", "style_3", "style_4"] and four["max_styles"] == 4
    assert four["mask"][-1] == "mask_4" and four["style_mask"][0] == "style_mask"
    assert fields.as_dict()["style"][-1] == f"style_{fields.MAX_STYLES}"


def test_the_preview_is_the_largest_size_that_fits_the_target_then_fewer_iterations() -> None:
    fast = speed.preview({"pixel_iterations_per_s": 1e9}, max_size=1024, max_iterations=2000)
    assert fast["size"] == max(speed.PREVIEW_SIZES) and fast["iterations"] == speed.PREVIEW_ITERATIONS
    capped = speed.preview({"pixel_iterations_per_s": 1e9}, max_size=256, max_iterations=50)
    assert capped["size"] == 256 and capped["iterations"] == 50
    slow = speed.preview({"pixel_iterations_per_s": 1e5}, max_size=1024, max_iterations=2000)
    assert slow["size"] == min(speed.PREVIEW_SIZES) and speed.MIN_PREVIEW_ITERATIONS <= slow["iterations"] < 100
    middling = speed.preview({"pixel_iterations_per_s": 330_000}, max_size=1024, max_iterations=2000)
    assert middling["seconds"] <= speed.PREVIEW_TARGET_S and min(speed.PREVIEW_SIZES) < middling["size"] < max(speed.PREVIEW_SIZES)
    bigger = replace(StyleParams(), size=middling["size"] + 16, iterations=middling["iterations"])
    assert speed.estimate_seconds(plan(bigger, (bigger.size, bigger.size)), {"pixel_iterations_per_s": 330_000}, "gram") > 15


def test_a_job_whose_slices_overran_sits_out_until_the_others_caught_up() -> None:
    """One tile of a big stage cannot be cut short (~2.5 s at 2048 px on a 2-core CPU against 0.5 s slices): the
    big job pays it back by sitting out calls, so a small job beside it gets most of the device meanwhile."""
    clock = Clock()
    policy = SlicePolicy(0.5, call_budget_s=10.0, clock=clock)
    big, small = held("big", iterations=300, size=64), held("small", iterations=5)
    took = {"big": 2.5, "small": 0.5}
    ran: dict[str, float] = {"big": 0.0, "small": 0.0}
    calls_with_big = 0
    for _ in range(30):
        seen = set()
        for h in policy.turns([big, small]):
            clock.now += took[h.request_id]
            ran[h.request_id] += took[h.request_id]
            seen.add(h.request_id)
        calls_with_big += "big" in seen
        assert seen  # every call advances someone
    assert calls_with_big < 15  # in debt after each of its slices, it sat out the calls that followed
    assert ran["small"] > 1.5 * ran["big"]  # without credit: 30 s against 75 s
    alone = SlicePolicy(0.5, call_budget_s=10.0, clock=clock)
    assert [h.request_id for h in alone.turns([big])] == ["big"]  # alone, a job in debt still runs
