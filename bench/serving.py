"""TorchServe end-to-end vs a direct engine call for the same job (target: served <= 1.05 x direct).

Needs a running TorchServe (this module never starts one); the URL is the inference endpoint,
e.g. http://127.0.0.1:8080/predictions/style_transfer. Run it on the machine that serves, so both
sides use the same hardware.
"""

from __future__ import annotations

import time
from statistics import median
from typing import Any

import httpx
from stylize import images

from . import scenes
from .report import Runner, fmt, table


def job_fields(size: int, iterations: int, seed: int = 0, multiscale: bool = True) -> dict[str, str]:
    return {"size": str(size), "iterations": str(iterations), "multiscale": str(multiscale).lower(), "seed": str(seed), "response": "json"}


def post_job(url: str, size: int, iterations: int, timeout: float = 900.0) -> tuple[float, dict[str, Any]]:
    """POST one multipart job; returns (wall seconds, decoded JSON body)."""
    files = {"content": ("content.png", images.encode(scenes.content_image(size), "png"), "image/png"),
             "style": ("style.png", images.encode(scenes.style_image(size), "png"), "image/png")}
    started = time.perf_counter()
    response = httpx.post(url, files=files, data=job_fields(size, iterations), timeout=timeout)
    seconds = time.perf_counter() - started
    response.raise_for_status()
    return seconds, response.json()


def section(url: str, runner: Runner, size: int, iterations: int, repeats: int = 3) -> tuple[str, list[str]]:
    """Served and direct runs alternate (a shared CPU drifts); medians of ``repeats`` each.

    The handler reports the engine's own elapsed time, so the served wall time splits into the
    engine's run inside the worker and what TorchServe and HTTP add around it.
    """

    post_job(url, size, 2)  # warm-up: first request may pay lazy initialisation in the worker
    served: list[float] = []
    inside: list[float] = []
    direct: list[float] = []
    body: dict[str, Any] = {}
    for i in range(repeats):
        seconds, body = post_job(url, size, iterations)
        served.append(seconds)
        inside.append(float(body["elapsed_s"]))
        result = runner.run([{"id": f"direct-{i}", "kind": "engine", "size": size, "warmup": True,
                              "params": {"iterations": iterations, "multiscale": True}}])
        direct.append(result[f"direct-{i}"]["seconds"])
    direct_s, served_s, inside_s = median(direct), median(served), median(inside)
    overhead = median([s - e for s, e in zip(served, inside, strict=True)])
    # Each round's served and direct runs are neighbours in time: their ratio cancels most of the drift.
    paired = median([s / d for s, d in zip(served, direct, strict=True)])
    rows = [["direct Engine.run (fresh worker process, warmed up)", fmt(direct_s), "1", "–"],
            ["TorchServe POST (multipart, response=json), wall", fmt(served_s), fmt(served_s / direct_s),
             f"weights {body.get('weights', '?')}"],
            ["… of which the engine inside the TorchServe worker", fmt(inside_s), fmt(inside_s / direct_s), "the handler's elapsed_s"],
            ["… of which TorchServe + HTTP + encoding around it", fmt(overhead), fmt(overhead / direct_s), "wall − elapsed_s"]]
    target = f"TorchServe end-to-end ≤ 1.05 × direct (median of paired ratios): {paired:.3f} → {'MET' if paired <= 1.05 else 'MISSED'}"
    runs = ", ".join(f"{a:.2f}/{b:.2f} = {a / b:.3f}" for a, b in zip(served, direct, strict=True))
    return (f"### TorchServe end-to-end vs direct engine call ({size} px, {iterations} iterations, multiscale, seed 0; "
            f"median of {repeats}, served and direct alternating)\n\n"
            + table(["path", "seconds", "ratio to direct", "notes"], rows)
            + f"\n\nServed/direct seconds per round: {runs}. URL: {url}"), [target]
