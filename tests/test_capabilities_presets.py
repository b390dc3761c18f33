"""The simple mode's size presets and Strength range in /capabilities: computed from the server's measured
speed with the engine's own planner, so the web app holds no copy (fast: no network, no engine run)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from serving import capabilities, speed
from serving.memory import MIB
from serving.request import Limits
from stylize import StyleParams, WeightsInfo, plan

GIB = 1024 * MIB


def presets(rate: float, limits: Limits | None = None, max_size: int = 4096) -> list[dict]:
    limits = limits or Limits()
    speed_doc = {"pixel_iterations_per_s": rate, "style_loss_s_per_iteration": {}}
    first_run = speed.preview(speed_doc, limits.max_size, limits.max_iterations)
    return capabilities.size_presets(speed_doc, limits, max_size, first_run)


def seconds(rate: float, size: int, iterations: int) -> float:
    job = replace(StyleParams(), size=size, iterations=iterations)
    content = (size, round(size * capabilities.PRESET_ASPECT))
    return speed.estimate_seconds(plan(job, content), {"pixel_iterations_per_s": rate}, "gram") or 0.0


@pytest.mark.parametrize("rate", [330_000, 1_000_000, 2_000_000])
def test_standard_is_the_largest_size_taking_about_half_a_minute(rate: float) -> None:
    found = {p["name"]: p for p in presets(rate)}
    assert list(found) == ["preview", "standard", "large"]
    standard = found["standard"]
    assert standard["default"] and not found["preview"]["default"] and not found["large"]["default"]
    assert standard["estimate_s"] == seconds(rate, standard["size"], standard["iterations"])
    assert standard["estimate_s"] <= capabilities.STANDARD_TARGET_S
    # the next size up would take longer than the target (unless the work budget cut its iterations)
    bigger = standard["size"] + 32
    most = Limits().max_work // (bigger * bigger)
    assert seconds(rate, bigger, min(StyleParams().iterations, most)) > capabilities.STANDARD_TARGET_S
    assert found["preview"]["size"] <= standard["size"] < found["large"]["size"]
    assert found["large"]["estimate_s"] <= capabilities.LARGE_TARGET_S
    assert [p["label"] for p in found.values()] == ["Preview", "Standard", "Large"]


def test_this_cpus_speed_gives_a_standard_near_512_px() -> None:
    # the new user's figure: a 512 px default job took about 31 s on this machine (issue 30)
    standard = next(p for p in presets(1_000_000) if p["default"])
    assert 448 <= standard["size"] <= 576, standard


def test_a_fast_server_offers_no_size_the_work_budget_would_cut_short() -> None:
    found = presets(20_000_000)
    full = StyleParams().iterations
    assert all(p["iterations"] == full for p in found if p["name"] != "preview")
    assert max(p["size"] for p in found) ** 2 * full <= Limits().max_work


def test_presets_stay_within_memory_the_work_budget_and_the_iteration_cap() -> None:
    limits = Limits(max_iterations=150, max_work=640 * 640 * 150)
    found = presets(1e9, limits, max_size=600)
    assert all(p["size"] <= 600 and p["iterations"] <= 150 and p["size"] ** 2 * p["iterations"] <= limits.max_work for p in found)
    assert found[-1]["size"] == 576  # the largest 32 px step within memory's 600


@pytest.mark.parametrize("rate", [20_000, 100_000, 330_000])
def test_a_slow_server_gives_no_duplicates_and_one_default(rate: float) -> None:
    found = presets(rate, max_size=4096)
    jobs = [(p["size"], p["iterations"]) for p in found]
    assert len(jobs) == len(set(jobs)) and sum(p["default"] for p in found) == 1
    assert [p["size"] for p in found] == sorted(p["size"] for p in found)
    default = next(p for p in found if p["default"])
    assert default["estimate_s"] <= capabilities.STANDARD_TARGET_S or default["name"] == "preview"


def test_without_a_measured_speed_the_default_size_and_no_estimate() -> None:
    found = presets(0)
    assert [p["size"] for p in found] == [256, 512, 1024]
    assert all(p["estimate_s"] is None for p in found)
    assert next(p for p in found if p["default"])["size"] == StyleParams().size


def test_the_document_carries_presets_and_strength() -> None:
    info = WeightsInfo(provenance="random-init", seed=0, torchvision=torch.__version__, source="test", network="vgg16")
    doc = capabilities.document(weights=info, device=torch.device("cpu"), limits=Limits(), batch_size=1,
                                budget_bytes=4 * GIB, slice_s=0.5, pixel_iterations_per_s=2_600_000)
    assert doc["size_presets"] and sum(p["default"] for p in doc["size_presets"]) == 1
    assert all(p["size"] <= doc["sizes"]["max_size"] for p in doc["size_presets"])
    spec = StyleParams.schema()["style_weight"]
    strength = doc["strength"]
    assert strength["field"] == "style_weight" and strength["default"] == spec["default"]
    assert spec["min"] <= strength["min"] < strength["default"] < strength["max"] <= spec["max"]


@pytest.mark.parametrize("rate", [0.0, 1_000_000])
def test_a_server_whose_memory_fits_no_job_offers_no_size_and_still_answers(rate: float) -> None:
    """A budget too small for any size (the sizes' max_size is 0) once divided by zero here, and every
    capabilities question failed with TorchServe's 503."""
    assert presets(rate, max_size=0) == []
